"""The supervision line: a company-level case, over the office's head."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from contracts import Channel
from contracts.submissions import SubmissionFormat
from services.intake.adapters import Accepted, Caller, Refused, judge

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


def case(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "case_no": "JD202610-0007",
        "received_by": "PZ02",
        "received_at": "2026-10-05T10:05:00+08:00",
        "complainant": {"name": "林女士", "phone": "13922334455"},
        "office": "*湾花园",
        "unit": "A座1603",
        "subject": "外墙清洗",
        "description": "外墙清洗没有按时进行，多次向管理处反映未果",
        "demand": "给出外墙清洗的具体时间",
    }
    body.update(overrides)
    return body


async def judged(channel: Channel, fmt: SubmissionFormat, body: dict[str, Any]) -> Any:
    async def no_directory(_: str) -> Caller | None:
        return None

    return await judge(
        channel,
        fmt,
        orjson.dumps(body),
        received_at=NOW,
        clock_skew=timedelta(minutes=5),
        lookup=no_directory,
    )


async def test_case_is_marked_over_the_head_with_the_staff_member_who_took_it() -> None:
    verdict = await judged(Channel.SUPERVISION, SubmissionFormat.SUPERVISION_CASE, case())
    assert isinstance(verdict, Accepted)
    event = verdict.received
    assert event.over_the_head and event.channel is Channel.SUPERVISION
    assert event.channel_refs.agent_id == "PZ02"
    assert event.submission_id == "JD202610-0007"
    assert event.description == "外墙清洗没有按时进行，多次向管理处反映未果"
    assert event.address.building == "A座" and event.address.room == "1603"


async def test_case_with_a_bad_phone_and_no_description_is_refused_naming_both() -> None:
    body = case(complainant={"name": "林女士", "phone": "0755-123"}, description="")
    verdict = await judged(Channel.SUPERVISION, SubmissionFormat.SUPERVISION_CASE, body)
    assert isinstance(verdict, Refused)
    assert {r.field for r in verdict.reasons} == {"complainant.phone", "description"}


async def test_generic_submission_by_the_supervision_line_is_over_the_head_too() -> None:
    body = case()
    body["submission_id"] = body.pop("case_no")
    body["occurred_at"] = body.pop("received_at")
    del body["received_by"]
    verdict = await judged(Channel.SUPERVISION, SubmissionFormat.SUBMISSION, body)
    assert isinstance(verdict, Accepted) and verdict.received.over_the_head
    by_hotline = await judged(Channel.HOTLINE, SubmissionFormat.SUBMISSION, body)
    assert isinstance(by_hotline, Accepted) and not by_hotline.received.over_the_head

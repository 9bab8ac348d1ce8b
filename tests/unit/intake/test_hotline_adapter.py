"""The hotline adapter: a call as the agent recorded it, completed from the caller directory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from contracts import Channel, complaint_id_for
from contracts.submissions import HotlineCall, SubmissionFormat
from services.intake.adapters import Accepted, Caller, Refused, decide, judge
from tests.unit.intake.samples import hotline_call as call

NOW = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
SKEW = timedelta(minutes=5)
KNOWN = Caller(name="何先生", office="Y园", unit="3栋1单元502")


async def judged(body: dict[str, Any], directory: dict[str, Caller] | None = None) -> Any:
    async def lookup(phone: str) -> Caller | None:
        return (directory or {}).get(phone)

    return await judge(
        Channel.HOTLINE,
        SubmissionFormat.HOTLINE_CALL,
        orjson.dumps(body),
        received_at=NOW,
        clock_skew=SKEW,
        lookup=lookup,
    )


async def test_call_maps_onto_the_register_keeping_call_and_agent_refs() -> None:
    verdict = await judged(call())
    assert isinstance(verdict, Accepted)
    event = verdict.received
    assert event.channel is Channel.HOTLINE and event.submission_id == "CC20261005-0042"
    assert event.description == "业主来电反映：楼上经常有牛奶盒从上空坠下"
    assert event.complainant.phone == "13812345678"  # normalised from +86 138-1234-5678
    assert event.channel_refs.call_id == "CC20261005-0042"
    assert event.channel_refs.agent_id == "KF017"
    assert event.occurred_at == datetime(2026, 10, 5, 9, 12, tzinfo=UTC)
    assert event.address.building == "3栋" and not event.over_the_head
    assert event.photos == [] and event.owner_category is None


async def test_call_without_name_office_or_unit_is_completed_from_the_directory() -> None:
    body = call(caller_name=None, office=None, unit=None)
    verdict = await judged(body, {"13812345678": KNOWN})
    assert isinstance(verdict, Accepted)
    assert verdict.received.complainant.name == "何先生"
    assert (verdict.received.office, verdict.received.unit) == ("Y园", "3栋1单元502")


async def test_what_the_agent_recorded_wins_over_the_directory() -> None:
    verdict = await judged(call(caller_name="何太太", unit=None), {"13812345678": KNOWN})
    assert isinstance(verdict, Accepted)
    assert verdict.received.complainant.name == "何太太"
    assert verdict.received.unit == "3栋1单元502"


async def test_unknown_number_without_name_is_refused_naming_each_missing_field() -> None:
    verdict = await judged(call(caller_name=None, office=None), {})
    assert isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["caller_name", "office"]
    assert "directory" in verdict.reasons[0].reason
    assert verdict.submission_id == "CC20261005-0042"


async def test_bad_caller_number_is_refused_under_the_hotlines_own_field_name() -> None:
    verdict = await judged(call(caller_number="138123456", summary=""))
    assert isinstance(verdict, Refused)
    assert {r.field for r in verdict.reasons} == {"caller_number", "summary"}
    assert all("138123456" not in r.reason for r in verdict.reasons)  # no input quoted


async def test_call_starting_in_the_future_is_refused_naming_call_started_at() -> None:
    verdict = await judged(call(call_started_at="2026-10-05T17:40:00+08:00"))
    assert isinstance(verdict, Refused)
    assert [(r.field, r.reason) for r in verdict.reasons] == [
        ("call_started_at", "lies in the future")
    ]


async def test_same_call_is_the_same_complaint_and_the_same_id_elsewhere_is_not() -> None:
    first, again = await judged(call()), await judged(call(summary="重复来电"))
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert (first.complaint_id, first.event_id) == (again.complaint_id, again.event_id)
    assert first.complaint_id == complaint_id_for(Channel.HOTLINE, "CC20261005-0042")
    assert first.complaint_id != complaint_id_for(Channel.APP, "CC20261005-0042")


def test_directory_is_not_asked_when_the_agent_recorded_everything() -> None:
    payload = HotlineCall.model_validate(call())
    verdict = decide(Channel.HOTLINE, payload, received_at=NOW, clock_skew=SKEW, caller=None)
    assert isinstance(verdict, Accepted)

"""The owners' app adapter: photos as references, the owner's category, the account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from contracts import Channel, ServiceCategory
from contracts.submissions import SubmissionFormat
from services.intake.adapters import Accepted, Caller, Refused, judge
from tests.unit.intake.samples import app_complaint as complaint

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)


async def judged(body: dict[str, Any] | bytes) -> Any:
    async def no_directory(_: str) -> Caller | None:
        raise AssertionError("the app never needs the caller directory")

    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return await judge(
        Channel.APP,
        SubmissionFormat.APP_COMPLAINT,
        raw,
        received_at=NOW,
        clock_skew=timedelta(minutes=5),
        lookup=no_directory,
    )


async def test_app_complaint_keeps_photo_references_chosen_category_and_account() -> None:
    verdict = await judged(complaint())
    assert isinstance(verdict, Accepted)
    event = verdict.received
    assert event.photos == ["oss://owner-photos/2026/10/a.jpg", "https://img.example.cn/p/b.png"]
    assert event.owner_category is ServiceCategory.ENVIRONMENT
    assert event.channel_refs.account_id == "U0012345"
    assert event.channel_refs.call_id is None
    assert (event.subject, event.description) == ("垃圾清运", "垃圾桶满了溢到地上，很臭")
    assert event.complainant.name == "林女士" and event.submission_id == "APP-7781"
    assert event.address.building == "12幢" and event.address.room == "1101"


async def test_category_may_be_given_by_its_chinese_label_and_names_the_subject() -> None:
    verdict = await judged(complaint(category="车辆交通服务", title=None))
    assert isinstance(verdict, Accepted)
    assert verdict.received.owner_category is ServiceCategory.VEHICLES_TRAFFIC
    assert verdict.received.subject == "车辆交通服务"


@pytest.mark.parametrize(
    "photo",
    [
        "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD",
        "/9j/" + "A" * 600,  # base64 bytes without a data: prefix
        "not a reference",
    ],
)
async def test_photo_sent_as_bytes_or_not_a_reference_is_refused(photo: str) -> None:
    verdict = await judged(complaint(photos=["oss://owner-photos/ok.jpg", photo]))
    assert isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["photos.1"]


async def test_more_than_nine_photos_are_refused() -> None:
    verdict = await judged(complaint(photos=[f"oss://p/{n}.jpg" for n in range(10)]))
    assert isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["photos"]


async def test_every_fault_is_named_at_once() -> None:
    body = complaint(category="绿化养护", owner_phone="1392233445", text="")
    del body["unit"]
    verdict = await judged(body)
    assert isinstance(verdict, Refused)
    assert {r.field for r in verdict.reasons} == {"category", "owner_phone", "text", "unit"}
    assert verdict.submission_id == "APP-7781"  # still named, for the rejected list


async def test_the_app_cannot_choose_the_channel_in_the_body() -> None:
    verdict = await judged(complaint(channel="supervision"))
    assert isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["channel"]


async def test_resubmitted_app_complaint_gets_the_same_ids() -> None:
    first = await judged(complaint())
    again = await judged(complaint(text="补充：今天还是没清"))
    assert isinstance(first, Accepted) and isinstance(again, Accepted)
    assert (first.complaint_id, first.event_id) == (again.complaint_id, again.event_id)


async def test_body_that_is_not_json_is_refused_naming_the_body() -> None:
    verdict = await judged(b'{"app_complaint_id": "APP-1", "owner')
    assert isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["body"]
    assert verdict.submission_id is None

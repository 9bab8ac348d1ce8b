"""The submissions topic: records authenticated by signature, judged like HTTP submissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import ConsumerRecord

from contracts import Channel
from contracts.submissions import (
    RecordRef,
    SubmissionFormat,
    record_headers,
    rejection_id,
    sign,
)
from services.intake.adapters import Accepted, Refused
from services.intake.consumer import InboundRecord, inbound_of, judge_record
from services.intake.settings import IntakeSettings
from services.runtime.settings import Environment

SETTINGS = IntakeSettings(env=Environment.LOCAL)
PUBLISHED = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)
CASE = {
    "case_no": "JD-0001",
    "received_by": "PZ01",
    "received_at": "2026-10-05T10:55:00+08:00",
    "complainant": {"name": "林女士", "phone": "13922334455"},
    "office": "*湾花园",
    "unit": "A座1603",
    "subject": "外墙清洗",
    "description": "外墙清洗没有按时进行",
}


class NoDirectory:
    """Stands in for the database connection: the directory knows nobody."""

    async def fetchrow(self, *_: Any) -> None:
        return None


def record(value: bytes, headers: list[tuple[str, bytes]], *, offset: int = 7) -> InboundRecord:
    raw: ConsumerRecord[bytes, bytes] = ConsumerRecord(
        topic="complaints.submissions",
        partition=2,
        offset=offset,
        timestamp=int(PUBLISHED.timestamp() * 1000),
        timestamp_type=0,
        key=b"supervision:JD-0001",
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=headers,
    )
    return inbound_of(raw)


def signed(
    body: dict[str, Any], channel: Channel, key: str, fmt: SubmissionFormat
) -> InboundRecord:
    value = orjson.dumps(body)
    return record(value, record_headers(channel, key, fmt, value))


async def judged(inbound: InboundRecord) -> tuple[Channel | None, str | None, Any]:
    return await judge_record(SETTINGS, inbound, NoDirectory())  # type: ignore[arg-type]


async def test_record_signed_with_its_channels_key_becomes_the_complaint() -> None:
    inbound = signed(
        CASE, Channel.SUPERVISION, "dev-supervision", SubmissionFormat.SUPERVISION_CASE
    )
    channel, declared, verdict = await judged(inbound)
    assert channel is Channel.SUPERVISION and declared == "supervision.case"
    assert isinstance(verdict, Accepted) and verdict.received.over_the_head


async def test_record_signed_with_another_key_names_no_channel_and_says_why() -> None:
    inbound = signed(CASE, Channel.SUPERVISION, "dev-app", SubmissionFormat.SUPERVISION_CASE)
    channel, _, verdict = await judged(inbound)
    assert channel is None and isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["header x-signature"]
    assert verdict.submission_id == "JD-0001"


async def test_record_without_channel_or_signature_names_both_headers() -> None:
    inbound = record(orjson.dumps(CASE), [("x-submission-format", b"supervision.case")])
    _, _, verdict = await judged(inbound)
    assert isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["header x-channel", "header x-signature"]


async def test_a_channel_may_not_send_another_channels_format() -> None:
    inbound = signed(CASE, Channel.HOTLINE, "dev-hotline", SubmissionFormat.SUPERVISION_CASE)
    channel, _, verdict = await judged(inbound)
    assert channel is Channel.HOTLINE and isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["header x-submission-format"]
    assert verdict.submission_id == "JD-0001"


async def test_a_payload_in_another_format_than_declared_is_refused_for_the_header_only() -> None:
    call = {"call_id": "CC-9", "caller_number": "13812345678", "summary": "x"}
    inbound = signed(call, Channel.HOTLINE, "dev-hotline", SubmissionFormat.APP_COMPLAINT)
    _, declared, verdict = await judged(inbound)
    assert declared == "app.complaint" and isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["header x-submission-format"]
    assert verdict.submission_id == "CC-9"  # still found, for the rejected list


async def test_bytes_that_are_not_json_are_a_rejection_naming_the_body() -> None:
    value = b"\xff\xfe{not json"
    inbound = record(
        value, record_headers(Channel.APP, "dev-app", SubmissionFormat.APP_COMPLAINT, value)
    )
    channel, _, verdict = await judged(inbound)
    assert channel is Channel.APP and isinstance(verdict, Refused)
    assert [r.field for r in verdict.reasons] == ["body"]


async def test_future_is_judged_against_when_the_channel_published_not_when_read() -> None:
    later = {**CASE, "received_at": "2026-10-05T11:30:00+08:00"}  # 30 min after publishing
    inbound = signed(
        later, Channel.SUPERVISION, "dev-supervision", SubmissionFormat.SUPERVISION_CASE
    )
    _, _, verdict = await judged(inbound)
    assert isinstance(verdict, Refused)
    assert [(r.field, r.reason) for r in verdict.reasons] == [("received_at", "lies in the future")]


async def test_generic_format_is_assumed_when_the_record_names_none() -> None:
    body = {k: v for k, v in CASE.items() if k not in ("case_no", "received_by", "received_at")}
    body |= {"submission_id": "JD-0001", "occurred_at": CASE["received_at"]}
    value = orjson.dumps(body)
    headers = [
        ("x-channel", b"supervision"),
        ("x-signature", sign("dev-supervision", value).encode()),
    ]
    _, declared, verdict = await judged(record(value, headers))
    assert declared is None and isinstance(verdict, Accepted)


def test_development_keys_do_not_sign_records_outside_local_mode() -> None:
    production = IntakeSettings(env=Environment.PRODUCTION, intake_api_keys={Channel.APP: "k-app"})
    assert production.key_of(Channel.APP) == "k-app"
    assert production.key_of(Channel.HOTLINE) is None
    assert SETTINGS.key_of(Channel.HOTLINE) == "dev-hotline"


def test_a_records_place_fixes_its_ids() -> None:
    first = record(b"x", [], offset=7)
    assert first.ref == RecordRef(topic="complaints.submissions", partition=2, offset=7)
    assert rejection_id(first.ref) == rejection_id(record(b"y", [], offset=7).ref)
    assert rejection_id(first.ref) != rejection_id(record(b"x", [], offset=8).ref)
    assert first.published_at == PUBLISHED and first.headers == {}
    assert SETTINGS.rejections_topic == f"{SETTINGS.topic_submissions}.rejected"
    assert timedelta(0) < SETTINGS.intake_clock_skew

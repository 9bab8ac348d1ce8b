"""The envelope, decoding, upcasting, and the facts of a complaint."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from pydantic import ValidationError

from contracts import (
    Channel,
    ComplaintReceived,
    ServiceCategory,
    UnknownEventError,
    Validity,
    complaint_id_for,
    decode_event,
    encode_event,
    new_envelope,
    received_event_id,
)
from contracts.envelope import (
    _ALL,
    _LATEST,
    _UPCASTERS,
    EventData,
    envelope_json,
    event,
    latest_version,
    registered_events,
    upcaster,
)
from contracts.intake import (
    Address,
    ComplaintReceivedV1,
    ComplaintReceivedV3,
    Submission,
    mask_name,
    mask_phone,
    normalise_phone,
)

FACTS: dict[str, Any] = {
    "submission_id": "call-20260105-0042",
    "office": "Y园",
    "unit": "3栋1单元502",
    "complainant": {"name": "何先生", "phone": "138 1234 5678"},
    "subject": "高空抛物",
    "description": "楼上经常有牛奶盒、麻将从上空坠下",
    "demand": "安装摄像头",
    "occurred_at": "2026-01-05T09:12:00+08:00",
}


def received() -> ComplaintReceivedV3:
    return ComplaintReceivedV3.from_submission(Channel.HOTLINE, Submission.model_validate(FACTS))


def test_same_submission_of_same_channel_gets_same_ids() -> None:
    a = complaint_id_for(Channel.HOTLINE, "call-1")
    assert a == complaint_id_for(Channel.HOTLINE, "call-1")
    assert a != complaint_id_for(Channel.APP, "call-1")
    assert a != complaint_id_for(Channel.HOTLINE, "call-2")
    assert received_event_id(a) == received_event_id(a) != a


def test_event_round_trips_through_the_log_bytes() -> None:
    data = received()
    cid = complaint_id_for(Channel.HOTLINE, data.submission_id)
    env = new_envelope(
        data,
        event_id=received_event_id(cid),
        complaint_id=cid,
        occurred_at=data.occurred_at,
        recorded_at=datetime.now(UTC),
        source="intake/hotline",
    )
    envelope, decoded = decode_event(encode_event(env))
    assert envelope == env
    # read back as the newest version (in clear, as version 3 wrote it), every value kept
    assert isinstance(decoded, ComplaintReceived)
    assert decoded.model_dump() == data.model_dump()
    assert envelope.type == "ComplaintReceived" and envelope.schema_version == 3


@pytest.mark.parametrize("raw", [b"\xff\xfe not json", b"[]", b'{"type": "ComplaintReceived"}'])
def test_bytes_that_are_not_an_event_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_event(raw)


def test_unknown_event_type_is_refused() -> None:
    env = new_envelope(
        received(),
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        source="t",
    )
    raw = encode_event(env.model_copy(update={"type": "ComplaintTeleported"}))
    with pytest.raises(UnknownEventError, match="ComplaintTeleported"):
        decode_event(raw)


def test_old_version_is_upcast_to_the_newest_shape_on_read() -> None:
    @event
    class V1(EventData):
        event_type: ClassVar[str] = "UpcastProbe"
        schema_version: ClassVar[int] = 1
        address: str

    @event
    class V2(EventData):
        event_type: ClassVar[str] = "UpcastProbe"
        schema_version: ClassVar[int] = 2
        building: str
        room: str

    @upcaster("UpcastProbe", 1)
    def split(data: dict[str, Any]) -> dict[str, Any]:
        building, room = data["address"].split("-")
        return {"building": building, "room": room}

    try:
        old = new_envelope(
            V1(address="3栋-502"),
            event_id=uuid.uuid4(),
            complaint_id=uuid.uuid4(),
            occurred_at=datetime.now(UTC),
            recorded_at=datetime.now(UTC),
            source="t",
        )
        envelope, data = decode_event(encode_event(old))
        assert envelope.schema_version == 1  # the stored event is not rewritten
        assert data == V2(building="3栋", room="502")
    finally:
        del _ALL[("UpcastProbe", 1)], _ALL[("UpcastProbe", 2)], _LATEST["UpcastProbe"]
        del _UPCASTERS[("UpcastProbe", 1)]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("0755-8888 1234", "075588881234"),
    ],
)
def test_mainland_phone_numbers_are_normalised(given: str, stored: str) -> None:
    assert normalise_phone(given) == stored


@pytest.mark.parametrize("bad", ["12345", "1381234567", "+1 415 555 0100", "phone", "23812345678"])
def test_phone_numbers_not_valid_in_mainland_china_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_phone(bad)


def test_personal_data_is_masked_for_reports() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("何先生") == "何**"


def test_submission_errors_name_each_field() -> None:
    bad = {**FACTS, "complainant": {"name": "", "phone": "x"}, "office": ""}
    del bad["occurred_at"]
    with pytest.raises(ValidationError) as info:
        Submission.model_validate(bad)
    fields = {".".join(map(str, e["loc"])) for e in info.value.errors()}
    assert fields == {"office", "complainant.name", "complainant.phone", "occurred_at"}


def test_time_without_utc_offset_is_refused() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        Submission.model_validate({**FACTS, "occurred_at": "2026-01-05T09:12:00"})


def test_enums_carry_the_zh_cn_words_of_the_users() -> None:
    assert len(ServiceCategory) == 11
    assert ServiceCategory.FACILITIES.label == "设施设备维护"
    assert Validity.labels() == {
        "valid": "有效投诉",
        "assist": "协助处理投诉",
        "invalid": "无效投诉",
    }
    assert Channel.SUPERVISION.is_over_the_head and not Channel.HOTLINE.is_over_the_head


STORED = Path(__file__).parent / "stored_events"


def test_every_old_event_version_has_a_stored_sample_that_still_decodes() -> None:
    old = [
        (event_type, version)
        for (event_type, version) in registered_events()
        if version < latest_version(event_type).schema_version
    ]
    assert old, "no event has an old version yet"
    for event_type, version in old:
        raw = (STORED / f"{event_type}.v{version}.json").read_bytes()
        envelope, data = decode_event(raw)
        assert envelope.schema_version == version  # read as stored, never rewritten
        assert type(data) is latest_version(event_type)


def test_stored_v1_complaint_is_upcast_with_its_address_parsed_from_the_unit() -> None:
    raw = (STORED / "ComplaintReceived.v1.json").read_bytes()
    _, data = decode_event(raw)
    assert isinstance(data, ComplaintReceived)
    assert data.address == Address(building="3栋", entrance="1单元", room="502")
    assert data.unit == "3栋1单元502" and data.channel is Channel.HOTLINE


def test_intake_writes_the_newest_version_with_the_same_facts_as_v1_had() -> None:
    newest = received()
    added_since_v1 = {"address", "over_the_head", "photos", "owner_category", "channel_refs"}
    v1 = ComplaintReceivedV1.model_validate(newest.model_dump(exclude=added_since_v1))
    env = new_envelope(
        v1,
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=v1.occurred_at,
        recorded_at=datetime.now(UTC),
        source="t",
    )
    assert decode_event(encode_event(env))[1].model_dump() == newest.model_dump()


@pytest.mark.parametrize(
    ("unit", "building", "entrance", "room"),
    [
        ("3栋1单元502", "3栋", "1单元", "502"),
        ("12幢2单元1101室", "12幢", "2单元", "1101"),
        ("A座1603", "A座", None, "1603"),
        ("5号楼 302", "5号楼", None, "302"),
        ("别墅区B12号", None, None, None),
        ("3栋" + "0" * 21, "3栋", None, None),  # found by hypothesis: used to raise
    ],
)
def test_unit_text_is_parsed_into_building_entrance_and_room(
    unit: str, building: str | None, entrance: str | None, room: str | None
) -> None:
    assert Address.parse(unit) == Address(building=building, entrance=entrance, room=room)


@pytest.mark.parametrize("sample", sorted(STORED.glob("*.json")), ids=lambda p: p.stem)
def test_the_history_row_of_an_event_read_from_the_log_is_the_document_it_was_read_from(
    sample: Path,
) -> None:
    """``envelope_json`` gives back what ``decode_event`` read (old versions as stored, not
    upcast): the same document as writing the envelope again."""
    raw = sample.read_bytes()
    envelope, _ = decode_event(raw)
    kept = envelope_json(envelope)
    assert kept == raw.decode()
    written = orjson.loads(envelope.model_dump_json())
    assert orjson.loads(kept) == written == orjson.loads(envelope_json(envelope.model_copy()))
    moved = envelope.model_copy(update={"source": "elsewhere"})
    assert orjson.loads(envelope_json(moved)) == {**written, "source": "elsewhere"}


@pytest.mark.parametrize("sample", sorted(STORED.glob("*.json")), ids=lambda p: p.stem)
def test_an_event_is_written_to_the_log_as_pydantic_writes_its_envelope(sample: Path) -> None:
    """``encode_event`` writes with orjson: the bytes pydantic's ``model_dump_json`` writes,
    for an envelope built here (not read from the log) with instants in UTC and in +08:00."""
    read, body = decode_event(sample.read_bytes())
    for offset in (UTC, timezone(timedelta(hours=8))):
        fresh = new_envelope(
            body,
            event_id=read.event_id,
            complaint_id=read.complaint_id,
            occurred_at=read.occurred_at.astimezone(offset),
            recorded_at=datetime(2026, 12, 7, 20, 31, 5, 123456, tzinfo=offset),
            source="intake/hotline",
            correlation_id=read.complaint_id,
        )
        assert encode_event(fresh) == fresh.model_dump_json().encode()
        assert decode_event(encode_event(fresh))[1] == body


def test_an_event_read_from_the_log_is_written_again_as_it_was_read() -> None:
    raw = (STORED / "ComplaintReceived.v1.json").read_bytes()
    envelope, _ = decode_event(raw)
    assert encode_event(envelope) == raw
    moved = envelope.model_copy(update={"source": "elsewhere"})
    assert orjson.loads(encode_event(moved)) == {**orjson.loads(raw), "source": "elsewhere"}

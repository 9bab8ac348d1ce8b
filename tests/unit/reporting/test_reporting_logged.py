"""Reporting reads events as the log holds them (``decode_logged``, JSON bodies): the rows it
computes so equal the ones computed from the validated models, for every event type, and for
events stored in older versions (upcast)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import orjson
import pytest

from contracts import ComplaintReceived, LoggedEvent, decode_event, decode_logged, encode_event
from contracts.timezone import CHINA
from services.reporting.domain import (
    event_fact,
    logged_complaint_row,
    logged_fact_row,
    logged_timer_effects,
    place_of,
    timer_effects,
)
from services.runtime import vault
from tests.unit.reporting.test_reporting_domain import SAMPLES, envelope_of

STORED = Path(__file__).parents[1] / "contracts" / "stored_events"


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_the_rows_of_a_logged_event_are_those_of_its_models(event_type: str) -> None:
    envelope, data = envelope_of(SAMPLES[event_type])
    logged = decode_logged(encode_event(envelope))
    assert logged == LoggedEvent.of(*decode_event(encode_event(envelope)))
    assert logged_fact_row(logged) == dataclasses.astuple(event_fact(envelope, data))
    assert list(logged_timer_effects(logged)) == timer_effects(data)


@pytest.mark.parametrize("path", sorted(STORED.glob("ComplaintReceived.*.json")), ids=str)
def test_a_stored_receipt_of_any_version_gives_the_row_of_its_upcast_model(path: Path) -> None:
    raw = path.read_bytes()
    envelope, data = decode_event(raw)
    assert isinstance(data, ComplaintReceived)
    place = place_of(data)
    # upcast as decode_event does (the JSON keeps what the upcasters wrote: no model defaults)
    assert decode_logged(raw).data["address"] == data.address.model_dump(mode="json")
    pepper = b"pepper-of-this-test"
    personal = vault.personal_of(pepper, data)
    assert logged_complaint_row(decode_logged(raw), pepper) == (
        envelope.complaint_id,
        data.channel.value,
        data.submission_id,
        data.office,
        data.unit,
        personal["ref"],
        orjson.dumps(personal).decode(),
        data.subject,
        envelope.occurred_at,
        envelope.recorded_at,
        data.occurred_at.astimezone(CHINA).date(),
        envelope.event_id,
        place.unit_key,
        place.building,
        place.topic,
    )


@pytest.mark.parametrize(
    "raw",
    [b"\xff not json", b'{"type": "ComplaintReceived", "schema_version": 1, "data": {}}', b"[]"],
)
def test_what_is_not_an_event_fails_as_the_validating_decoder_does(raw: bytes) -> None:
    with pytest.raises(ValueError) as fast:
        decode_logged(raw)
    with pytest.raises(ValueError) as slow:
        decode_event(raw)
    assert type(fast.value) is type(slow.value)

"""A projection that names the event types it reads (``reads``) gets only those: the consumer
passes a record whose ``event-type`` header names another type without decoding it, and still
stores its offset. A record without the header is decoded as ever."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiokafka import ConsumerRecord

from contracts import Envelope
from services.runtime.consumer import ProjectionConsumer
from services.runtime.kafka import event_headers
from services.sla.calendar import load_calendar
from services.sla.notifications import ALERT_EVENTS, OFFICE_EVENTS, load_notifications
from services.sla.notifier import AlertDeliveries
from services.sla.policy import load_policy
from services.sla.projection import ClockProjection
from services.sla.scheduler import SlaRules
from services.sla.settings import SlaSettings
from tests.unit.test_ops_logs import received


class Reads:
    """A projection reading receipts only (never applied here: ``prepare`` does no I/O)."""

    reads = frozenset({"ComplaintReceived"})

    async def apply(self, conn: Any, envelope: Any, data: Any) -> None:
        raise AssertionError("prepare applies nothing")


class ReadsAll(Reads):
    reads = None  # type: ignore[assignment]


def consumer(projection: Any) -> ProjectionConsumer:
    return ProjectionConsumer(
        name="sla.clocks.v1",
        schema="sla",
        projection=projection,
        topic="complaints.events",
        deadletter_topic="complaints.deadletter",
        pool=lambda: None,
    )


def record(
    offset: int, value: bytes, headers: dict[str, str] | None
) -> ConsumerRecord[bytes, bytes]:
    pairs = [(k, v.encode()) for k, v in (headers or {}).items()]
    return ConsumerRecord(
        "complaints.events", 0, offset, 0, 0, b"k", value, None, 1, len(value), pairs
    )


def logged(envelope: Envelope) -> ConsumerRecord[bytes, bytes]:
    return record(0, envelope.model_dump_json().encode(), event_headers(envelope))


def test_a_type_the_projection_does_not_read_is_passed_unread_and_its_offset_stored() -> None:
    early = received(uuid.uuid4())
    late = received(uuid.uuid4()).model_copy(
        update={"recorded_at": early.recorded_at + timedelta(hours=1)}
    )
    records = [
        record(10, early.model_dump_json().encode(), event_headers(early)),
        # Not JSON at all: decoded, it would be a dead letter; its header says it is not read.
        record(11, b"\x00not an event", {"event-type": "SlaBreached"}),
        record(12, late.model_dump_json().encode(), {"event-type": "SlaWarning"}),
        record(13, early.model_dump_json().encode(), None),  # no header: decoded
        record(14, b"\x00not an event", None),  # no header: decoded, so parked
    ]
    batch = consumer(Reads()).prepare(records)
    assert [r.offset for r, _, _ in batch.decoded] == [10, 13]
    assert [e.event_id for _, e, _ in batch.decoded] == [early.event_id, early.event_id]
    assert [letter.record.offset for letter in batch.unreadable] == [14]
    assert batch.passed == 2
    assert batch.next_offsets == {0: 15}  # stored past the passed records too
    # A passed record does not move the watermark (the later receipt was not read).
    assert batch.seen_until == {0: early.recorded_at}


def test_a_projection_without_reads_gets_every_type() -> None:
    records = [
        record(0, b"\x00not an event", {"event-type": "SlaBreached"}),
        logged(received(uuid.uuid4())),
    ]
    batch = consumer(ReadsAll()).prepare(records)
    assert batch.passed == 0
    assert [letter.record.offset for letter in batch.unreadable] == [0]
    assert len(batch.decoded) == 1


def test_the_sla_reads_the_types_its_policy_names() -> None:
    settings = SlaSettings()
    rules = SlaRules(
        load_policy(settings.sla_policy_file), load_calendar(settings.sla_calendar_file)
    )
    reads = ClockProjection(rules).reads
    assert reads == rules.events
    assert {"ComplaintReceived", "ComplaintAcknowledged", "ComplaintClosed"} <= reads
    assert not {"SlaBreached", "SlaWarning", "ComplaintEscalated"} & reads  # its own alerts


def test_the_notifier_reads_the_offices_and_the_alerts_and_passes_the_rest() -> None:
    """Every type its ``apply`` acts on is read; a workflow event, which it ignored after
    decoding it, is passed by its header."""
    notifier = AlertDeliveries(
        load_notifications(SlaSettings().notifications_file),
        lambda: received(uuid.uuid4()).recorded_at,
    )
    assert notifier.reads == OFFICE_EVENTS | set(ALERT_EVENTS)
    assert {"ComplaintReceived", "ComplaintOfficeTransferred", "SlaBreached"} <= notifier.reads
    receipt = received(uuid.uuid4())
    records = [
        logged(receipt),
        record(1, b"\x00not an event", {"event-type": "ComplaintJudged"}),
        record(2, b"\x00not an event", {"event-type": "SlaWarning"}),  # read: so parked
    ]
    batch = consumer(notifier).prepare(records)
    assert [e.event_id for _, e, _ in batch.decoded] == [receipt.event_id]
    assert [letter.record.offset for letter in batch.unreadable] == [2]
    assert batch.passed == 1

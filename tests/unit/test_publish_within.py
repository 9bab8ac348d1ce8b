"""``publish_event(..., within=…)``: intake's bound on the wait for the log's acknowledgement
(the idempotent producer itself retries a record until the broker takes it)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder, MessageBatch
from aiokafka.structs import TopicPartition

from contracts import Channel, new_envelope
from contracts.intake import ComplaintReceivedV3, Submission
from services.runtime import kafka
from tests.unit.intake.samples import submission


def an_event() -> Any:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    received = Submission.model_validate(submission(occurred_at=now.isoformat()))
    return new_envelope(
        ComplaintReceivedV3.from_submission(Channel.HOTLINE, received),
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=now,
        recorded_at=now,
        source="test",
    )


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.Future[Any]]:
    """The acknowledgements of the records handed to the producer, left for the test to give."""
    futures: list[asyncio.Future[Any]] = []

    async def send(broker: object, topic: str, value: bytes, **_: object) -> Any:
        futures.append(asyncio.get_running_loop().create_future())
        return futures[-1]

    monkeypatch.setattr(kafka, "send", send)
    return futures


async def test_no_acknowledgement_within_the_bound_is_a_timeout(
    handed: list[asyncio.Future[Any]],
) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(TimeoutError, match=r"within 0\.05 s"):
        await kafka.publish_event(object(), "t", an_event(), within=0.05)  # type: ignore[arg-type]
    assert asyncio.get_running_loop().time() - started >= 0.05
    assert handed[0].done()


async def test_an_acknowledgement_in_time_returns_and_nothing_fires_later(
    handed: list[asyncio.Future[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fired: list[object] = []
    monkeypatch.setattr(kafka, "_unacknowledged", lambda *args: fired.append(args))
    publishing = asyncio.create_task(
        kafka.publish_event(object(), "t", an_event(), within=0.05)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    handed[0].set_result("metadata")
    await publishing
    await asyncio.sleep(0.08)  # past the bound: the timer went with the wait
    assert fired == []
    assert handed[0].result() == "metadata"


async def test_the_producer_skips_a_record_given_up_when_the_broker_answers_late() -> None:
    batch = MessageBatch(TopicPartition("t", 0), BatchBuilder(16384, 0), ttl=30, linger_time=0)
    acked = batch.append(b"key", b"value", timestamp_ms=None)
    assert acked is not None
    kafka._unacknowledged(acked, 0.05)
    batch.done(base_offset=7)  # the broker's answer after all: no InvalidStateError
    with pytest.raises(TimeoutError):
        acked.result()

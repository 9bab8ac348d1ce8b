"""Fast producers of many events, for the fault tests (real broker, no HTTP in the way)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from contracts import Channel, ComplaintReceived, Envelope, encode_event, new_envelope
from contracts.intake import Submission, complaint_id_for, received_event_id
from tests.e2e.helpers import read_events


def complaint_event(office: str, n: int, *, run: str, minutes_ago: float = 1.0) -> Envelope:
    """The ``n``-th ComplaintReceived of a burst, as intake would have written it."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    submission = Submission.model_validate(
        {
            "submission_id": f"burst-{run}-{n}",
            "office": office,
            "unit": f"{n % 40 + 1}栋{n % 4 + 1}单元{n:05d}",
            "complainant": {"name": "业主", "phone": f"137{n:08d}"},
            "subject": "噪音",
            "description": "夜间施工噪音",
            "occurred_at": at.isoformat(),
        }
    )
    data = ComplaintReceived.from_submission(Channel.APP, submission)
    cid = complaint_id_for(Channel.APP, submission.submission_id)
    return new_envelope(
        data,
        event_id=received_event_id(cid),
        complaint_id=cid,
        occurred_at=at,
        recorded_at=datetime.now(UTC),
        source="tests/burst",
    )


async def publish(bootstrap: str, topic: str, events: list[Envelope], *, pace: float = 0) -> None:
    """Append events to the log (acks=all, idempotent); ``pace`` seconds between chunks."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            futures = [
                await producer.send(topic, encode_event(e), key=str(e.complaint_id).encode())
                for e in chunk
            ]
            await asyncio.gather(*futures)
            if pace:
                await asyncio.sleep(pace)
    finally:
        await producer.stop()


async def log_counts(bootstrap: str, topic: str, event_type: str) -> Counter[str]:
    """How many times each complaint has an event of ``event_type`` in the log (from 0)."""
    return Counter(
        e["complaint_id"]
        for e in await read_events(bootstrap, topic)
        if e.get("type") == event_type
    )


def run_id() -> str:
    """A short id that keeps one test's complaints apart from the others'."""
    return uuid.uuid4().hex[:6]

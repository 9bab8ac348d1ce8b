"""SLA timer lateness: 10,000 first-response deadlines falling due within one minute; how
late each breach reaches the log (its Kafka timestamp − the deadline)."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from bench.common import Bench, received_event, submission_body, summary_ms
from contracts import encode_event


async def measure(bench: Bench, *, n: int = 10_000, window_s: float = 60.0) -> dict[str, Any]:
    """Lateness percentiles of ``n`` breaches due within ``window_s`` from now."""
    async with bench.system("timers", ["sla"]) as system:
        topic = system.topics["events"]
        rng = random.Random(7)
        lead = 20.0  # time to publish and apply them all before the first falls due
        now = datetime.now(UTC)
        events = []
        for i in range(n):
            due = now + timedelta(seconds=lead + rng.uniform(0, window_s))
            body = submission_body(i, bench.run, minutes_ago=0)
            body["occurred_at"] = (due - timedelta(minutes=30)).isoformat()
            events.append(received_event(body))
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(
            bootstrap_servers=bench.bootstrap, enable_idempotence=True, linger_ms=10
        )
        await producer.start()
        try:
            futures = [
                await producer.send(topic, encode_event(e), key=str(e.complaint_id).encode())
                for e in events
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bench.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        late: dict[str, float] = {}
        deadline = time.monotonic() + lead + window_s + 90
        try:
            while len(late) < n and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batch.values():
                    for r in records:
                        e = orjson.loads(r.value)
                        if e["type"] == "SlaBreached" and e["data"]["timer"] == "first_response":
                            due = datetime.fromisoformat(e["data"]["deadline"])
                            late.setdefault(e["complaint_id"], r.timestamp / 1000 - due.timestamp())
        finally:
            await consumer.stop()
    return {
        "timers": n,
        "fired": len(late),
        **summary_ms(list(late.values())),
        "target_p99_ms": 1000,
    }

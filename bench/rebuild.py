"""Rebuild rate: reporting replaying ≥200,000 events from offset 0, beside the raw rate of
reading the same topic with aiokafka and writing the same rows with asyncpg COPY."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import Bench, received_event, submission_body
from contracts.intake import mask_name, mask_phone
from services.runtime.kafka import end_offsets


async def fill(bootstrap: str, topic: str, n: int, run: str) -> None:
    """Append ``n`` ComplaintReceived events (built once, then copied with new ids)."""
    template = received_event(submission_body(0, run))
    base = orjson.loads(template.model_dump_json())
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        pending = []
        for i in range(n):
            body = submission_body(i, run)
            event = received_event(body) if i % 1000 == 0 else None  # real ids, cheaply
            doc = (
                orjson.loads(event.model_dump_json())
                if event
                else {
                    **base,
                    "event_id": f"{i:08x}-0000-5000-8000-{run.ljust(12, '0')[:12]}",
                    "complaint_id": f"{i:08x}-0001-5000-8000-{run.ljust(12, '0')[:12]}",
                    "data": {
                        **base["data"],
                        "office": body["office"],
                        "unit": body["unit"],
                        "submission_id": body["submission_id"],
                    },
                }
            )
            pending.append(
                await producer.send(topic, orjson.dumps(doc), key=doc["complaint_id"].encode())
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def raw_rate(bootstrap: str, topic: str, database_url: str, n: int) -> float:
    """Read the topic from 0 with aiokafka; COPY the rows the projection writes for them
    (complaint, event fact, the two timer starts, the intake counters) into tables made
    LIKE the projection's, indexes included. No validation, no dedupe: the floor."""
    conn = await asyncpg.connect(database_url)
    live = await conn.fetchval(  # the tables behind the reporting.* views, indexes and all
        "SELECT 'reporting_g' || gen FROM reporting.generations WHERE state = 'live'"
    )
    await conn.execute(
        "CREATE SCHEMA raw; "
        + " ".join(
            f"CREATE TABLE raw.{t} (LIKE {live}.{t} INCLUDING ALL);"
            for t in ("complaints", "events", "timer_events", "daily_intake")
        )
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    seen, seq = 0, 0
    intake: Counter[tuple[Any, str, str]] = Counter()
    started = time.perf_counter()
    try:
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            complaints, facts, timers = [], [], []
            for records in batch.values():
                for r in records:
                    e = orjson.loads(r.value)
                    d = e["data"]
                    at, recorded = _ts(e["occurred_at"]), _ts(e["recorded_at"])
                    cid, eid = _uuid(e["complaint_id"]), _uuid(e["event_id"])
                    day = at.astimezone(CHINA).date()
                    complaints.append(
                        (
                            cid,
                            d["channel"],
                            d["submission_id"],
                            d["office"],
                            d["unit"],
                            mask_name(d["complainant"]["name"]),
                            mask_phone(d["complainant"]["phone"]),
                            d["subject"],
                            d["description"],
                            d["demand"],
                            at,
                            recorded,
                            day,
                            eid,
                            d["unit"],
                            d["address"]["building"],
                            d["subject"],
                        )
                    )
                    seq += 1
                    facts.append(
                        (
                            seq,
                            eid,
                            cid,
                            "ComplaintReceived",
                            at,
                            recorded,
                            "received",
                            None,
                            None,
                            None,
                            None,
                            None,
                            None,
                            None,
                            None,
                        )
                    )
                    for timer in ("first_response", "reply"):
                        timers.append((cid, timer, seq, "start", at, recorded, None, None))
                    intake[(day, d["office"], d["channel"])] += 1
            if complaints:
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "complaints", schema_name="raw", records=complaints
                    )
                    await conn.copy_records_to_table("events", schema_name="raw", records=facts)
                    await conn.copy_records_to_table(
                        "timer_events",
                        schema_name="raw",
                        records=timers,
                        columns=[
                            "complaint_id",
                            "timer",
                            "seq",
                            "effect",
                            "occurred_at",
                            "recorded_at",
                            "deadline",
                            "hard",
                        ],
                    )
            seen += len(complaints)
        await conn.copy_records_to_table(
            "daily_intake",
            schema_name="raw",
            records=[(*key, count) for key, count in intake.items()],
        )
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await conn.close()


CHINA = ZoneInfo("Asia/Shanghai")


def _ts(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


async def measure(bench: Bench, *, n: int = 200_000) -> dict[str, Any]:
    """Events per second, reporting rebuild vs raw read + COPY."""
    async with bench.system("rebuild", []) as system:
        topic = system.topics["events"]
        from services.runtime.kafka import ensure_topics
        from services.runtime.settings import Settings

        await ensure_topics(
            Settings(
                kafka_bootstrap=bench.bootstrap,
                topic_events=topic,
                topic_submissions=system.topics["submissions"],
                topic_deadletter=system.topics["deadletter"],
            )
        )
        filled = time.perf_counter()
        await fill(bench.bootstrap, topic, n, bench.run)
        fill_s = time.perf_counter() - filled
        ends = await end_offsets(bench.bootstrap, topic)
        total = sum(ends.values())

        started = time.perf_counter()
        system.start("reporting")  # an empty projection: it builds from offset 0
        pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=1)
        try:
            while True:
                rows = await pool.fetch(
                    "SELECT partition, next_offset FROM reporting.live_consumer_offsets "
                    "WHERE consumer LIKE 'reporting.%'"
                )
                stored = {r["partition"]: r["next_offset"] for r in rows}
                if all(stored.get(p, 0) >= o for p, o in ends.items()):
                    break
                await asyncio.sleep(0.05)
        finally:
            await pool.close()
        rebuild_s = time.perf_counter() - started
        system.stop("reporting")
        raw = await raw_rate(bench.bootstrap, topic, system.database_url, total)
    rebuild = total / rebuild_s
    return {
        "events": total,
        "fill_s": round(fill_s, 1),
        "rebuild_per_s": round(rebuild),
        "raw_read_copy_per_s": round(raw),
        "ratio": round(rebuild / raw, 3),
        "target_ratio": 0.5,
    }

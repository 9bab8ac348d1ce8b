"""Rebuild rate: reporting replaying ≥200,000 events from offset 0, beside the raw rate of
reading the same topic with aiokafka and writing the same rows with asyncpg COPY."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import Bench, live_caught_up, received_event, submission_body
from bench.rebuild_services import profiler
from contracts.timezone import CHINA
from services.reporting.store.writing import TIMER_EVENT_COLUMNS
from services.runtime.kafka import end_offsets


async def fill(bootstrap: str, topic: str, n: int, run: str) -> None:
    """Append ``n`` ComplaintReceived events (built once, then copied with new ids)."""
    template = received_event(submission_body(0, run))
    now = datetime.now(UTC)
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
            # over the last 24 months: a month's report covers a 24th of the log
            at = (now - timedelta(days=i % 730, minutes=1)).isoformat()
            doc = (
                orjson.loads(event.model_dump_json())
                if event
                else {
                    **base,
                    "event_id": f"{i:08x}-0000-5000-8000-{run.ljust(12, '0')[:12]}",
                    "complaint_id": f"{i:08x}-0001-5000-8000-{run.ljust(12, '0')[:12]}",
                    "occurred_at": at,
                    "data": {
                        **base["data"],
                        "occurred_at": at,
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
    pepper = b"bench: the raw floor's reference key"
    conn = await asyncpg.connect(database_url)
    # The live generation's tables (``reporting.<t>`` are views over them), indexes included.
    live = await conn.fetchval("SELECT gen FROM reporting.generations WHERE state = 'live'")
    await conn.execute(
        "CREATE SCHEMA raw; "
        + " ".join(
            f"CREATE TABLE raw.{t} (LIKE reporting_g{live}.{t} INCLUDING ALL);"
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
                    seq += 1
                    complaint, fact, starts, counted = _raw_rows(orjson.loads(r.value), seq, pepper)
                    complaints.append(complaint)
                    facts.append(fact)
                    timers.extend(starts)
                    intake[counted] += 1
            if complaints:
                await _raw_copy(conn, complaints, facts, timers)
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


def _raw_rows(e: dict[str, Any], seq: int, pepper: bytes) -> tuple[Any, Any, list[Any], Any]:
    """The raw floor's rows of one receipt, straight from its JSON: the complaint, its event
    fact, its two timer starts, and the intake counter it adds to."""
    d = e["data"]
    at, recorded = _ts(e["occurred_at"]), _ts(e["recorded_at"])
    cid, eid = _uuid(e["complaint_id"]), _uuid(e["event_id"])
    day = at.astimezone(CHINA).date()
    who = d["complainant"]
    ref = who.get("ref") or hmac.new(pepper, who["phone"].encode(), hashlib.sha256).hexdigest()
    personal = {
        "ref": ref,
        "complainant": who,
        "description": d["description"],
        "demand": d.get("demand", ""),
    }
    complaint = (
        cid,
        d["channel"],
        d["submission_id"],
        d["office"],
        d["unit"],
        ref,
        orjson.dumps(personal).decode(),
        d["subject"],
        at,
        recorded,
        day,
        eid,
        d["unit"],
        d["address"]["building"],
        d["subject"],
    )
    fact = (
        seq,
        eid,
        cid,
        "ComplaintReceived",
        at,
        recorded,
        "received",
        *(None,) * 12,  # validity … hard, office, priority, outcome, detail
    )
    starts = [
        (cid, timer, seq, "start", at, recorded, None, None)
        for timer in ("first_response", "reply")
    ]
    return complaint, fact, starts, (day, d["office"], d["channel"])


async def _raw_copy(
    conn: asyncpg.Connection, complaints: list[Any], facts: list[Any], timers: list[Any]
) -> None:
    """One batch of the raw floor's rows, COPYed in one transaction."""
    async with conn.transaction():
        await conn.copy_records_to_table("complaints", schema_name="raw", records=complaints)
        await conn.copy_records_to_table("events", schema_name="raw", records=facts)
        await conn.copy_records_to_table(
            "timer_events",
            schema_name="raw",
            records=timers,
            columns=TIMER_EVENT_COLUMNS,
        )


def _ts(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


async def live_rebuild(database_url: str, *, poll_s: float = 0.02) -> dict[str, Any]:
    """Ask for a rebuild of reporting (as ``complaints rebuild reporting`` does) and wait for
    the swap. Returns the generation's registry row and the seconds from request to swap."""
    from services.runtime.generations import Generations

    registry = Generations(schema="reporting", version="", tables=[])
    conn = await asyncpg.connect(database_url)
    try:
        started = time.perf_counter()
        gen = await registry.request(conn, "bench: live rebuild")
        while True:
            row = await conn.fetchrow("SELECT * FROM reporting.generations WHERE gen = $1", gen.gen)
            if row["state"] == "live":
                took = time.perf_counter() - started
                return {"row": dict(row), "seconds": took}
            if row["state"] == "failed":
                raise RuntimeError(f"rebuild failed: {row['error']}")
            await asyncio.sleep(poll_s)
    finally:
        await conn.close()


async def prepared(bench: Bench, system: Any, n: int) -> tuple[int, float, dict[int, int]]:
    """Fill the system's events topic with ``n`` events; reporting applies them live.

    Returns (events in the log, seconds the fill took, end offsets)."""
    from services.runtime.kafka import ensure_topics
    from services.runtime.settings import Settings

    topic = system.topics["events"]
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
    return sum(ends.values()), fill_s, ends


async def wait_live_caught_up(database_url: str, ends: dict[int, int]) -> None:
    """Wait until reporting's live generation has applied the log up to ``ends``."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        while True:
            if await live_caught_up(pool, "reporting", ends):
                return
            await asyncio.sleep(0.2)
    finally:
        await pool.close()


async def rebuilt(bench: Bench, database_url: str, topic: str) -> dict[str, Any]:
    """A live rebuild of reporting over the whole log as it is at the request."""
    events = sum((await end_offsets(bench.bootstrap, topic)).values())
    built = await live_rebuild(database_url)
    return {**built, "events": events}


async def measure(bench: Bench, *, n: int = 200_000) -> dict[str, Any]:
    """Events per second of a live rebuild of reporting (``complaints rebuild reporting`` on a
    running service that has applied the log: from the request to the swap), beside the raw
    rate of reading the same topic with aiokafka and COPYing the same rows. Then, under
    ``rebuild_live``, a second live rebuild while complaints come in through intake and
    readers ask for the stats and the monthly report (``bench/rebuild_live.py``)."""
    from bench import rebuild_live

    async with bench.system("rebuild", ["intake"]) as system:
        total, fill_s, ends = await prepared(bench, system, n)
        topic = system.topics["events"]
        system.start("reporting")  # the live generation: applied by the live consumers
        await wait_live_caught_up(system.database_url, ends)
        spy = profiler(system.procs["reporting"].pid, "reporting-rebuild")  # BENCH_PYSPY
        try:
            built = await rebuilt(bench, system.database_url, topic)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
        live = await rebuild_live.during(
            system.urls["reporting"],
            system.urls["intake"],
            bench.run,
            lambda: rebuilt(bench, system.database_url, topic),
        )
        system.stop("reporting")
        system.stop("intake")
        raw = await raw_rate(bench.bootstrap, topic, system.database_url, total)
    rebuild = total / built["seconds"]
    return {
        "events": total,
        "fill_s": round(fill_s, 1),
        "rebuild_s": round(built["seconds"], 2),
        "rebuild_per_s": round(rebuild),
        "raw_per_s": round(raw),
        "ratio": round(rebuild / raw, 3),
        "target_per_s": 50_000,
        "target_ratio": 0.5,
        "live": live,
    }

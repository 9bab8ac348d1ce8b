"""Fast producers of many events, for the fault tests (real broker, no HTTP in the way)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts import Channel, Envelope, encode_event, new_envelope
from contracts.intake import ComplaintReceivedV3, Submission, complaint_id_for, received_event_id
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
    data = ComplaintReceivedV3.from_submission(Channel.APP, submission)
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


Applications = Callable[[], Awaitable[Counter[str]]]


async def live_table(database_url: str, table: str) -> str:
    """The table behind a service's stable name: ``reporting.complaints`` is a view over the
    live generation's ``reporting_g<N>.complaints``, where a trigger must go."""
    schema, _, name = table.partition(".")
    conn = await asyncpg.connect(database_url)
    try:
        if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.generations") is None:
            return table
        gen = await conn.fetchval(f"SELECT gen FROM {schema}.generations WHERE state = 'live'")
    finally:
        await conn.close()
    return f"{schema}_g{gen}.{name}" if gen is not None else table


@asynccontextmanager
async def counting_applications(
    database_url: str, table: str, key: str
) -> AsyncIterator[Applications]:
    """Count every committed application of an event to a projection ``table``, per ``key``.

    "Nothing doubled" cannot be read from a projection's rows: their primary keys and the
    ``processed_events`` guard swallow a second application (``ON CONFLICT DO NOTHING``), so a
    row count stays right even when an event was applied twice. A ``BEFORE INSERT`` trigger
    sees every row proposed, conflicting or not, and counts it in the same transaction (a
    rolled-back batch takes its counts with it). So a count above 1 is an event applied twice.
    """
    name = f"fault_applications_{uuid.uuid4().hex[:8]}"

    async def run(sql: str) -> list[asyncpg.Record]:
        # A connection per use: the database may be restarted while the count runs.
        conn = await asyncpg.connect(database_url)
        try:
            if ";" in sql:  # several statements: the simple protocol, no rows
                await conn.execute(sql)
                return []
            return list(await conn.fetch(sql))
        finally:
            await conn.close()

    table = await live_table(database_url, table)
    await run(
        f"""CREATE TABLE public.{name} (key text PRIMARY KEY, n integer NOT NULL);
        CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO public.{name} VALUES (NEW.{key}::text, 1)
            ON CONFLICT (key) DO UPDATE SET n = public.{name}.n + 1;
            RETURN NEW;
        END $$;
        CREATE TRIGGER {name} BEFORE INSERT ON {table}
            FOR EACH ROW EXECUTE FUNCTION public.{name}();"""
    )

    async def counts() -> Counter[str]:
        return Counter({r["key"]: r["n"] for r in await run(f"SELECT key, n FROM public.{name}")})

    try:
        yield counts
    finally:
        await run(
            f"DROP TRIGGER IF EXISTS {name} ON {table}; "
            f"DROP FUNCTION IF EXISTS public.{name}() CASCADE; DROP TABLE IF EXISTS public.{name}"
        )


def doubled_or_missing(applied: Counter[str], expected: set[str]) -> dict[str, int]:
    """The keys of ``expected`` not applied exactly once, with how often they were."""
    return {k: applied[k] for k in expected if applied[k] != 1}

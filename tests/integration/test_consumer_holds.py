"""A batch that fails for a reason the consumer does not class as transient is never dropped:
the consumer holds at it and tries again, so the next batch cannot store offsets past it. A
batch with an event the projection cannot apply is applied again event by event, the one at
fault parked and every other applied once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from services.runtime.consumer import Decoded, ProjectionConsumer
from services.runtime.consumer.batch import Batch
from services.runtime.outbox import OutboxRelay, enqueue_many
from services.runtime.store import consumer_tables_sql, outbox_table_sql
from tests.conftest import RUN, Infra
from tests.e2e.helpers import scratch_topic
from tests.integration.test_outbox_relay import event

pytestmark = pytest.mark.infra
SCHEMA = "holdtest"
EVENTS = 60


class CountingProjection:
    """Counts each event's applications: a lost one shows as missing, a double as 2."""

    async def apply(self, conn: asyncpg.Connection, envelope: object, data: object) -> None:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.seen (event_id, n) VALUES ($1, 1) "
            "ON CONFLICT (event_id) DO UPDATE SET n = seen.n + 1",
            envelope.event_id,  # type: ignore[attr-defined]
        )


class RefusingProjection(CountingProjection):
    """Counts each event, then refuses the ones in ``refused`` (a projection with a bug for
    them): what it wrote for them, and for the rest of their batch, must be rolled back."""

    def __init__(self, refused: set[uuid.UUID]) -> None:
        self.refused = refused

    async def apply(self, conn: asyncpg.Connection, envelope: object, data: object) -> None:
        await super().apply(conn, envelope, data)
        if envelope.event_id in self.refused:  # type: ignore[attr-defined]
            raise ValueError("this projection cannot apply it")


class FlakyConsumer(ProjectionConsumer):
    """Its first attempts at a batch fail outside the projection, as a bug or a driver error
    nobody classed as transient would."""

    failures = 2

    async def _claim(self, conn: asyncpg.Connection, batch: Batch) -> list[Decoded]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("an error the consumer does not know")
        return await super()._claim(conn, batch)


@pytest.fixture
async def pool(test_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(test_database, min_size=1, max_size=5)
    async with pool.acquire() as conn:
        await conn.execute(consumer_tables_sql(SCHEMA))
        await conn.execute(outbox_table_sql(SCHEMA))
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.seen (event_id uuid PRIMARY KEY, n int)"
        )
    yield pool
    await pool.close()


@pytest.fixture
async def topic(real_infra: Infra) -> AsyncIterator[str]:
    name = f"test.{RUN}.hold.{uuid.uuid4().hex[:6]}"
    async with scratch_topic(real_infra.kafka_bootstrap, name, also=[".dlq"]) as made:
        yield made


async def publish_events(real_infra: Infra, pool: asyncpg.Pool, topic: str) -> list[uuid.UUID]:
    """``EVENTS`` events on ``topic``, through the outbox and its relay; their ids."""
    events = [event(n) for n in range(EVENTS)]
    async with pool.acquire() as conn, conn.transaction():
        await enqueue_many(conn, SCHEMA, topic, events)
    broker = KafkaBroker(real_infra.kafka_bootstrap, enable_idempotence=True)
    await broker.connect()
    try:
        relay = OutboxRelay(schema=SCHEMA, pool=lambda: pool, broker=broker, batch_size=100)
        while await relay.publish_pending():
            pass
    finally:
        await broker.stop()
    return [e.event_id for e in events]


def consumer_of(
    projection: object, pool: asyncpg.Pool, topic: str, *, max_records: int = 10
) -> ProjectionConsumer:
    """A consumer of ``topic`` named afresh, applying ``projection`` on ``pool``."""
    return ProjectionConsumer(
        name=f"holdtest.{uuid.uuid4().hex[:6]}",
        schema=SCHEMA,
        projection=projection,
        topic=topic,
        deadletter_topic=f"{topic}.dlq",
        pool=lambda: pool,
        max_records=max_records,
    )


async def consume_all(real_infra: Infra, consumer: ProjectionConsumer) -> None:
    """Run ``consumer`` until it has stored offsets past the ``EVENTS`` events (30 s at most)."""
    consumer_broker = KafkaBroker(real_infra.kafka_bootstrap)
    consumer.attach(consumer_broker)
    await consumer_broker.start()
    try:
        for _ in range(300):
            if await consumer.stored_offsets() == {0: EVENTS}:
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer_broker.stop()


async def test_a_batch_failing_outside_the_projection_is_held_and_retried_never_dropped(
    real_infra: Infra, pool: asyncpg.Pool, topic: str
) -> None:
    await publish_events(real_infra, pool, topic)
    name = f"holdtest.{uuid.uuid4().hex[:6]}"

    def failures() -> float:
        value = REGISTRY.get_sample_value(
            "complaints_consumer_batch_failures_total", {"consumer": name}
        )
        return value or 0.0

    # Batches of 10 on one partition: a dropped first batch would leave later ones to store
    # offsets past it.
    consumer = FlakyConsumer(
        name=name,
        schema=SCHEMA,
        projection=CountingProjection(),
        topic=topic,
        deadletter_topic=topic,
        pool=lambda: pool,
        max_records=10,
    )
    await consume_all(real_infra, consumer)

    counts = await pool.fetch(f"SELECT n, count(*) AS c FROM {SCHEMA}.seen GROUP BY n")
    assert {r["n"]: r["c"] for r in counts} == {1: EVENTS}  # none lost, none doubled
    assert await consumer.stored_offsets() == {0: EVENTS}
    assert consumer.failures == 0
    assert failures() == 2  # each failed attempt was counted


async def test_an_event_the_projection_cannot_apply_is_parked_and_the_rest_applied_once(
    real_infra: Infra, pool: asyncpg.Pool, topic: str
) -> None:
    """The whole batch is applied at once; when one event fails, what the batch wrote is
    rolled back (the other events' rows too) and each event applied in a savepoint of its
    own: the one at fault dead-lettered and unclaimed, every other applied exactly once, the
    offsets past all of them."""
    ids = await publish_events(real_infra, pool, topic)
    refused = {ids[3], ids[17], ids[18]}  # in the first batch, and two in one later batch
    name = f"holdtest.{uuid.uuid4().hex[:6]}"
    consumer = ProjectionConsumer(
        name=name,
        schema=SCHEMA,
        projection=RefusingProjection(refused),
        topic=topic,
        deadletter_topic=f"{topic}.dlq",
        pool=lambda: pool,
        max_records=10,
    )
    await consume_all(real_infra, consumer)

    seen = {
        r["event_id"]: r["n"]
        for r in await pool.fetch(f"SELECT * FROM {SCHEMA}.seen WHERE event_id = ANY($1)", ids)
    }
    assert seen == {i: 1 for i in ids if i not in refused}  # none lost, none doubled
    assert await consumer.stored_offsets() == {0: EVENTS}
    processed = await pool.fetch(
        f"SELECT event_id FROM {SCHEMA}.processed_events WHERE consumer = $1", name
    )
    assert {r["event_id"] for r in processed} == set(ids) - refused
    letters = await pool.fetch(f"SELECT error FROM {SCHEMA}.dead_letters WHERE consumer = $1", name)
    assert len(letters) == len(refused)
    assert all("cannot apply it" in r["error"] for r in letters)


class HoldingProjection(CountingProjection):
    """Counts each event, and holds the batch of any event not in ``let`` until ``go`` is
    set."""

    def __init__(self, let: set[uuid.UUID]) -> None:
        self.let = let
        self.go = asyncio.Event()

    async def apply(self, conn: asyncpg.Connection, envelope: object, data: object) -> None:
        if envelope.event_id not in self.let:  # type: ignore[attr-defined]
            await self.go.wait()
        await super().apply(conn, envelope, data)


async def test_a_partition_applied_up_to_a_watermarks_offset_counts_as_applied_now(
    real_infra: Infra, pool: asyncpg.Pool, topic: str
) -> None:
    """The SLA judges a complaint up to now once its partition is applied to the log's end, or
    up to the offset the workflow's watermark names for it (``reached``): whatever else the
    partition holds beyond it, no decision of the workflow's from before the watermark. A
    partition applied short of it, or that the watermark does not name, gives the instant of
    its latest event applied."""
    first = await publish_events(real_infra, pool, topic)
    projection = HoldingProjection(set(first))
    consumer = consumer_of(projection, pool, topic, max_records=EVENTS)
    broker = KafkaBroker(real_infra.kafka_bootstrap)
    consumer.attach(broker)
    await broker.start()
    try:
        for _ in range(300):  # the first events applied
            if await consumer.stored_offsets() == {0: EVENTS}:
                break
            await asyncio.sleep(0.1)
        assert await consumer.stored_offsets() == {0: EVENTS}
        assert len(first) == EVENTS
        await publish_events(real_infra, pool, topic)  # held
        now = datetime.now(UTC)
        applied = await consumer.applied_by_partition(now)
        assert applied is not None and applied[0] < now  # behind the log's end
        assert await consumer.applied_by_partition(now, {0: EVENTS}) == {0: now}
        assert await consumer.applied_by_partition(now, {0: EVENTS + 1}) == applied
        assert await consumer.applied_by_partition(now, {1: 0}) == applied
    finally:
        projection.go.set()
        await broker.stop()


async def test_a_batch_takes_no_savepoint_unless_an_event_fails_and_claims_with_its_offsets(
    real_infra: Infra, pool: asyncpg.Pool, test_database: str, topic: str
) -> None:
    """Round trips cost 1-3 ms each on a busy machine. A batch is applied straight in its
    transaction (a savepoint is two round trips); savepoints come only once an event fails,
    to find and park it: the batch's first attempt is rolled back whole, and every other
    event is still applied exactly once. The batch's claim and its offsets are one
    statement."""
    sent: list[str] = []

    async def logging_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda record: sent.append(record.query))

    logged = await asyncpg.create_pool(test_database, min_size=1, max_size=2, init=logging_queries)
    try:
        ids = await publish_events(real_infra, pool, topic)
        clean = consumer_of(CountingProjection(), logged, topic)
        await consume_all(real_infra, clean)
        assert any("processed_events" in q for q in sent)  # the logger saw the batches
        assert not [q for q in sent if "SAVEPOINT" in q.upper()]
        offsets = [q for q in sent if "INTO holdtest.consumer_offsets" in q]
        assert offsets
        assert all("INTO holdtest.processed_events" in q for q in offsets)
        seen = await pool.fetch(f"SELECT n FROM {SCHEMA}.seen WHERE event_id = ANY($1)", ids)
        assert sorted(r["n"] for r in seen) == [1] * EVENTS

        sent.clear()
        await pool.execute(f"DELETE FROM {SCHEMA}.seen")
        refused = ids[5]
        failing = consumer_of(RefusingProjection({refused}), logged, topic)
        await consume_all(real_infra, failing)
        assert [q for q in sent if q.upper().startswith("SAVEPOINT")]  # for the batch at fault
        seen = await pool.fetch(
            f"SELECT event_id, n FROM {SCHEMA}.seen WHERE event_id = ANY($1)", ids
        )
        assert {r["event_id"]: r["n"] for r in seen} == {i: 1 for i in ids if i != refused}
        assert await failing.stored_offsets() == {0: EVENTS}
    finally:
        await logged.close()


class PlanRecordingProjection(CountingProjection):
    """Counts each event, and records how the transaction applying it plans statements."""

    plans_generic = True

    def __init__(self) -> None:
        self.modes: set[str] = set()

    async def apply(self, conn: asyncpg.Connection, envelope: object, data: object) -> None:
        self.modes.add(await conn.fetchval("SHOW plan_cache_mode"))
        await super().apply(conn, envelope, data)


async def test_a_projection_that_plans_generically_has_its_batches_planned_so(
    real_infra: Infra, pool: asyncpg.Pool, test_database: str, topic: str
) -> None:
    """Its pool plans each query for its parameters (``plan_each_query``); the batches of a
    projection that says ``plans_generic`` are planned generically all the same."""
    custom = await asyncpg.create_pool(
        test_database,
        min_size=1,
        max_size=2,
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )
    try:
        await publish_events(real_infra, custom, topic)
        projection = PlanRecordingProjection()
        consumer = consumer_of(projection, custom, topic)
        await consume_all(real_infra, consumer)
        assert await consumer.stored_offsets() == {0: EVENTS}
        assert projection.modes == {"force_generic_plan"}
        assert await custom.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
    finally:
        await custom.close()

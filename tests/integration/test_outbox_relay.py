"""The outbox relay against the real broker and database: a crash between publishing and
marking the rows loses nothing, and the republished copies change nothing downstream."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from contracts import Channel, Envelope, EventData, new_envelope
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.watermarks import Watermark, decode_watermark
from services.runtime import store
from services.runtime.consumer import ProjectionConsumer
from services.runtime.kafka import (
    end_offsets,
    event_headers,
    partition_of,
    producer_of,
    publish_event,
)
from services.runtime.outbox import OutboxRelay, Watermarking, deciding, enqueue
from services.runtime.store import consumer_tables_sql, outbox_table_sql
from tests.conftest import RUN, Infra
from tests.e2e.helpers import read_topic, scratch_topic
from tests.faults.test_intake_broker_down import read_all

pytestmark = pytest.mark.infra
SCHEMA = "relaytest"


class Crash(Exception):
    """Stands for the process dying at this exact point."""


class CrashingRelay(OutboxRelay):
    """A relay that dies after Kafka acknowledged the batch, before marking it published."""

    async def _mark_published(self, seqs: list[int]) -> None:
        raise Crash


class CountingProjection:
    """Counts each complaint's events: doubles would show as counts above 1."""

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.seen (event_id, n) VALUES ($1, 1) "
            "ON CONFLICT (event_id) DO UPDATE SET n = seen.n + 1",
            envelope.event_id,
        )

    async def clear(self, conn: asyncpg.Connection) -> None:
        await conn.execute(f"TRUNCATE {SCHEMA}.seen")


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
    name = f"test.{RUN}.outbox.{uuid.uuid4().hex[:6]}"
    async with scratch_topic(real_infra.kafka_bootstrap, name, 3) as made:
        yield made


def event(n: int) -> Envelope:
    data = ComplaintReceivedV3.from_submission(
        Channel.APP,
        Submission.model_validate(
            {
                "submission_id": f"app-{n}",
                "office": "Y园",
                "unit": f"{n}栋",
                "subject": "噪音",
                "complainant": {"name": "业主", "phone": "13812345678"},
                "description": "夜间施工噪音",
                "occurred_at": "2026-02-01T22:00:00+08:00",
            }
        ),
    )
    now = datetime.now(UTC)
    return new_envelope(
        data,
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=now,
        recorded_at=now,
        source="test",
    )


async def test_crash_between_publish_and_mark_loses_nothing_and_doubles_nothing(
    real_infra: Infra, pool: asyncpg.Pool, topic: str
) -> None:
    decided = [event(n) for n in range(120)]
    async with pool.acquire() as conn, conn.transaction():
        for env in decided:
            assert await enqueue(conn, SCHEMA, topic, env)
        assert not await enqueue(conn, SCHEMA, topic, decided[0])  # same id: not twice

    broker = KafkaBroker(real_infra.kafka_bootstrap, enable_idempotence=True)
    await broker.connect()
    try:
        with pytest.raises(Crash):
            await CrashingRelay(
                schema=SCHEMA, pool=lambda: pool, broker=broker, batch_size=50
            ).publish_pending()
        relay = OutboxRelay(schema=SCHEMA, pool=lambda: pool, broker=broker, batch_size=50)
        while await relay.publish_pending():
            pass
    finally:
        await broker.stop()

    keys = Counter(await read_all(real_infra.kafka_bootstrap, topic))
    ids = {str(e.complaint_id) for e in decided}
    assert set(keys) == ids  # nothing lost
    assert sum(keys.values()) == 120 + 50  # the crashed batch of 50 went out twice

    # Downstream, the republished copies are ignored: every event applied exactly once.
    consumer_broker = KafkaBroker(real_infra.kafka_bootstrap)
    consumer = ProjectionConsumer(
        name=f"relaytest.{uuid.uuid4().hex[:6]}",
        schema=SCHEMA,
        projection=CountingProjection(),
        topic=topic,
        deadletter_topic=topic,
        pool=lambda: pool,
    )
    consumer.attach(consumer_broker)
    await consumer_broker.start()
    try:

        async def applied() -> int:
            return int(await pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.seen"))

        for _ in range(200):
            if await applied() == 120 and await consumer.lag() == dict.fromkeys(range(3), 0):
                break
            await asyncio.sleep(0.1)
    finally:
        await consumer_broker.stop()
    counts = await pool.fetch(f"SELECT n, count(*) AS c FROM {SCHEMA}.seen GROUP BY n")
    assert {r["n"]: r["c"] for r in counts} == {1: 120}


async def test_every_event_lands_in_the_partition_the_sla_scheduler_computes_for_it(
    real_infra: Infra, pool: asyncpg.Pool, topic: str
) -> None:
    """The SLA scheduler judges a complaint as far as *its* partition is applied, computing the
    partition from the complaint's id (``partition_of``): both ways events are appended (the
    outbox relay and ``publish_event``) must put them there."""
    relayed = [event(n) for n in range(60)]
    direct = [event(n) for n in range(60, 120)]
    async with pool.acquire() as conn, conn.transaction():
        for env in relayed:
            assert await enqueue(conn, SCHEMA, topic, env)
    broker = KafkaBroker(real_infra.kafka_bootstrap, enable_idempotence=True)
    await broker.connect()
    try:
        relay = OutboxRelay(schema=SCHEMA, pool=lambda: pool, broker=broker, batch_size=50)
        while await relay.publish_pending():
            pass
        for env in direct:
            await publish_event(broker, topic, env)
    finally:
        await broker.stop()

    records = await read_topic(real_infra.kafka_bootstrap, topic)
    placed = {uuid.UUID(r.key.decode()): r.partition for r in records if r.key}
    assert set(placed) == {e.complaint_id for e in relayed + direct}
    assert len(set(placed.values())) == 3  # 120 keys over 3 partitions: each one used
    assert placed == {cid: partition_of(cid, 3) for cid in placed}
    # both hand the record to aiokafka with the event's own headers, and only those
    sent = {e.event_id: e for e in relayed + direct}
    for record in records:
        headers = {name: value.decode() for name, value in record.headers}
        assert headers == event_headers(sent[uuid.UUID(headers["event-id"])])


async def test_the_producer_is_asked_of_a_broker_that_has_not_started() -> None:
    broker = KafkaBroker("127.0.0.1:1", enable_idempotence=True)
    with pytest.raises(RuntimeError, match="no started aiokafka producer"):
        producer_of(broker)


@pytest.fixture
async def marks_topic(real_infra: Infra) -> AsyncIterator[str]:
    name = f"test.{RUN}.watermarks.{uuid.uuid4().hex[:6]}"
    async with scratch_topic(real_infra.kafka_bootstrap, name) as made:
        yield made


def watermarking_relay(
    pool: asyncpg.Pool,
    broker: KafkaBroker,
    bootstrap: str,
    topic: str,
    marks_topic: str,
    *,
    batch_size: int,
) -> OutboxRelay:
    """A relay of ``SCHEMA``'s outbox that says the workflow's watermarks on ``marks_topic``."""
    return OutboxRelay(
        schema=SCHEMA,
        pool=lambda: pool,
        broker=broker,
        batch_size=batch_size,
        watermarking=Watermarking(
            topic=marks_topic,
            producer="workflow",
            events_topic=topic,
            ends=partial(end_offsets, bootstrap, topic),
            now=lambda: datetime.now(UTC),
            interval_s=0.05,
        ),
    )


async def test_the_watermark_never_passes_a_decision_in_flight_nor_one_not_yet_published(
    real_infra: Infra, pool: asyncpg.Pool, topic: str, marks_topic: str
) -> None:
    """A relay says "every event decided before X is in the log" only when it is: a decision
    stamped but not committed keeps it silent; a committed one is in the log before the word
    that covers it; a full batch (rows left behind) says nothing."""
    bootstrap = real_infra.kafka_bootstrap

    async def said() -> list[Watermark]:
        return [decode_watermark(r.value or b"") for r in await read_topic(bootstrap, marks_topic)]

    broker = KafkaBroker(bootstrap, enable_idempotence=True)
    await broker.connect()
    relay = watermarking_relay(pool, broker, bootstrap, topic, marks_topic, batch_size=2)
    try:
        assert await relay.publish_pending() == 0  # nothing decided: the word is "now"
        assert len(await said()) == 1

        # A command: the writer lock, then its instant; not committed yet.
        async with pool.acquire() as conn:
            txn = conn.transaction()
            await txn.start()
            await deciding(conn, SCHEMA)
            stamped = event(1)
            assert await relay.publish_pending() == 0
            assert len(await said()) == 1  # a decision in flight: no word this round
            await enqueue(conn, SCHEMA, topic, stamped)
            await txn.commit()

        assert await relay.publish_pending() == 1
        words = await said()
        assert len(words) == 2 and words[-1].before > stamped.recorded_at
        (logged,) = await read_topic(bootstrap, topic)
        assert logged.key == str(stamped.complaint_id).encode()
        # ... below the offsets it names: the event's partition's end after it was acked.
        assert words[-1] == Watermark(
            producer="workflow",
            topic=topic,
            before=words[-1].before,
            offsets={p: int(p == logged.partition) for p in range(3)},
        )

        # Another producer's event (intake's, say) lands beyond: the word names where the
        # relay's own events reach, so a reader need not apply the other's first.
        other = event(9)
        await publish_event(broker, topic, other)
        assert await relay.publish_pending() == 0
        words = await said()
        assert len(words) == 3
        assert words[-1].offsets == {p: int(p == logged.partition) for p in range(3)}

        # An event enqueued without deciding (a rule's, stamped with its cause's instant) is
        # published, but outside the word: its offsets do not move past it.
        derived = event(10)
        async with pool.acquire() as conn, conn.transaction():
            assert await enqueue(conn, SCHEMA, topic, derived)
        assert await relay.publish_pending() == 1
        words = await said()
        assert len(words) == 4
        assert words[-1].offsets == {p: int(p == logged.partition) for p in range(3)}
        unfenced = {other.complaint_id, derived.complaint_id}

        # Three decided: a batch of two leaves one behind, and says nothing until it is out.
        more = [event(n) for n in range(3)]
        async with pool.acquire() as conn, conn.transaction():
            await deciding(conn, SCHEMA)
            for env in more:
                assert await enqueue(conn, SCHEMA, topic, env)
        assert await relay.publish_pending() == 2
        assert len(await said()) == 4
        assert await relay.publish_pending() == 1
        words = await said()
        assert len(words) == 5 and words[-1].before > max(e.recorded_at for e in more)
        logged_all = await read_topic(bootstrap, topic)
        assert len(logged_all) == 6
        relayed = [r for r in logged_all if uuid.UUID((r.key or b"").decode()) not in unfenced]
        assert all(r.offset < words[-1].offsets[r.partition] for r in relayed)
        assert words[-1].offsets == {
            p: max((r.offset + 1 for r in relayed if r.partition == p), default=0) for p in range(3)
        }
    finally:
        await broker.stop()


async def test_a_relay_paused_in_its_round_holds_back_no_decision(
    real_infra: Infra,
    pool: asyncpg.Pool,
    topic: str,
    marks_topic: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A relay stopped in the middle of its round (here: right after its fence, reading the
    rows) holds no lock a command needs: every command of every copy would wait for it. The
    decision made meanwhile is published by that round, and its word does not cover it."""
    bootstrap = real_infra.kafka_bootstrap
    reading, go_on = asyncio.Event(), asyncio.Event()
    plain = store.unpublished

    async def paused(conn: asyncpg.Connection, schema: str, limit: int) -> list[asyncpg.Record]:
        reading.set()
        await go_on.wait()
        return await plain(conn, schema, limit)

    monkeypatch.setattr(store, "unpublished", paused)
    broker = KafkaBroker(bootstrap, enable_idempotence=True)
    await broker.connect()
    relay = watermarking_relay(pool, broker, bootstrap, topic, marks_topic, batch_size=10)
    try:
        round_ = asyncio.create_task(relay.publish_pending())
        await asyncio.wait_for(reading.wait(), 10)
        stamped = event(1)
        async with pool.acquire() as conn, conn.transaction():
            # held by the paused relay, the lock would fail this after two seconds
            await conn.execute("SET LOCAL lock_timeout = '2s'")
            await deciding(conn, SCHEMA)
            await enqueue(conn, SCHEMA, topic, stamped)
        go_on.set()
        assert await asyncio.wait_for(round_, 10) == 1
        (logged,) = await read_topic(bootstrap, topic)
        assert logged.key == str(stamped.complaint_id).encode()
        (word,) = [
            decode_watermark(r.value or b"") for r in await read_topic(bootstrap, marks_topic)
        ]
        assert word.before < stamped.recorded_at  # its instant was read before the decision
    finally:
        await broker.stop()

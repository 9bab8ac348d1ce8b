"""A projection that ``may_wait_ms`` has the broker hold a live fetch for a batch: events that
come one at a time reach it in a few batches, where a consumer that may not wait applies them
nearly one by one. Both apply every event exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from contracts import encode_event
from services.runtime.consumer import ProjectionConsumer
from services.runtime.store import consumer_tables_sql
from tests.conftest import RUN, Infra
from tests.e2e.helpers import scratch_topic
from tests.integration.test_outbox_relay import event

pytestmark = pytest.mark.infra
SCHEMA = "waittest"
EVENTS = 40


class Batches:
    """Counts the batches it is handed and each event's applications."""

    def __init__(self) -> None:
        self.batches = 0
        self.applied: Counter[uuid.UUID] = Counter()

    async def apply(self, conn: asyncpg.Connection, envelope: object, data: object) -> None:
        await self.apply_batch(conn, [(envelope, data)])

    async def apply_batch(
        self, conn: asyncpg.Connection, batch: Sequence[tuple[object, object]]
    ) -> None:
        self.batches += 1
        self.applied.update(e.event_id for e, _ in batch)  # type: ignore[attr-defined]


class Waiting(Batches):
    may_wait_ms = 400


@pytest.fixture
async def pool(test_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(test_database, min_size=1, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute(consumer_tables_sql(SCHEMA))
    yield pool
    await pool.close()


@pytest.fixture
async def topic(real_infra: Infra) -> AsyncIterator[str]:
    name = f"test.{RUN}.wait.{uuid.uuid4().hex[:6]}"
    async with scratch_topic(real_infra.kafka_bootstrap, name) as made:
        yield made


async def test_a_projection_that_may_wait_gets_batches_not_single_events(
    real_infra: Infra, pool: asyncpg.Pool, topic: str
) -> None:
    projections = {"at-once": Batches(), "waiting": Waiting()}
    consumers = [
        ProjectionConsumer(
            name=f"{SCHEMA}.{key}.{uuid.uuid4().hex[:6]}",
            schema=SCHEMA,
            projection=projection,
            topic=topic,
            deadletter_topic=topic,
            pool=lambda: pool,
        )
        for key, projection in projections.items()
    ]
    assert [c.wait_ms for c in consumers] == [0, 400]
    broker = KafkaBroker(real_infra.kafka_bootstrap)
    for consumer in consumers:
        consumer.attach(broker)
    await broker.start()
    producer = AIOKafkaProducer(bootstrap_servers=real_infra.kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(300):  # both assigned and polling before the first event
            if all(c.assigned for c in consumers):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        events = [event(n) for n in range(EVENTS)]
        for envelope in events:  # one at a time, as requests come
            await producer.send_and_wait(topic, encode_event(envelope))
            await asyncio.sleep(0.01)
        for _ in range(300):
            if [await c.stored_offsets() for c in consumers] == [{0: EVENTS}] * 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
        await broker.stop()
    every = {e.event_id: 1 for e in events}
    at_once, waiting = projections["at-once"], projections["waiting"]
    assert dict(at_once.applied) == every and dict(waiting.applied) == every
    # 40 events over about 0.5 s: the waiting consumer's fetches end at its 400 ms
    assert waiting.batches <= 3, waiting.batches
    assert at_once.batches >= 10, at_once.batches

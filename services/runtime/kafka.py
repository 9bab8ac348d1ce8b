"""Kafka: the broker client every service uses, topic creation, and publishing an event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from contracts import Envelope, encode_event
from services.runtime.metrics import EVENTS_PUBLISHED
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

# The log is the truth and is kept forever.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    """A FastStream broker whose producer cannot silently lose or double a write.

    aiokafka defaults to ``acks=1`` without idempotence; both are set explicitly here.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=int(settings.publish_timeout_s * 1000),
        linger_ms=1,
        # FastStream's "Received"/"Processed" per batch: through our JSON handler, at debug.
        logger=logging.getLogger("faststream.kafka"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    settings: Settings, *, extra: Iterable[str] = (), timeout_s: float = 60.0
) -> None:
    """Create the platform's topics if missing (the broker does not auto-create topics).

    ``extra`` names more topics a service uses, made like the events topic (kept forever).
    """
    wanted = [
        NewTopic(settings.topic_events, settings.events_partitions, 1, topic_configs=KEEP_FOREVER),
        NewTopic(
            settings.topic_submissions, settings.events_partitions, 1, topic_configs=KEEP_FOREVER
        ),
        NewTopic(settings.topic_deadletter, 1, 1, topic_configs=KEEP_FOREVER),
    ]
    known = {t.name for t in wanted}
    for name in dict.fromkeys(extra):
        if name not in known:
            wanted.append(NewTopic(name, settings.events_partitions, 1, topic_configs=KEEP_FOREVER))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in existing]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:  # another service created it meanwhile
                    pass
                log.info("created topics %s", [t.name for t in missing])
            return
        except (KafkaConnectionError, OSError) as exc:
            if loop.time() > deadline:
                raise
            log.warning("Kafka not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1.0)
        finally:
            await admin.close()


def event_headers(envelope: Envelope) -> dict[str, str]:
    """Headers that let tools filter events without parsing the body."""
    return {
        "event-type": envelope.type,
        "schema-version": str(envelope.schema_version),
        "event-id": str(envelope.event_id),
        "content-type": "application/json",
    }


async def publish_event(broker: KafkaBroker, topic: str, envelope: Envelope) -> None:
    """Append one event to the log, keyed by complaint, returning once ``acks=all`` confirmed."""
    await broker.publish(
        encode_event(envelope),
        topic=topic,
        key=str(envelope.complaint_id).encode(),
        headers=event_headers(envelope),
    )
    EVENTS_PUBLISHED.labels(envelope.type).inc()


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``, asking the broker when the client has no metadata yet."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Partition → offset after the last record of ``topic`` now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await topic_partitions(consumer, topic))
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_to_end(
    bootstrap: str, topic: str, *, max_records: int = 5000
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches of every record of ``topic`` from offset 0 up to its end offsets at the call.

    Outside any consumer group (it never joins, never commits): for tools that read the log
    (dead letters, repartitioning, tests), not for services.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        request_timeout_ms=15000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        if not remaining:
            return
        consumer.assign(list(remaining))
        await consumer.seek_to_beginning(*remaining)
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000, max_records=max_records)
            batch = [r for tp, got in fetched.items() for r in got if r.offset < ends[tp]]
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if batch:
                yield batch
    finally:
        await consumer.stop()

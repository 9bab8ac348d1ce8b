"""Kafka: the broker client every service uses, topic creation, and publishing an event."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import struct
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    TopicAlreadyExistsError,
    UnsupportedSaslMechanismError,
)
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata
from faststream.kafka import KafkaBroker
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from contracts import Envelope, encode_event
from services.runtime.metrics import EVENTS_PUBLISHED
from services.runtime.settings import Settings, kafka_ssl_context

log = logging.getLogger(__name__)

# The log is the truth and is kept forever.
KEEP_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}


_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def kafka_security(settings: Settings) -> BaseSecurity | None:
    """FastStream's security object for ``COMPLAINTS_KAFKA_SECURITY_PROTOCOL`` and friends
    (``None``: PLAINTEXT). The one place the settings become client security."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings) if protocol.endswith("SSL") else None
    if protocol.startswith("SASL_"):
        sasl = _SASL[settings.kafka_sasl_mechanism]
        return sasl(
            settings.kafka_sasl_username,
            settings.kafka_sasl_password,
            ssl_context=context,
            use_ssl=context is not None,
        )
    if context is not None:
        return BaseSecurity(ssl_context=context)
    return None


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of every raw aiokafka client (producer, consumer, admin): the
    bootstrap servers and the same security the FastStream broker gets."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        **parse_security(kafka_security(settings)),
    }


def _options(target: str | Settings) -> dict[str, Any]:
    """Client options of a ``Settings``, or of a bare ``host:port`` (PLAINTEXT; tests, tools)."""
    if isinstance(target, Settings):
        return client_options(target)
    return {"bootstrap_servers": target}


def make_broker(settings: Settings, *, client_id: str) -> KafkaBroker:
    """A FastStream broker whose producer cannot silently lose or double a write.

    aiokafka defaults to ``acks=1`` without idempotence; both are set explicitly here.
    """
    return KafkaBroker(
        settings.kafka_bootstrap,
        security=kafka_security(settings),
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        request_timeout_ms=int(settings.publish_timeout_s * 1000),
        linger_ms=1,
        partitioner=partition_for_key,
        # FastStream's "Received"/"Processed" per batch: through our JSON handler, at debug.
        logger=logging.getLogger("faststream.kafka"),
        log_level=logging.DEBUG,
    )


class KafkaAccessRefused(RuntimeError):
    """The brokers answer but refuse this client: credentials or TLS trust are wrong."""


async def access_refused(settings: Settings, *, timeout_s: float = 5.0) -> str | None:
    """Why the brokers refuse this client, when they do (a wrong SASL user, password or
    mechanism, a broker certificate the client does not trust); ``None`` when they accept it
    or are merely unreachable (then waiting may help; here it cannot).

    aiokafka's clients only say "Unable to bootstrap" and log the cause: one direct
    connection to each bootstrap server finds it.
    """
    options = parse_security(kafka_security(settings))
    for server in (s.strip() for s in settings.kafka_bootstrap.split(",")):
        host, _, port = server.rpartition(":")
        if not port.isdigit():
            continue
        try:
            conn = await create_conn(
                host.strip("[]"), int(port), request_timeout_ms=int(timeout_s * 1000), **options
            )
        except (SaslAuthenticationFailed, AuthenticationFailedError) as exc:
            return (
                f"{server} refused the SASL {settings.kafka_sasl_mechanism} login of "
                f"{settings.kafka_sasl_username!r} ({exc}): check COMPLAINTS_KAFKA_SASL_USERNAME, "
                "COMPLAINTS_KAFKA_SASL_PASSWORD and COMPLAINTS_KAFKA_SASL_MECHANISM"
            )
        except UnsupportedSaslMechanismError as exc:
            return (
                f"{server} does not offer SASL {settings.kafka_sasl_mechanism} ({exc}): "
                "check COMPLAINTS_KAFKA_SASL_MECHANISM"
            )
        except ssl.SSLCertVerificationError as exc:
            return (
                f"{server}: the broker's TLS certificate is not trusted ({exc.verify_message}): "
                "COMPLAINTS_KAFKA_SSL_CAFILE must name the CA that signed it"
            )
        except ssl.SSLError as exc:
            return (
                f"{server}: TLS handshake failed ({exc}): does this listener speak "
                f"COMPLAINTS_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol}?"
            )
        except (OSError, KafkaError, TimeoutError):
            continue
        conn.close()
    return None


class TopicMismatch(RuntimeError):
    """Existing topics keep fewer copies than the settings ask for."""


def topic_configs(settings: Settings) -> dict[str, str]:
    """The configs of every topic the platform creates: kept forever, and the settings'
    ``min.insync.replicas``."""
    return {**KEEP_FOREVER, "min.insync.replicas": str(settings.kafka_min_insync_replicas)}


def transient_topic_configs(settings: Settings) -> dict[str, str]:
    """The configs of the topics that carry the channels' records in clear (the submissions
    topic and its dead letters): kept ``COMPLAINTS_SUBMISSIONS_RETENTION_MS`` only, so that
    they never become a second, unerasable register of personal data."""
    return {**topic_configs(settings), "retention.ms": str(settings.submissions_retention_ms)}


def watermark_topic_configs(settings: Settings) -> dict[str, str]:
    """The configs of the watermarks topic: a reader wants only the latest record, so an
    hour is kept, in segments of ten minutes."""
    return {**topic_configs(settings), "retention.ms": "3600000", "segment.ms": "600000"}


def transient_topics(settings: Settings) -> list[str]:
    """The topics made with ``transient_topic_configs``."""
    return [settings.topic_submissions, settings.submissions_deadletter_topic]


def wanted_topics(settings: Settings, extra: Iterable[str] = ()) -> list[NewTopic]:
    """The platform's topics as the settings want them created."""
    rf, configs = settings.kafka_replication_factor, topic_configs(settings)
    transient = transient_topic_configs(settings)
    wanted = [
        NewTopic(settings.topic_events, settings.events_partitions, rf, topic_configs=configs),
        NewTopic(
            settings.topic_submissions, settings.events_partitions, rf, topic_configs=transient
        ),
        NewTopic(settings.topic_deadletter, 1, rf, topic_configs=configs),
        NewTopic(settings.submissions_deadletter_topic, 1, rf, topic_configs=transient),
        NewTopic(settings.topic_watermarks, 1, rf, topic_configs=watermark_topic_configs(settings)),
    ]
    known = {t.name for t in wanted}
    for name in dict.fromkeys(extra):
        if name not in known:
            wanted.append(NewTopic(name, settings.events_partitions, rf, topic_configs=configs))
    return wanted


async def topic_durability(
    admin: AIOKafkaAdminClient, names: list[str]
) -> dict[str, tuple[int, int]]:
    """Topic → (fewest replicas of any partition, effective ``min.insync.replicas``)."""
    replicas: dict[str, int] = {}
    for topic in await admin.describe_topics(names):
        partitions = topic.get("partitions") or []
        if partitions:
            replicas[topic["topic"]] = min(len(p["replicas"]) for p in partitions)
    resources = [ConfigResource(ConfigResourceType.TOPIC, name, configs=None) for name in replicas]
    isr: dict[str, int] = {}
    for response in await admin.describe_configs(resources) if resources else []:
        for _code, _message, _type, name, entries in response.resources:
            for entry in entries:
                if entry[0] == "min.insync.replicas":
                    isr[name] = int(entry[1])
    return {name: (replicas[name], isr.get(name, 1)) for name in replicas}


def durability_mismatches(
    settings: Settings, found: dict[str, tuple[int, int]]
) -> tuple[list[str], list[str]]:
    """(weaker than the settings: refused, stronger: only noted) for each topic in ``found``."""
    rf, isr = settings.kafka_replication_factor, settings.kafka_min_insync_replicas
    weaker, stronger = [], []
    for name, (has_rf, has_isr) in sorted(found.items()):
        if has_rf < rf or has_isr < isr:
            weaker.append(
                f"{name}: replication factor {has_rf}, min.insync.replicas {has_isr} "
                f"(COMPLAINTS_KAFKA_REPLICATION_FACTOR={rf}, "
                f"COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS={isr})"
            )
        elif (has_rf, has_isr) != (rf, isr):
            stronger.append(f"{name}: replication factor {has_rf}, min.insync.replicas {has_isr}")
    return weaker, stronger


async def ensure_topics(
    settings: Settings, *, extra: Iterable[str] = (), timeout_s: float = 60.0
) -> None:
    """Create the platform's topics if missing (the broker does not auto-create topics), with
    the settings' replication factor and ``min.insync.replicas``; refuse to go on when an
    existing topic keeps fewer copies than the settings ask for (``TopicMismatch``), and at
    once when the brokers refuse the client's credentials or TLS (``KafkaAccessRefused``).

    ``extra`` names more topics a service uses, made like the events topic (kept forever).
    """
    wanted = wanted_topics(settings, extra)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(**client_options(settings))
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t.name not in existing]
            if missing:
                try:
                    await admin.create_topics(missing)
                except TopicAlreadyExistsError:  # another service created it meanwhile
                    pass
                log.info(
                    "created topics %s (replication factor %s, min.insync.replicas %s)",
                    [t.name for t in missing],
                    settings.kafka_replication_factor,
                    settings.kafka_min_insync_replicas,
                )
            present = [t.name for t in wanted if t.name in existing]
            await _keep_transient_short(admin, settings, present)
            weaker, stronger = durability_mismatches(
                settings, await topic_durability(admin, present) if present else {}
            )
            if stronger:
                log.info("topics keep more copies than the settings ask: %s", stronger)
            if weaker:
                raise TopicMismatch(
                    "existing topics keep fewer copies than the settings ask for: "
                    + "; ".join(weaker)
                    + ". Raise them (kafka-reassign-partitions.sh for the replicas, "
                    "kafka-configs.sh --alter --add-config min.insync.replicas=N) or correct "
                    "the settings (docs/operations.md, 'Kafka for real deployments')"
                )
            return
        except (KafkaConnectionError, OSError) as exc:
            refused = await access_refused(settings)
            if refused is not None:  # waiting will not change the credentials
                raise KafkaAccessRefused(refused) from exc
            if loop.time() > deadline:
                raise
            log.warning("Kafka not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1.0)
        finally:
            await admin.close()


async def _keep_transient_short(
    admin: AIOKafkaAdminClient, settings: Settings, present: list[str]
) -> None:
    """Apply the short retention to transient topics made before it (or with another value).
    AlterConfigs replaces a topic's whole set of configs, so the whole set is given."""
    names = [n for n in transient_topics(settings) if n in present]
    if not names:
        return
    wanted = str(settings.submissions_retention_ms)
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, configs=None) for n in names]
    )
    stale = []
    for response in described:
        for _, _, _, name, entries in response.resources:
            current = {entry[0]: entry[1] for entry in entries}
            if current.get("retention.ms") != wanted:
                stale.append(name)
    if stale:
        configs = transient_topic_configs(settings)
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, configs=configs) for n in stale]
        )
        log.info("retention.ms of %s set to %s", stale, wanted)


EVENT_TYPE = "event-type"
"""The header that names an event's type (``event_headers``): consumers and tools filter by it
without parsing the body."""


def event_headers(envelope: Envelope) -> dict[str, str]:
    """Headers that let tools filter events without parsing the body."""
    return {
        EVENT_TYPE: envelope.type,
        "schema-version": str(envelope.schema_version),
        "event-id": str(envelope.event_id),
        "content-type": "application/json",
    }


def complaint_key(complaint_id: UUID) -> bytes:
    """The key every event about a complaint is appended with: its events share a partition,
    which keeps them in order."""
    return str(complaint_id).encode()


def partition_of(complaint_id: UUID, partitions: int) -> int:
    """The partition of a topic of ``partitions`` that the complaint's events are appended to:
    asked of the producers' own partitioner (``partition_for_key``, as the Java client's:
    murmur2 of the key). Adding partitions to a live topic moves keys, as for any keyed topic:
    the events appended before it stay where they were."""
    return partition_for_key(complaint_key(complaint_id), range(partitions), ())


def partition_for_key(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """The partition of a record keyed ``key``: aiokafka's ``DefaultPartitioner`` (the Java
    client's: ``murmur2`` of the key, made positive, modulo the partitions), with
    ``murmur2`` below. A record without a key goes where the default sends it."""
    if key is None:
        chosen: int = _DEFAULT_PARTITIONER(key, list(all_partitions), list(available))
        return chosen
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


_DEFAULT_PARTITIONER = DefaultPartitioner()
_M = 0x5BD1E995
_U32 = 0xFFFFFFFF


@functools.cache
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data``, the value of aiokafka's ``murmur2`` (and the Java
    client's ``Utils.murmur2`` as unsigned) in half its time: the little-endian words are read
    in one ``struct`` call and no value is masked twice. It was the largest step of aiokafka's
    ``send`` for every event the services append (4.8 µs of 31 for a complaint's key, 2.5 here).
    """
    length = len(data)
    h = 0x9747B28C ^ length
    count = length >> 2
    for k in _words(count).unpack_from(data):
        k = (k * _M) & _U32
        k ^= k >> 24
        h = ((h * _M) & _U32) ^ ((k * _M) & _U32)
    rest = length & 3
    if rest:
        tail = count << 2
        if rest == 3:
            h ^= data[tail + 2] << 16
        if rest >= 2:
            h ^= data[tail + 1] << 8
        h = ((h ^ data[tail]) * _M) & _U32
    h ^= h >> 13
    h = (h * _M) & _U32
    return h ^ (h >> 15)


def producer_of(broker: KafkaBroker) -> AIOKafkaProducer:
    """The broker's own aiokafka producer (idempotent, ``acks=all``: ``make_broker``), started
    with the broker: the hot paths hand their records to it directly.

    FastStream's ``publish`` costs about 27 µs of CPU a record on top of aiokafka's ``send``
    (68 against 41 µs a send, 64 at a time, on this machine): a command object, the codec, a
    correlation id (a ``uuid4``) in a header nobody reads, its middleware layers. Intake
    publishes one record a request and the outbox relays one an event. FastStream 0.7 keeps
    the producer in ``config.producer._producer.producer``; the relay's and ``publish_event``'s
    tests (``tests/integration/test_outbox_relay.py``) fail if that moves.
    """
    state = getattr(broker.config.producer, "_producer", None)
    producer = state.producer if state else None  # an unstarted broker's state is falsy
    if not isinstance(producer, AIOKafkaProducer):
        raise RuntimeError("the broker has no started aiokafka producer (is it started?)")
    return producer


async def send(
    broker: KafkaBroker, topic: str, value: bytes, *, key: bytes, headers: dict[str, str]
) -> asyncio.Future[RecordMetadata]:
    """Hand one record to the broker's producer; the future is its acknowledgement."""
    future: asyncio.Future[RecordMetadata] = await producer_of(broker).send(
        topic, value, key=key, headers=[(name, text.encode()) for name, text in headers.items()]
    )
    return future


async def publish_event(
    broker: KafkaBroker, topic: str, envelope: Envelope, *, within: float | None = None
) -> None:
    """Append one event to the log, keyed by complaint, returning once ``acks=all`` confirmed.

    ``within``: seconds from now until ``TimeoutError`` if the acknowledgement has not come.
    The idempotent producer never gives up on a record itself (it retries until the broker
    takes it), so a caller that must answer needs this bound. Handing the record over is
    bounded by the producer's ``request_timeout_ms`` (``make_broker``: the same
    ``publish_timeout_s``); the acknowledgement is failed at the deadline by one timer of the
    loop, where ``asyncio.timeout`` took 4 µs of Python a request (aiokafka skips a record's
    future that is already done when the broker answers).
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    acked = await send(
        broker,
        topic,
        encode_event(envelope),
        key=complaint_key(envelope.complaint_id),
        headers=event_headers(envelope),
    )
    if within is None:
        await acked
    else:
        expiry = loop.call_at(started + within, _unacknowledged, acked, within)
        try:
            await acked
        finally:
            expiry.cancel()
    EVENTS_PUBLISHED.labels(envelope.type).inc()


def _unacknowledged(acked: asyncio.Future[RecordMetadata], within: float) -> None:
    if not acked.done():
        acked.set_exception(TimeoutError(f"the log did not acknowledge within {within} s"))


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``, asking the broker when the client has no metadata yet."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def end_offsets(bootstrap: str | Settings, topic: str) -> dict[int, int]:
    """Partition → offset after the last record of ``topic`` now (``bootstrap``: the settings,
    or a bare ``host:port`` for a PLAINTEXT broker)."""
    consumer = AIOKafkaConsumer(**_options(bootstrap), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await topic_partitions(consumer, topic))
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def read_to_end(
    bootstrap: str | Settings, topic: str, *, max_records: int = 5000
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches of every record of ``topic`` from offset 0 up to its end offsets at the call.

    Outside any consumer group (it never joins, never commits): for tools that read the log
    (dead letters, repartitioning, tests), not for services.
    """
    consumer = AIOKafkaConsumer(
        **_options(bootstrap),
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

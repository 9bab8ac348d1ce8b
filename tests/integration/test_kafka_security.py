"""The platform's own Kafka clients against a broker that demands SASL and TLS.

A throw-away broker (tests/secure_kafka.py: its own process, ports and directory; the shared
broker on 9092 is not touched) with SASL_PLAINTEXT, SASL_SSL and SSL listeners and a CA made
with openssl. Everything goes through ``services.runtime.kafka``: ``make_broker`` (FastStream,
publishing and a subscriber), ``ensure_topics`` (admin client), ``read_to_end`` and
``end_offsets`` (raw aiokafka consumers) — the clients the services and the CLI use.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError

from services.runtime.kafka import (
    KafkaAccessRefused,
    TopicMismatch,
    client_options,
    end_offsets,
    ensure_topics,
    make_broker,
    read_to_end,
)
from services.runtime.settings import Settings
from tests.secure_kafka import USERS, SecureBroker, start_secure_broker

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    broker = start_secure_broker(Path(tmp_path_factory.mktemp("secure-kafka")))
    try:
        yield broker
    finally:
        broker.stop()


def settings_for(bootstrap: str, **kafka: Any) -> Settings:
    prefix = f"sec.{uuid.uuid4().hex[:8]}"
    return Settings(
        kafka_bootstrap=bootstrap,
        topic_events=f"{prefix}.events",
        topic_submissions=f"{prefix}.submissions",
        topic_deadletter=f"{prefix}.deadletter",
        events_partitions=3,
        **kafka,
    )


def sasl(secure: SecureBroker, **more: Any) -> Settings:
    kafka = {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_username": "intake",
        "kafka_sasl_password": USERS["intake"],
    }
    return settings_for(secure.sasl_plaintext, **(kafka | more))


TOPIC_CONFIG = 1  # DescribeConfigs' config source: set on the topic itself


async def topic_configs(settings: Settings, topic: str) -> dict[str, tuple[str, int]]:
    """Config name → (value, where it comes from) of ``topic``."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        (response,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs=None)],
            include_synonyms=True,  # v1+: the entry's 4th field is its source
        )
        ((_code, _msg, _type, _name, entries),) = response.resources
        return {entry[0]: (entry[1], int(entry[3])) for entry in entries}
    finally:
        await admin.close()


async def publish_and_read(settings: Settings, count: int) -> list[bytes]:
    """Publish ``count`` records with the services' broker; read them back with the tools'
    consumer, and with a FastStream subscriber of the same broker factory."""
    await ensure_topics(settings, timeout_s=30)
    topic = settings.topic_events
    sent = [f"record-{n}".encode() for n in range(count)]
    broker = make_broker(settings, client_id="security-test")
    seen: list[bytes] = []
    all_seen = asyncio.Event()

    @broker.subscriber(topic, group_id=f"{topic}.group", auto_offset_reset="earliest")
    async def handle(body: bytes) -> None:
        seen.append(body)
        if len(seen) >= count:
            all_seen.set()

    await broker.start()
    try:
        for n, body in enumerate(sent):
            await broker.publish(body, topic=topic, key=f"k{n % 5}".encode())
        await asyncio.wait_for(all_seen.wait(), timeout=60)
    finally:
        await broker.stop()
    assert sorted(seen) == sorted(sent)
    assert sum((await end_offsets(settings, topic)).values()) == count
    read = [r.value for batch in [b async for b in read_to_end(settings, topic)] for r in batch]
    return sorted(v for v in read if v is not None)


async def test_sasl_plaintext_publishes_consumes_and_creates_topics_with_their_configs(
    secure: SecureBroker,
) -> None:
    settings = sasl(secure)
    assert await publish_and_read(settings, 12) == sorted(f"record-{n}".encode() for n in range(12))
    configs = await topic_configs(settings, settings.topic_events)
    # Set on the topic itself, not inherited from the broker's default.
    assert configs["min.insync.replicas"] == ("1", TOPIC_CONFIG)
    assert configs["retention.ms"] == ("-1", TOPIC_CONFIG)


async def test_a_wrong_password_is_refused_at_once_naming_the_variables(
    secure: SecureBroker,
) -> None:
    wrong = sasl(secure, kafka_sasl_password="not-the-password")
    with pytest.raises(KafkaAccessRefused) as refused:
        await ensure_topics(wrong, timeout_s=60)
    message = str(refused.value)
    assert "refused the SASL PLAIN login of 'intake'" in message
    assert "COMPLAINTS_KAFKA_SASL_PASSWORD" in message
    # The other clients cannot get in either (aiokafka's own error).
    with pytest.raises(KafkaConnectionError):
        await end_offsets(wrong, "anything")


async def test_a_client_without_credentials_gets_nothing(secure: SecureBroker) -> None:
    plain = settings_for(secure.sasl_plaintext)  # PLAINTEXT against the SASL listener
    with pytest.raises(KafkaConnectionError):
        await ensure_topics(plain, timeout_s=2)


async def test_sasl_ssl_with_the_ca_works_and_without_it_is_refused(
    secure: SecureBroker,
) -> None:
    settings = settings_for(
        secure.sasl_ssl,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="intake",
        kafka_sasl_password=USERS["intake"],
        kafka_ssl_cafile=str(secure.ca_file),
    )
    assert await publish_and_read(settings, 5) == sorted(f"record-{n}".encode() for n in range(5))

    untrusted = settings.model_copy(update={"kafka_ssl_cafile": ""})  # the system's CAs
    with pytest.raises(KafkaAccessRefused) as refused:
        await ensure_topics(untrusted, timeout_s=60)
    assert "TLS certificate is not trusted" in str(refused.value)
    assert "COMPLAINTS_KAFKA_SSL_CAFILE" in str(refused.value)


async def test_ssl_without_sasl(secure: SecureBroker) -> None:
    settings = settings_for(
        secure.ssl, kafka_security_protocol="SSL", kafka_ssl_cafile=str(secure.ca_file)
    )
    assert await publish_and_read(settings, 3) == sorted(f"record-{n}".encode() for n in range(3))


async def test_existing_topics_with_fewer_copies_than_asked_are_refused(
    secure: SecureBroker,
) -> None:
    settings = sasl(secure)
    await ensure_topics(settings, timeout_s=30)  # replication factor 1 (one broker)
    asking = settings.model_copy(
        update={"kafka_replication_factor": 2, "kafka_min_insync_replicas": 2}
    )
    with pytest.raises(TopicMismatch) as mismatch:
        await ensure_topics(asking, timeout_s=30)
    message = str(mismatch.value)
    for topic in (settings.topic_events, settings.topic_submissions, settings.topic_deadletter):
        assert f"{topic}: replication factor 1, min.insync.replicas 1" in message
    assert "COMPLAINTS_KAFKA_REPLICATION_FACTOR=2" in message
    # The same settings as the topics: accepted again.
    await ensure_topics(settings, timeout_s=30)

"""The testcontainers path (``COMPLAINTS_TEST_INFRA=testcontainers`` where a Docker engine
exists): the same Kafka and PostgreSQL images as ``docker-compose.yml``.

testcontainers' ``KafkaContainer`` is written for Confluent's ``cp-kafka`` image: ``with_kraft()``
refuses any tag below 7.0.0 (Confluent's numbering, so ``apache/kafka:4.1.1`` is refused) and
its start script runs ``/etc/confluent/docker/*``, which Apache's image does not have.
``ApacheKafkaContainer`` keeps the library's plumbing (ports, listeners, the start script written
once the mapped port is known, the log wait) and speaks Apache's image: KRaft always, the
image's own ``/etc/kafka/docker/run`` (which formats the storage with ``CLUSTER_ID``).

Construction needs no engine when given an explicit API version (``docker_client_kw``), which
``tests/unit/test_testcontainers_config.py`` uses to check the configuration without Docker.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

from testcontainers.community.kafka import KafkaContainer  # type: ignore[import-untyped]
from testcontainers.community.postgres import PostgresContainer  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
KAFKA_IMAGE = "apache/kafka:4.1.1"  # as docker-compose.yml (a unit test keeps them equal)
POSTGRES_IMAGE = "postgres:15.18"
POSTGRES_INIT_SQL = ROOT / "deploy" / "postgres" / "init.sql"
KAFKA_START_SCRIPT = "/tc-start.sh"

# What the platform needs of a single broker (as in docker-compose.yml and the local broker).
KAFKA_ENV = {
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    "KAFKA_HEAP_OPTS": "-Xms512m -Xmx512m",
}


class ApacheKafkaContainer(KafkaContainer):  # type: ignore[misc]
    """Apache's own Kafka image (4.x, KRaft only) under testcontainers' ``KafkaContainer``."""

    def __init__(self, image: str = KAFKA_IMAGE, **kwargs: Any) -> None:
        super().__init__(image, **kwargs)
        self.kraft_enabled = True  # Apache's 4.x images have no ZooKeeper mode at all
        self.env.pop("KAFKA_BROKER_ID", None)  # ZooKeeper-era name; KRaft's is KAFKA_NODE_ID
        for key, value in KAFKA_ENV.items():
            self.with_env(key, value)

    def with_kraft(self) -> ApacheKafkaContainer:
        """Always KRaft; skips the library's Confluent-version check (``4.1.1 < 7.0.0``)."""
        self.kraft_enabled = True
        return self

    def _configure_kraft(self) -> None:
        super()._configure_kraft()  # node id, CONTROLLER listener, quorum voters, CLUSTER_ID
        self.boot_command = ""  # the Confluent-only `sed`/`kafka-storage` lines: not needed

    def start_script(self, host: str, port: int) -> str:
        """The script the container runs once the host's mapped port is known."""
        return dedent(
            f"""\
            #!/bin/sh
            export KAFKA_ADVERTISED_LISTENERS={self.listener_name}://{host}:{port},BROKER://$(hostname -i | cut -d' ' -f1):9092
            exec /etc/kafka/docker/run
            """  # noqa: E501
        )

    def tc_start(self) -> None:
        host = self.get_container_host_ip()
        port = int(self.get_exposed_port(self.port))
        self.create_file(self.start_script(host, port).encode(), KAFKA_START_SCRIPT)

    def start(self, timeout: int = 120) -> ApacheKafkaContainer:
        """The library's start (configure, wait for the script, run it with ``sh``, wait for
        "Kafka Server started"), with time for a JVM on a busy CI machine."""
        super().start(timeout=timeout)
        return self


def kafka_container(**kwargs: Any) -> ApacheKafkaContainer:
    """The test session's broker."""
    return ApacheKafkaContainer(KAFKA_IMAGE, **kwargs)


def postgres_container(**kwargs: Any) -> PostgresContainer:
    """The test session's PostgreSQL, with the roles of ``deploy/postgres/init.sql``."""
    container = PostgresContainer(
        POSTGRES_IMAGE,
        username="complaints",
        password="complaints",  # a throw-away container of the test session
        dbname="complaints",
        driver=None,  # postgresql://… as asyncpg takes it
        **kwargs,
    )
    container.with_volume_mapping(
        str(POSTGRES_INIT_SQL), "/docker-entrypoint-initdb.d/10-roles.sql", "ro"
    )
    return container

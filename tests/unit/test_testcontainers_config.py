"""The testcontainers path is only taken where a Docker engine exists, which is not here: build
its containers without an engine (an explicit API version keeps docker-py from asking one) and
check what they would run, so the path cannot rot unseen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from testcontainers.community.kafka import KafkaContainer  # type: ignore[import-untyped]

from tests.containers import (
    KAFKA_IMAGE,
    KAFKA_START_SCRIPT,
    POSTGRES_IMAGE,
    POSTGRES_INIT_SQL,
    ApacheKafkaContainer,
    kafka_container,
    postgres_container,
)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NO_ENGINE = {"version": "1.44"}  # docker-py connects only to negotiate a version


def test_the_images_are_the_ones_compose_runs() -> None:
    assert COMPOSE["services"]["kafka"]["image"] == KAFKA_IMAGE
    assert COMPOSE["services"]["postgres"]["image"] == POSTGRES_IMAGE


def test_the_library_container_refuses_apaches_image() -> None:
    # Why the subclass exists: the library checks Confluent's version numbers.
    with pytest.raises(ValueError, match="not supported in Kraft mode"):
        KafkaContainer(KAFKA_IMAGE, docker_client_kw=NO_ENGINE).with_kraft()


def test_kafka_container_is_a_kraft_broker_of_apaches_image() -> None:
    kafka = kafka_container(docker_client_kw=NO_ENGINE)
    assert isinstance(kafka, ApacheKafkaContainer)
    assert kafka.with_kraft() is kafka  # no version check
    kafka.configure()
    assert kafka.image.endswith(KAFKA_IMAGE)
    assert set(kafka.ports) == {str(kafka.port)}  # only the client listener is published
    env = {k: str(v) for k, v in kafka.env.items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_NODE_ID"] == "1" and "KAFKA_BROKER_ID" not in env
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9094"
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    listeners = env["KAFKA_LISTENERS"].split(",")
    assert f"PLAINTEXT://0.0.0.0:{kafka.port}" in listeners
    assert {"BROKER://0.0.0.0:9092", "CONTROLLER://0.0.0.0:9094"} <= set(listeners)
    assert "CONTROLLER:PLAINTEXT" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
    assert env["CLUSTER_ID"]  # Apache's launch script formats the storage with it
    # The platform's needs of a single broker, as in docker-compose.yml.
    compose_env = COMPOSE["services"]["kafka"]["environment"]
    for key in (
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE",
    ):
        assert env[key] == str(compose_env[key]), key
    assert not kafka.boot_command  # nothing of Confluent's /etc/confluent/docker


def test_kafka_start_script_advertises_the_mapped_port_and_runs_apaches_entrypoint() -> None:
    kafka = kafka_container(docker_client_kw=NO_ENGINE)
    script = kafka.start_script("192.0.2.7", 32771)
    assert "export KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://192.0.2.7:32771,BROKER://" in script
    assert script.rstrip().endswith("exec /etc/kafka/docker/run")
    assert "confluent" not in script
    assert KAFKA_START_SCRIPT.startswith("/")


def test_postgres_container_gets_the_roles_and_a_plain_url() -> None:
    pg = postgres_container(docker_client_kw=NO_ENGINE)
    pg._configure()
    assert pg.image.endswith(POSTGRES_IMAGE)
    assert set(pg.ports) == {"5432"}
    assert pg.env == {
        "POSTGRES_USER": "complaints",
        "POSTGRES_PASSWORD": "complaints",
        "POSTGRES_DB": "complaints",
    }
    assert pg.volumes[str(POSTGRES_INIT_SQL)] == {
        "bind": "/docker-entrypoint-initdb.d/10-roles.sql",
        "mode": "ro",
    }
    assert POSTGRES_INIT_SQL.exists()
    assert pg.driver == ""  # get_connection_url() gives postgresql://…, as asyncpg takes it

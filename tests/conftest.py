"""Fixtures for tests against the real system.

The infrastructure is the project's own: a real Kafka broker (KRaft, Apache's jars from Maven
Central) and a real PostgreSQL, started by ``deploy.local.infra`` or reused when already running
(``make up``). With ``COMPLAINTS_TEST_INFRA=testcontainers`` and a Docker engine, testcontainers
provides them instead.

Each test session is isolated from the developer's data: its own database
(``complaints_test_<run>``) and its own topics (``test.<run>.complaints.*``). The services run as
real processes (``python -m services.<name>``) on free ports.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from deploy.local import infra, stack

RUN = uuid.uuid4().hex[:8]


@dataclass
class Infra:
    """Where the real broker and database of this test session are."""

    kafka_bootstrap: str
    admin_database_url: str  # the database the test databases are created from
    home: Path


@dataclass
class RunningSystem:
    """The environment of this session's services, and how to reach them."""

    env: dict[str, str]
    database_url: str
    topics: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: Path = Path()

    def start(self, name: str) -> None:
        """Start (or restart) one service and wait for its health check."""
        port = int(self.env[f"COMPLAINTS_{name.upper()}_PORT"])
        self.procs[name] = stack.start_service(
            name, env=self.env, log_path=self.logs / f"{name}.log"
        )
        stack.wait_healthy({name: port}, timeout=60, logs=self.logs)
        self.urls[name] = f"http://127.0.0.1:{port}"

    def kill(self, name: str) -> None:
        """SIGKILL one service: no shutdown hooks, no flushing (a crash)."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        """SIGTERM one service and wait: it leaves its consumer group cleanly."""
        proc = self.procs.pop(name)
        proc.terminate()
        proc.wait(timeout=20)

    def stop_all(self) -> None:
        """Terminate every service this session started."""
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def real_infra() -> Iterator[Infra]:
    """The real Kafka and PostgreSQL: testcontainers if asked for, else local processes."""
    if os.environ.get("COMPLAINTS_TEST_INFRA") == "testcontainers":
        yield from _testcontainers_infra()
        return
    cfg = infra.InfraConfig.from_env()
    before = infra.status(cfg)
    infra.ensure_kafka(cfg)
    infra.ensure_postgres(cfg)
    try:
        yield Infra(
            kafka_bootstrap=f"127.0.0.1:{cfg.kafka_port}",
            admin_database_url=cfg.database_url,
            home=cfg.home,
        )
    finally:
        # Leave the machine as found: stop only what this session started.
        if not before["kafka"]["running"]:
            infra.stop_kafka(cfg)
        if not before["postgres"]["running"]:
            infra.stop_postgres(cfg)


def _testcontainers_infra() -> Iterator[Infra]:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(f"COMPLAINTS_TEST_INFRA=testcontainers but no Docker engine answers: {exc}")
    from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

    with (
        KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka,
        PostgresContainer(
            "postgres:15", username="complaints", password="complaints", dbname="complaints"
        ) as pg,
    ):
        url = pg.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield Infra(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            admin_database_url=url,
            home=Path(".local"),
        )


@pytest.fixture(scope="session")
async def test_database(real_infra: Infra) -> AsyncIterator[str]:
    """A fresh database for this session, dropped at the end."""
    name = f"complaints_test_{RUN}"
    admin = await asyncpg.connect(real_infra.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(real_infra.admin_database_url, name)
    admin = await asyncpg.connect(real_infra.admin_database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def test_topics(real_infra: Infra) -> AsyncIterator[dict[str, str]]:
    """This session's topic names; the topics are deleted at the end."""
    topics = {
        kind: f"test.{RUN}.complaints.{kind}" for kind in ("events", "submissions", "deadletter")
    }
    yield topics
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=real_infra.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.delete_topics([t for t in topics.values() if t in existing])
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def system_env(
    real_infra: Infra, test_database: str, test_topics: dict[str, str]
) -> dict[str, str]:
    """The ``COMPLAINTS_*`` environment of this session's services."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "COMPLAINTS_ENV": "local",
        "COMPLAINTS_KAFKA_BOOTSTRAP": real_infra.kafka_bootstrap,
        "COMPLAINTS_DATABASE_URL": test_database,
        "COMPLAINTS_TOPIC_EVENTS": test_topics["events"],
        "COMPLAINTS_TOPIC_SUBMISSIONS": test_topics["submissions"],
        "COMPLAINTS_TOPIC_DEADLETTER": test_topics["deadletter"],
        "COMPLAINTS_PUBLISH_TIMEOUT_S": "5",
    }
    for name in stack.SERVICES:
        env[f"COMPLAINTS_{name.upper()}_PORT"] = str(free_port())
    return env


@pytest.fixture(scope="session")
def system(real_infra: Infra, system_env: dict[str, str]) -> Iterator[RunningSystem]:
    """All four services running as real processes against the real broker and database."""
    sys_ = RunningSystem(
        env=system_env,
        database_url=system_env["COMPLAINTS_DATABASE_URL"],
        topics={
            k: system_env[f"COMPLAINTS_TOPIC_{k.upper()}"]
            for k in ("events", "submissions", "deadletter")
        },
        logs=real_infra.home / "logs" / f"test-{RUN}",
    )
    try:
        for name in stack.SERVICES:
            sys_.start(name)
        yield sys_
    finally:
        sys_.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the services."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client

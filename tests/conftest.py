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
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from deploy.local import infra, sandbox, stack
from deploy.local.sandbox import RunningSystem, free_port

RUN = uuid.uuid4().hex[:8]
__all__ = ["RUN", "Infra", "RunningSystem", "free_port"]  # tests import these from here


@dataclass
class Infra:
    """Where the real broker and database of this test session are."""

    kafka_bootstrap: str
    admin_database_url: str  # the database the test databases are created from
    home: Path


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
    from tests.containers import kafka_container, postgres_container

    # The images of docker-compose.yml; see tests/containers.py for why Kafka needs a subclass.
    with kafka_container() as kafka, postgres_container() as pg:
        yield Infra(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            admin_database_url=pg.get_connection_url(),
            home=Path(".local"),
        )


@pytest.fixture(scope="session")
async def test_database(real_infra: Infra) -> AsyncIterator[str]:
    """A fresh database for this session, dropped at the end."""
    name = f"complaints_test_{RUN}"
    yield await sandbox.create_database(real_infra.admin_database_url, name)
    await sandbox.drop_database(real_infra.admin_database_url, name)


@pytest.fixture(scope="session")
async def test_topics(real_infra: Infra) -> AsyncIterator[dict[str, str]]:
    """This session's topic names; the topics are deleted at the end."""
    topics = sandbox.topic_names(f"test.{RUN}")
    yield topics
    await sandbox.delete_topics(real_infra.kafka_bootstrap, topics.values())


@pytest.fixture(scope="session")
def system_env(
    real_infra: Infra, test_database: str, test_topics: dict[str, str]
) -> dict[str, str]:
    """The ``COMPLAINTS_*`` environment of this session's services."""
    return sandbox.environment(
        bootstrap=real_infra.kafka_bootstrap,
        database_url=test_database,
        topics=test_topics,
        COMPLAINTS_PUBLISH_TIMEOUT_S="5",
    )


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

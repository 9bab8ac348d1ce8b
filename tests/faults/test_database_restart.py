"""PostgreSQL restarted under load: the consumers pause, reconnect and go on without loss.

The database restarted is one this test starts for itself (``deploy.local.infra`` with a home
of its own and a free port), never the shared one of the test session or of ``make up``; the
four services of this test use it, with topics of their own on the session's broker. The test
proves the outage happened (the server's pid changed, ``/readyz`` answered 503 meanwhile), that
nothing was lost (every complaint counted) and nothing applied twice (every application of an
event to ``reporting.complaints`` counted by a trigger, which the table's key cannot hide).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local import infra, sandbox
from tests.conftest import RUN, Infra, RunningSystem, free_port
from tests.e2e.helpers import READER, eventually, wait_caught_up
from tests.faults.burst import (
    complaint_event,
    counting_applications,
    doubled_or_missing,
    publish,
    run_id,
)

pytestmark = pytest.mark.infra

N = 2000
CONSUMERS = ("workflow", "sla", "reporting")


@pytest.fixture
def private_postgres() -> Iterator[infra.InfraConfig]:
    """A PostgreSQL cluster of this test's own: its own data directory, port and socket."""
    home = Path(tempfile.mkdtemp(prefix="complaints-pgfault-"))
    home.chmod(0o755)  # the postgres system user runs the server (we may be root)
    cfg = infra.InfraConfig(home=home, pg_port=free_port())
    shared = infra.InfraConfig.from_env()
    assert (cfg.home, cfg.pg_port) != (shared.home, shared.pg_port)
    infra.ensure_postgres(cfg)
    try:
        yield cfg
    finally:
        infra.stop_postgres(cfg)
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(cfg.pg_socket_dir, ignore_errors=True)


def own_server_pid(cfg: infra.InfraConfig) -> int:
    """The postmaster of ``cfg``'s own data directory; fails on anything else."""
    pid = infra._pg_running_pid(cfg)
    assert pid is not None, f"no PostgreSQL of {cfg.pg_data_dir} runs"
    return pid


@pytest.fixture
async def system_on_private_postgres(
    real_infra: Infra, private_postgres: infra.InfraConfig, tmp_path: Path
) -> AsyncIterator[RunningSystem]:
    topics = sandbox.topic_names(f"test.{RUN}.pgfault{run_id()}")
    env = sandbox.environment(
        bootstrap=real_infra.kafka_bootstrap,
        database_url=private_postgres.database_url,
        topics=topics,
        COMPLAINTS_PUBLISH_TIMEOUT_S="5",
    )
    system = RunningSystem(
        env=env, database_url=private_postgres.database_url, topics=topics, logs=tmp_path
    )
    try:
        # intake has no part in this test; the three start side by side
        await asyncio.gather(*(asyncio.to_thread(system.start, name) for name in CONSUMERS))
        yield system
    finally:
        await asyncio.to_thread(system.stop_all)
        await sandbox.delete_topics(real_infra.kafka_bootstrap, topics.values())


@pytest.mark.skipif(
    os.environ.get("COMPLAINTS_TEST_INFRA") == "testcontainers",
    reason="runs a PostgreSQL process of its own with the local launcher",
)
async def test_consumers_survive_a_restart_of_their_database_under_load(
    http: httpx.AsyncClient,
    private_postgres: infra.InfraConfig,
    system_on_private_postgres: RunningSystem,
) -> None:
    system, cfg = system_on_private_postgres, private_postgres
    run = run_id()
    office = f"断库园{run}"
    events = [complaint_event(office, n, run=run) for n in range(N)]
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]

    async def count() -> int:
        try:
            resp = await http.get(f"{system.urls['reporting']}/v1/stats", timeout=5, headers=READER)
        except httpx.TransportError:
            return -1
        return int(resp.json()["by_office"].get(office, 0)) if resp.status_code == 200 else -1

    readiness: list[int] = []
    outage = asyncio.Event()

    async def watch_readiness() -> None:  # while the database is away
        async with httpx.AsyncClient(timeout=2) as client:
            while outage.is_set():
                try:
                    resp = await client.get(f"{system.urls['reporting']}/readyz")
                    readiness.append(resp.status_code)
                except httpx.TransportError:
                    readiness.append(0)
                await asyncio.sleep(0.2)

    async with counting_applications(
        system.database_url, "reporting.complaints", "complaint_id"
    ) as applied:
        producing = asyncio.create_task(publish(bootstrap, topic, events, pace=1.0))
        await eventually(lambda: _between(count, 1, N), timeout=60, interval=0.05)
        before = own_server_pid(cfg)  # only ever the server this test started
        outage.set()
        watching = asyncio.create_task(watch_readiness())
        await asyncio.to_thread(infra.stop_postgres, cfg)
        await asyncio.sleep(3)  # the log keeps growing while the database is away
        await asyncio.to_thread(infra.ensure_postgres, cfg)
        after = own_server_pid(cfg)
        outage.clear()
        await watching
        await producing

        for schema in CONSUMERS:
            await wait_caught_up(system.database_url, bootstrap, topic, schema, timeout=120)
        assert await count() == N  # nothing lost
        # nothing applied twice, though the consumers retried their batches through the outage
        assert doubled_or_missing(await applied(), {str(e.complaint_id) for e in events}) == {}

    assert after != before, "PostgreSQL was not restarted"
    assert 503 in readiness, f"/readyz never said 503 while the database was away: {readiness}"
    for name, url in system.urls.items():
        ready = await eventually(lambda u=url: _ready(http, u), timeout=30)
        assert ready, name


async def _between(count: object, low: int, high: int) -> bool:
    n = await count()  # type: ignore[operator]
    return bool(low <= n < high)


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200

"""PostgreSQL restarted under load: the consumers pause, reconnect and go on without loss."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from deploy.local import infra
from tests.conftest import RunningSystem
from tests.e2e.helpers import eventually, wait_caught_up
from tests.faults.burst import complaint_event, publish, run_id

pytestmark = pytest.mark.infra


@pytest.mark.skipif(
    os.environ.get("COMPLAINTS_TEST_INFRA") == "testcontainers",
    reason="restarts the local PostgreSQL process; testcontainers runs it elsewhere",
)
async def test_consumers_survive_a_database_restart_under_load(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    cfg = infra.InfraConfig.from_env()
    run = run_id()
    office = f"断库园{run}"
    events = [complaint_event(office, n, run=run) for n in range(2000)]
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    producing = asyncio.create_task(publish(bootstrap, topic, events, pace=0.1))

    async def count() -> int:
        resp = await http.get(f"{system.urls['reporting']}/v1/stats")
        return int(resp.json()["by_office"].get(office, 0)) if resp.status_code == 200 else -1

    await eventually(lambda: _between(count, 1, len(events)), timeout=60, interval=0.05)
    await asyncio.to_thread(infra.stop_postgres, cfg)
    await asyncio.sleep(3)  # the log keeps growing while the database is away
    await asyncio.to_thread(infra.ensure_postgres, cfg)
    await producing

    for schema in ("reporting", "workflow", "sla"):
        await wait_caught_up(system.database_url, bootstrap, topic, schema, timeout=120)
    assert await count() == len(events)
    for name, url in system.urls.items():
        ready = await eventually(lambda u=url: _ready(http, u), timeout=30)
        assert ready, name


async def _between(count: object, low: int, high: int) -> bool:
    n = await count()  # type: ignore[operator]
    return bool(low <= n < high)


async def _ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200

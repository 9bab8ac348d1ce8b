"""Consumers killed with SIGKILL in the middle of a stream: the projection equals a recount
from the log, nothing missing and nothing doubled."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from deploy.local import stack
from tests.conftest import RunningSystem, free_port
from tests.e2e.helpers import eventually, wait_caught_up
from tests.faults.burst import complaint_event, log_counts, publish, run_id

pytestmark = pytest.mark.infra

N = 5000


async def office_count(http: httpx.AsyncClient, system: RunningSystem, office: str) -> int:
    resp = await http.get(f"{system.urls['reporting']}/v1/stats")
    resp.raise_for_status()
    return int(resp.json()["by_office"].get(office, 0))


async def caught_up(system: RunningSystem, schema: str = "reporting") -> None:
    await wait_caught_up(
        system.database_url,
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        system.topics["events"],
        schema,
        timeout=120,
    )


async def test_reporting_killed_mid_stream_of_5000_events_ends_exact(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = run_id()
    office = f"故障园{run}"
    events = [complaint_event(office, n, run=run) for n in range(N)]
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    producing = asyncio.create_task(publish(bootstrap, topic, events, pace=0.25))

    async def partly_applied() -> bool:
        n = await office_count(http, system, office)
        return 0 < n < N

    await eventually(partly_applied, timeout=60, interval=0.05)
    system.kill("reporting")  # mid-stream: its open batch is rolled back
    await producing
    # the same events again, as a producer retrying after a timeout would send them
    await publish(bootstrap, topic, events[: N // 5])
    system.start("reporting")
    await caught_up(system)

    in_log = await log_counts(bootstrap, topic, "ComplaintReceived")
    ours = {str(e.complaint_id) for e in events}
    assert sum(1 for cid in ours if in_log[cid] >= 1) == N  # the recount from the log
    assert await office_count(http, system, office) == N  # 0 missing, 0 doubled


async def test_two_reporting_copies_one_killed_mid_stream_end_exact(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    port = free_port()
    env = {**system.env, "COMPLAINTS_REPORTING_PORT": str(port)}
    second = stack.start_service("reporting", env=env, log_path=system.logs / "reporting-2.log")
    try:
        stack.wait_healthy({"reporting-2": port}, timeout=60, logs=system.logs)

        async def both_assigned() -> bool:  # the group has rebalanced over two members
            resp = await http.get(f"http://127.0.0.1:{port}/readyz")
            return resp.status_code == 200

        await eventually(both_assigned, timeout=30)
        run = run_id()
        office = f"双副本园{run}"
        events = [complaint_event(office, n, run=run) for n in range(N)]
        producing = asyncio.create_task(
            publish(
                system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"], events, pace=0.25
            )
        )

        async def partly_applied() -> bool:
            n = await office_count(http, system, office)
            return 0 < n < N

        await eventually(partly_applied, timeout=60, interval=0.05)
        second.kill()  # the other copy takes its partitions over after the rebalance
        second.wait(timeout=10)
        await producing
        await caught_up(system)
        assert await office_count(http, system, office) == N
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=10)

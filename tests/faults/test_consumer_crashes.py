"""Consumers killed with SIGKILL in the middle of a stream: the projection equals a recount
from the log, nothing missing and nothing doubled.

"Nothing doubled" is counted where a second application would show: a trigger counts every
row the reporting consumer proposes for ``reporting.complaints`` (the complaints table's primary
key would hide a double, and so would the intake counters, which only count inserted rows).
Killing and restarting a service runs in a thread, so the producer keeps producing meanwhile.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from deploy.local import stack
from tests.conftest import RunningSystem, free_port
from tests.e2e.helpers import READER, eventually, wait_caught_up
from tests.faults.burst import (
    complaint_event,
    counting_applications,
    doubled_or_missing,
    log_counts,
    publish,
    run_id,
)

pytestmark = pytest.mark.infra

N = 5000


async def office_count(http: httpx.AsyncClient, system: RunningSystem, office: str) -> int:
    resp = await http.get(f"{system.urls['reporting']}/v1/stats", headers=READER)
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
    ours = {str(e.complaint_id) for e in events}
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    async with counting_applications(
        system.database_url, "reporting.complaints", "complaint_id"
    ) as applied:
        producing = asyncio.create_task(publish(bootstrap, topic, events, pace=0.25))

        async def partly_applied() -> bool:
            n = await office_count(http, system, office)
            return 0 < n < N

        await eventually(partly_applied, timeout=60, interval=0.05)
        await asyncio.to_thread(system.kill, "reporting")  # mid-stream: its batch rolls back
        await producing
        # the same events again, as a producer retrying after a timeout would send them
        await publish(bootstrap, topic, events[: N // 5])
        await asyncio.to_thread(system.start, "reporting")
        await caught_up(system)

        in_log = await log_counts(bootstrap, topic, "ComplaintReceived")
        assert sum(in_log[cid] for cid in ours) == N + N // 5  # the duplicates are in the log
        assert await office_count(http, system, office) == N  # 0 missing
        # 0 doubled: each complaint's receipt applied once, although 1 in 5 was logged twice
        assert doubled_or_missing(await applied(), ours) == {}


async def test_two_reporting_copies_one_killed_mid_stream_end_exact(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    port = free_port()
    env = {**system.env, "COMPLAINTS_REPORTING_PORT": str(port)}
    second = stack.start_service("reporting", env=env, log_path=system.logs / "reporting-2.log")
    try:
        await asyncio.to_thread(
            stack.wait_healthy, {"reporting-2": port}, timeout=60, logs=system.logs
        )

        async def both_assigned() -> bool:  # the group has rebalanced over two members
            resp = await http.get(f"http://127.0.0.1:{port}/readyz")
            return resp.status_code == 200

        await eventually(both_assigned, timeout=30)
        run = run_id()
        office = f"双副本园{run}"
        events = [complaint_event(office, n, run=run) for n in range(N)]
        async with counting_applications(
            system.database_url, "reporting.complaints", "complaint_id"
        ) as applied:
            producing = asyncio.create_task(
                publish(
                    system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
                    system.topics["events"],
                    events,
                    pace=0.25,
                )
            )

            async def partly_applied() -> bool:
                n = await office_count(http, system, office)
                return 0 < n < N

            await eventually(partly_applied, timeout=60, interval=0.05)
            second.kill()  # the other copy takes its partitions over after the rebalance
            await asyncio.to_thread(second.wait, 10)
            await producing
            await caught_up(system)
            assert await office_count(http, system, office) == N
            assert doubled_or_missing(await applied(), {str(e.complaint_id) for e in events}) == {}
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(timeout=10)

"""The deciding services killed with SIGKILL while they decide: the workflow between commit
and publish, the SLA service while timers are due. Nothing decided is lost; nothing is
applied twice.

"Applied twice" is counted by a trigger on ``workflow.history`` (every row proposed, in its
transaction): the history's unique event id, and a version folded from that history, would
hide a second application. Killing and restarting run in a thread, off the event loop that
drives the load."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.conftest import RunningSystem
from tests.e2e.helpers import eventually, read_events, wait_caught_up
from tests.e2e.test_workflow_lifecycle import AGENT, OFFICE, Desk
from tests.faults.burst import (
    complaint_event,
    counting_applications,
    doubled_or_missing,
    publish,
    run_id,
)

pytestmark = pytest.mark.infra


async def logged(system: RunningSystem) -> list[dict[str, Any]]:
    return await read_events(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"])


async def test_workflow_killed_while_deciding_loses_no_answered_command(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = run_id()
    events = [complaint_event(OFFICE, n, run=run) for n in range(60)]
    await publish(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"], events)
    await wait_caught_up(
        system.database_url,
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        system.topics["events"],
        "workflow",
    )
    desks = [Desk(http, system, str(e.complaint_id)) for e in events]

    answered: list[str] = []  # event ids of commands the workflow said 200 to

    async def work(desk: Desk) -> None:
        for command, body in (("acknowledge", {}), ("reply", {"message": "已收到，正在处理"})):
            try:
                resp = await desk.try_(command, AGENT, **body)
            except httpx.HTTPError:
                return  # the service died under this request: no answer, no promise
            if resp.status_code != 200:
                return
            answered.extend(e["event_id"] for e in resp.json()["events"])

    async with counting_applications(
        system.database_url, "workflow.history", "event_id"
    ) as applied:
        burst = asyncio.gather(*(work(d) for d in desks))
        await eventually(lambda: _some(answered), timeout=30, interval=0.01)
        await asyncio.to_thread(system.kill, "workflow")
        await burst
        await asyncio.to_thread(system.start, "workflow")
        await wait_caught_up(
            system.database_url,
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
            system.topics["events"],
            "workflow",
        )

        async def all_logged() -> Counter[str] | None:
            ids = Counter(e["event_id"] for e in await logged(system))
            return ids if all(ids[i] >= 1 for i in answered) else None

        ids = await eventually(all_logged, timeout=30, interval=0.5)
        assert answered and all(ids[i] >= 1 for i in answered)  # nothing answered is lost
        # Applied once: each answered event went into its complaint's history exactly once
        # (at the command; its copy read back from the log, or republished by the outbox
        # after the crash, is recognised), and no receipt was applied again by the restart.
        counts = await applied()
    assert doubled_or_missing(counts, set(answered)) == {}
    assert {str(e.event_id): counts[str(e.event_id)] for e in events} == dict.fromkeys(
        (str(e.event_id) for e in events), 0
    )
    in_history = set()
    for desk in desks:  # and every answered event is in its complaint's state
        in_history |= {e["event_id"] for e in (await desk.get())["history"]}
    assert set(answered) <= in_history


async def _some(items: list[str]) -> bool:
    return len(items) >= 10


async def test_sla_killed_while_timers_fall_due_publishes_every_breach_once(
    system: RunningSystem,
) -> None:
    run = run_id()
    # First response was due 1 minute ago for all of them: the scheduler has work at once.
    events = [complaint_event(f"超时园{run}", n, run=run, minutes_ago=31) for n in range(300)]
    ours = {str(e.complaint_id) for e in events}

    def breaches(log: list[dict[str, Any]]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for e in log:
            if (
                e["type"] == "SlaBreached"
                and e["complaint_id"] in ours
                and e["data"]["timer"] == "first_response"
            ):
                found.setdefault(e["complaint_id"], set()).add(e["event_id"])
        return found

    async with counting_applications(
        system.database_url, "workflow.history", "event_id"
    ) as applied:
        await publish(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"], events)

        async def some_fired() -> bool:
            return len(breaches(await logged(system))) > 0

        await eventually(some_fired, timeout=60, interval=0.05)
        await asyncio.to_thread(system.kill, "sla")
        await asyncio.to_thread(system.start, "sla")

        async def all_fired() -> dict[str, set[str]] | None:
            found = breaches(await logged(system))
            return found if set(found) == ours else None

        found = await eventually(all_fired, timeout=90, interval=1.0)
        await wait_caught_up(
            system.database_url,
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
            system.topics["events"],
            "workflow",
            timeout=60,
        )
        counts = await applied()
    # One breach per complaint and deadline: a copy republished after the crash has the
    # same id (the consumers ignore it); never a second, different breach.
    assert {cid: len(ids) for cid, ids in found.items()} == dict.fromkeys(ours, 1)
    # and the workflow applied each breach once (a second application would escalate twice)
    assert doubled_or_missing(counts, set().union(*found.values())) == {}

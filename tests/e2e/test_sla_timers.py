"""Issue 4 end to end: clocks started and stopped by events, breaches published once,
escalation by the workflow, durability across a restart and a rebuild."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import RunningSystem
from tests.e2e.helpers import (
    READER,
    complaints,
    eventually,
    minutes_ago,
    read_events,
    wait_caught_up,
)
from tests.e2e.test_workflow_lifecycle import AGENT, received, unique_phone

pytestmark = pytest.mark.infra


async def logged_sla_events(system: RunningSystem) -> list[dict[str, Any]]:
    """Every SLA event in the session's log."""
    events = await read_events(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"])
    return [e for e in events if e["type"] in ("SlaWarning", "SlaBreached")]


async def clocks(http: httpx.AsyncClient, system: RunningSystem, cid: str) -> dict[str, Any]:
    resp = await http.get(f"{system.urls['sla']}/v1/complaints/{cid}/sla", headers=READER)
    resp.raise_for_status()
    return {c["timer"]: c for c in resp.json()["clocks"]}


def breaches_of(events: list[dict[str, Any]], cid: str) -> Counter[tuple[str, bool]]:
    return Counter(
        (e["data"]["timer"], e["data"]["hard"])
        for e in events
        if e["complaint_id"] == cid and e["type"] == "SlaBreached"
    )


async def test_old_complaint_breaches_each_deadline_once_and_climbs_the_escalation_chain(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    # 20 days ago: first response (30 min), reply (1 working day) and its hard limit
    # (3 working days) have all passed, whatever holidays fell in between.
    desk = await received(
        http,
        system,
        occurred_at=minutes_ago(20 * 24 * 60),
        complainant={"name": "林先生", "phone": unique_phone()},
    )

    async def escalated_to_company() -> dict[str, Any] | None:
        state = await desk.get()
        return state if state["escalation_level"] == "company" else None

    state = await eventually(escalated_to_company, timeout=30)
    escalations = [e for e in state["history"] if e["type"] == "ComplaintEscalated"]
    assert [e["data"]["level"] for e in escalations] == ["cs_head", "project_manager", "company"]
    assert {e["data"]["timer"] for e in escalations} == {"first_response", "reply"}

    found = await clocks(http, system, desk.id)
    assert found["first_response"]["state"] == "breached"
    assert found["reply"]["state"] == "breached"
    assert found["reply"]["clock"] == "working"

    overdue = (await http.get(f"{system.urls['sla']}/v1/sla/overdue", headers=READER)).json()
    mine = [r for r in overdue["by_office"]["Y园"] if r["complaint_id"] == desk.id]
    assert {r["timer"] for r in mine} == {"first_response", "reply"}

    events = await logged_sla_events(system)
    assert breaches_of(events, desk.id) == {
        ("first_response", False): 1,
        ("reply", False): 1,
        ("reply", True): 1,
    }


async def test_deadline_fires_while_running_and_a_timely_stop_meets_it(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    # First-response deadlines a few seconds ahead: one is acknowledged in time, one is not.
    late = await received(
        http,
        system,
        occurred_at=minutes_ago(29.85),
        complainant={"name": "黄先生", "phone": unique_phone()},
    )
    timely = await received(
        http,
        system,
        occurred_at=minutes_ago(29.9),
        complainant={"name": "曹女士", "phone": unique_phone()},
    )
    await timely.do("acknowledge", AGENT)

    async def late_breached() -> list[dict[str, Any]] | None:
        events = await logged_sla_events(system)
        return events if breaches_of(events, late.id) else None

    events = await eventually(late_breached, timeout=30, interval=0.25)
    assert breaches_of(events, late.id) == {("first_response", False): 1}
    assert (await clocks(http, system, late.id))["first_response"]["state"] == "breached"
    warnings = [e for e in events if e["complaint_id"] == late.id and e["type"] == "SlaWarning"]
    assert [w["data"]["timer"] for w in warnings] == ["first_response"]
    assert (await clocks(http, system, timely.id))["first_response"]["state"] == "met"
    assert breaches_of(events, timely.id) == Counter()

    async def escalated() -> bool:
        return bool((await late.get())["escalation_level"] == "cs_head")

    await eventually(escalated)


async def test_timer_due_while_sla_is_down_fires_on_start_and_nothing_is_published_twice(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    before = await logged_sla_events(system)
    system.kill("sla")
    desk = await received(
        http,
        system,
        occurred_at=minutes_ago(45),
        complainant={"name": "邓先生", "phone": unique_phone()},
    )
    await asyncio.sleep(0.5)
    system.start("sla")

    async def breached() -> bool:
        return bool(breaches_of(await logged_sla_events(system), desk.id))

    await eventually(breached, timeout=30, interval=0.5)
    after = await logged_sla_events(system)
    # The timer due while the service was down was decided once, at the restart.
    assert set(breaches_of(after, desk.id).values()) == {1}
    # No alert was decided again: an event id in the log twice can only be the relay
    # publishing the same outbox row again after the SIGKILL caught it between publishing and
    # marking (at-least-once, which every consumer skips by the event id): the same event to
    # the letter, never a second decision.
    copies: dict[str, list[dict[str, Any]]] = {}
    for event in after:
        copies.setdefault(event["event_id"], []).append(event)
    assert all(all(c == same[0] for c in same) for same in copies.values())
    assert {e["event_id"] for e in before} <= set(copies)


async def test_rebuilding_sla_from_offset_0_gives_the_same_clocks_and_no_new_alerts(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    async def caught_up() -> None:
        await wait_caught_up(
            system.database_url,
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
            system.topics["events"],
            "sla",
        )

    async def snapshot() -> tuple[list[Any], int]:
        conn = await asyncpg.connect(system.database_url)
        try:
            rows = await conn.fetch(
                "SELECT complaint_id, timer, started_at, warning_at, deadline, hard_deadline, "
                "ended_at FROM sla.clocks ORDER BY complaint_id, timer"
            )
            published = await conn.fetchval("SELECT count(*) FROM sla.outbox")
        finally:
            await conn.close()
        return [tuple(r.values()) for r in rows], int(published)

    await caught_up()
    await asyncio.sleep(1.0)  # let the scheduler judge what the last events asked for
    clocks_before, published_before = await snapshot()
    assert clocks_before
    alerts_before = await logged_sla_events(system)

    rebuilt = await complaints(system.env, "rebuild", "sla")  # live, beside the old one
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    await caught_up()

    async def rebuilt() -> tuple[list[Any], int] | None:
        now = await snapshot()
        return now if now[0] == clocks_before else None

    _, published_after = await eventually(rebuilt, timeout=20, interval=0.5)
    assert published_after == published_before
    assert len(await logged_sla_events(system)) == len(alerts_before)

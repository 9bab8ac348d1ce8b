"""Rebuilding the workflow's state tables from the log (a new generation) restores the same
states."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import SUPERVISION, complaints, eventually, wait_caught_up
from tests.e2e.test_workflow_lifecycle import (
    AGENT,
    DEPT,
    HEAD,
    PM,
    bearer,
    handle_until_implemented,
    later,
    received,
    unique_phone,
)

pytestmark = pytest.mark.infra


async def snapshot(database_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        states = await conn.fetch(
            "SELECT complaint_id, office, unit, channel, status, major, escalation_level, "
            "version, next_deadline, next_deadline_kind, clock_since FROM workflow.complaints"
        )
        # Not seq: events the workflow decided are applied the moment they are decided,
        # while a replay applies them where the log has them; the set of events and the
        # resulting states must match, the interleaving with other services' events may not.
        history = await conn.fetch("SELECT complaint_id, event_id, type FROM workflow.history")
    finally:
        await conn.close()
    return {
        "states": sorted((tuple(r.values()) for r in states), key=str),
        "history": sorted((tuple(r.values()) for r in history), key=str),
    }


async def test_rebuilding_workflow_from_offset_0_restores_the_same_states(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    phone = unique_phone()
    done = await received(http, system, complainant={"name": "冯先生", "phone": phone})
    await handle_until_implemented(done)
    await done.do("revisit", AGENT, satisfied=True)
    await done.do("close", AGENT)
    repeat = await received(http, system, complainant={"name": "冯先生", "phone": phone})
    await repeat.do("acknowledge", AGENT)
    half = await received(http, system, complainant={"name": "陈女士", "phone": unique_phone()})
    await half.do("acknowledge", AGENT)
    await half.do("classify", AGENT, validity="assist", category="security")
    await half.do("assign", HEAD, department="秩序维护部", deadline=later(2))
    await half.do("analyse", DEPT, cause="夜间巡逻空档", responsible_party="秩序维护部")
    # Issue 15: transfer, send-back, helper, office transfer, major by hand and by rule.
    moved = await received(http, system, complainant={"name": "褚女士", "phone": unique_phone()})
    await moved.do("acknowledge", AGENT)
    await moved.do("classify", AGENT, validity="valid", category="facilities")
    await moved.do("assign", HEAD, department="工程部", deadline=later(2))
    await moved.do("transfer", HEAD, to_department="秩序维护部", reason="转派")
    await moved.do("send-back", DEPT, reason="退单")
    await moved.do(
        "assign", HEAD, department="工程部", deadline=later(3), helper_department="秩序维护部"
    )
    await moved.do("flag-major", PM, reason="影响较大")
    await moved.do("transfer-office", PM, to_office="G小城", reason="转办")
    pm_of_g = bearer(Role.PROJECT_MANAGER, office="G小城", staff_id="pm-g")
    await moved.do("transfer-office/accept", pm_of_g)
    await moved.do("unflag-major", pm_of_g, reason="经核实非重大")
    over = await received(
        http, system, SUPERVISION, complainant={"name": "卫先生", "phone": unique_phone()}
    )

    async def flagged() -> bool:
        return bool((await over.get())["major"])

    await eventually(flagged)
    await over.do("acknowledge", AGENT)
    await over.do("classify", AGENT, validity="invalid")  # the rule unflags it

    async def caught_up() -> None:
        await wait_caught_up(
            system.database_url,
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
            system.topics["events"],
            "workflow",
        )

    await caught_up()
    before = await snapshot(system.database_url)
    assert len(before["states"]) >= 3 and len(before["history"]) >= 20

    rebuilt = await complaints(system.env, "rebuild", "workflow")  # live, beside the old one
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    await caught_up()

    after = await snapshot(system.database_url)
    # Other tests share this log: a complaint of theirs may get events while this one runs
    # (a late breach of a back-dated complaint). The rebuild loses no event of any complaint,
    # and every complaint whose history stayed the same has the same state; this test's own
    # complaints are among those (they get no event meanwhile).
    lost = set(before["history"]) - set(after["history"])
    assert lost == set(), "history"
    moving = {row[0] for row in set(after["history"]) - set(before["history"])}
    ours = {UUID(d.id) for d in (done, half, moved, over, repeat)}
    assert not moving & ours
    was = {row[0]: row for row in before["states"] if row[0] not in moving}
    now = {row[0]: row for row in after["states"] if row[0] not in moving}
    assert ours <= set(was)
    # Name each complaint's differing row (before, after) rather than two long lists.
    differ = {
        str(cid): (was.get(cid), now.get(cid))
        for cid in sorted({*was, *now}, key=str)
        if was.get(cid) != now.get(cid)
    }
    assert differ == {}, "states"
    assert (await repeat.get())["major"] is True
    assert (await moved.get(pm_of_g))["office"] == "G小城"
    assert (await over.get())["major"] is False

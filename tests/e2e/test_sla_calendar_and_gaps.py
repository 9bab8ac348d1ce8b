"""Issue 15 items 11 and 8 through the running system: the SLA service shows until when its
holiday data is authoritative (endpoint, metric, the daily warning in its log), and the gap
between an early answer to the owner and the assignment has a clock of its own; a complaint
moved to another office is overdue for that office from the transfer on."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from contracts import new_envelope
from contracts.lifecycle import Actor, ComplaintOfficeTransferred, Role
from services.sla.calendar import library_version
from services.sla.horizon import WARN_WITHIN_DAYS
from tests.conftest import RunningSystem
from tests.e2e.helpers import READER, eventually
from tests.e2e.test_office_exceptions import clocks_when, new_complaint
from tests.e2e.test_workflow_lifecycle import AGENT, HEAD, later
from tests.faults.burst import complaint_event, publish, run_id

pytestmark = pytest.mark.infra

CHINA = ZoneInfo("Asia/Shanghai")


async def test_the_sla_service_shows_its_calendar_horizon_and_warns_when_it_is_near(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    resp = await http.get(f"{system.urls['sla']}/v1/sla/calendar", headers=READER)
    assert resp.status_code == 200
    body = resp.json()
    today = datetime.now(UTC).astimezone(CHINA).date()
    assert date.fromisoformat(body["today"]) == today
    assert body["horizon"] == "2026-12-31"  # chinese-calendar 1.11.0, nothing declared
    assert body["days_left"] == (date(2026, 12, 31) - today).days
    assert body["next_year_to_declare"] == 2027
    assert body["years"][-1] == {"year": 2026, "source": f"chinese-calendar {library_version()}"}
    assert "Monday to Friday" in body["past_horizon"]
    near = body["days_left"] <= WARN_WITHIN_DAYS
    assert (body["warning"] is not None) is near

    async def gauge() -> list[float] | None:
        metrics = (await http.get(f"{system.urls['sla']}/metrics")).text
        for line in metrics.splitlines():
            if line.startswith("complaints_sla_calendar_horizon_days "):
                return [float(line.split()[1])]
        return None

    assert await eventually(gauge, timeout=20, interval=0.5) == [body["days_left"]]
    if near:  # the service logs it once a day from 60 days before

        async def logged() -> bool | None:
            text = (system.logs / "sla.log").read_text(encoding="utf-8", errors="replace")
            return True if "sla calendar: the holiday calendar ends" in text else None

        assert await eventually(logged, timeout=20, interval=0.5)


async def test_after_an_early_answer_the_assignment_clock_runs_until_a_department_has_it(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "郑女士")
    await desk.do("acknowledge", AGENT)
    await desk.do("reply", AGENT, message="已收到，正在核实")  # answered before the judgment
    await desk.do("classify", AGENT, validity="valid", category="facilities")
    waiting: dict[str, Any] = await clocks_when(
        http, system, desk.id, reply="met", assignment="running"
    )
    # The owner's answer stopped the reply clock; the complaint still has a clock running.
    assert waiting["assignment"]["target"] == "确定责任部门：1个工作日"
    assert waiting["assignment"]["clock"] == "working"
    assert waiting["assignment"]["deadline"] is not None
    # Due within the holiday data (the horizon ends 2026-12-31) unless run in its last days.
    due = datetime.fromisoformat(waiting["assignment"]["deadline"]).astimezone(CHINA).date()
    assert waiting["assignment"]["past_calendar_horizon"] is (due > date(2026, 12, 31))
    resp = await http.get(f"{system.urls['sla']}/v1/complaints/{desk.id}/sla", headers=READER)
    assert resp.json()["next_deadline"]["timer"] == "assignment"

    await desk.do("assign", HEAD, department="工程部", deadline=later(2))
    handed = await clocks_when(http, system, desk.id, assignment="met", department="running")
    assert handed["department"]["ended_at"] is None


async def test_an_office_transfer_moves_the_overdue_clocks_to_the_new_office_from_its_instant(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    # The SLA side alone: the transfer is published as the workflow would publish it (its
    # command is the workflow's), for a complaint whose first response is long overdue.
    run = run_id()
    old, new = f"转出{run}", f"接收{run}"
    received = complaint_event(old, 1, run=run, minutes_ago=90)
    cid = str(received.complaint_id)
    await publish(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"], [received])

    async def overdue_at(office: str) -> list[str] | None:
        body = (await http.get(f"{system.urls['sla']}/v1/sla/overdue", headers=READER)).json()
        timers = [r["timer"] for r in body["by_office"].get(office, []) if r["complaint_id"] == cid]
        return timers or None

    assert "first_response" in await eventually(lambda: overdue_at(old), timeout=30)
    before = (
        await http.get(f"{system.urls['sla']}/v1/complaints/{cid}/sla", headers=READER)
    ).json()
    assert before["office"] == old
    moved_at = datetime.now(UTC)
    transfer = ComplaintOfficeTransferred(
        actor=Actor(staff_id="Q001", role=Role.COMPANY),
        from_office=old,
        to_office=new,
        reason="两个项目共管的大门",
    )
    envelope = new_envelope(
        transfer,
        event_id=uuid.uuid4(),
        complaint_id=received.complaint_id,
        occurred_at=moved_at,
        recorded_at=moved_at,
        source="tests/sla",
    )
    await publish(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"], [envelope])

    async def moved() -> dict[str, Any] | None:
        body = (
            await http.get(f"{system.urls['sla']}/v1/complaints/{cid}/sla", headers=READER)
        ).json()
        return dict(body) if body["office"] == new else None

    clocks = await eventually(moved, timeout=30)
    assert "first_response" in await eventually(lambda: overdue_at(new), timeout=30)
    assert await overdue_at(old) is None

    # The reply clock now counts on the new office's calendar: both offices work the default
    # hours, so the deadline it had stays where it was.
    def reply(body: dict[str, Any]) -> dict[str, Any]:
        return next(c for c in body["clocks"] if c["timer"] == "reply")

    assert reply(clocks)["deadline"] == reply(before)["deadline"] is not None

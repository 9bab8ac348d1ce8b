"""Issue 15 end to end: the office's everyday exceptions through the running services —
暂缓 (suspend, resume by staff and by itself at `until`), 当场解决, 复核, closing unsatisfied or
with the owner unreachable, time commitments kept by a fulfilling reply, and priority — checked
in the workflow's state and in the SLA service's clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import READER, eventually, get_json_or_none, wait_caught_up
from tests.e2e.test_workflow_lifecycle import (
    AGENT,
    DEPT,
    HEAD,
    PM,
    Desk,
    bearer,
    handle_until_implemented,
    later,
    received,
    unique_phone,
)

pytestmark = pytest.mark.infra

COMPANY = bearer(Role.COMPANY, office=None)


async def new_complaint(http: httpx.AsyncClient, system: RunningSystem, name: str) -> Desk:
    return await received(http, system, complainant={"name": name, "phone": unique_phone()})


async def clocks(http: httpx.AsyncClient, system: RunningSystem, cid: str) -> dict[str, Any]:
    resp = await http.get(f"{system.urls['sla']}/v1/complaints/{cid}/sla", headers=READER)
    resp.raise_for_status()
    return {c["timer"]: c for c in resp.json()["clocks"]}


async def clocks_when(
    http: httpx.AsyncClient, system: RunningSystem, cid: str, **states: str
) -> dict[str, Any]:
    """The complaint's clocks once each named timer is in the named state."""

    async def probe() -> dict[str, Any] | None:
        try:
            found = await clocks(http, system, cid)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:  # the SLA service has not read it yet
                return None
            raise
        ok = all(t in found and found[t]["state"] == s for t, s in states.items())
        return found if ok else None

    return await eventually(probe, timeout=20, interval=0.2)


def types(state: dict[str, Any]) -> list[str]:
    return [e["type"] for e in state["history"]]


async def test_suspended_complaint_waits_with_paused_clocks_and_resumes_with_time_left(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "W花园业主")
    await desk.do("acknowledge", AGENT)
    await desk.do("classify", AGENT, validity="valid", category="fees")
    await desk.do("assign", HEAD, department="财务部", deadline=later(2))
    running = await clocks_when(http, system, desk.id, reply="running", department="running")
    deadline_before = datetime.fromisoformat(running["department"]["deadline"])

    bad = await desk.try_("suspend", HEAD, reason="开发商要求暂缓", awaiting="the_moon")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "awaiting"
    wrong_role = await desk.try_("suspend", DEPT, reason="x", awaiting="developer")
    assert wrong_role.status_code == 403 and "role" in wrong_role.json()["detail"]

    state = await desk.do(
        "suspend", HEAD, reason="开发商要求暂缓收费，待业主情绪平复", awaiting="developer"
    )
    assert state["status"] == "suspended"
    assert state["suspension"]["awaiting"] == "developer"
    assert state["suspension"]["since"] == "assigned"
    # Waiting for the developer with no date: looked at again after the policy's review span.
    assert state["next_deadline"]["kind"] == "review"

    refused = await desk.try_("analyse", DEPT, cause="x", responsible_party="y")
    assert refused.status_code == 409
    assert refused.json()["complaint_status"] == "suspended"
    assert "resume it first" in refused.json()["detail"]
    # The owner is still answered while the complaint waits.
    await desk.do("reply", AGENT, message="开发商尚未答复，我们持续跟进")

    # The department's clock waits; the reply above answered the owner (met).
    paused = await clocks_when(http, system, desk.id, department="paused", reply="met")
    assert paused["department"]["deadline"] is None  # hidden until it resumes

    resumed = await desk.do("resume", HEAD, note="开发商已答复")
    assert resumed["status"] == "assigned" and resumed["suspension"] is None
    assert (await desk.try_("resume", HEAD)).status_code == 409

    counting = await clocks_when(http, system, desk.id, department="running")
    # The department's deadline moved later by the time the complaint waited.
    assert datetime.fromisoformat(counting["department"]["deadline"]) > deadline_before
    assert types(resumed)[-3:] == ["ComplaintSuspended", "OwnerReplied", "ComplaintResumed"]


async def test_suspension_with_until_resumes_by_itself_through_the_sla_service(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "林女士")
    await desk.do("acknowledge", AGENT)
    await desk.do("classify", AGENT, validity="valid", category="facilities")
    until = datetime.now(UTC) + timedelta(seconds=3)
    state = await desk.do(
        "suspend", AGENT, reason="等业主提供漏水照片", awaiting="owner", until=until.isoformat()
    )
    assert state["status"] == "suspended"
    assert state["next_deadline"]["kind"] == "resume"
    await clocks_when(http, system, desk.id, reply="paused")

    async def resumed_by_itself() -> dict[str, Any] | None:
        now = await desk.get()
        return now if now["status"] == "judged" else None

    after = await eventually(resumed_by_itself, timeout=30, interval=0.3)
    [resume] = [e for e in after["history"] if e["type"] == "ComplaintResumed"]
    assert resume["data"]["scheduled"] is True and resume["data"]["suspension_no"] == 1
    assert resume["source"] == "sla/scheduler"
    assert datetime.fromisoformat(resume["occurred_at"]) == until
    await clocks_when(http, system, desk.id, reply="running")


async def test_complaint_resolved_on_the_spot_is_revisited_and_closed(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "何先生")
    await desk.do("acknowledge", AGENT)
    body = {"validity": "valid", "category": "facilities", "summary": "当场复位门禁，已答复业主"}
    other = bearer(Role.CS_AGENT, staff_id="cs_agent-2")
    refused = await desk.try_("resolve", other, **body)
    assert refused.status_code == 409 and "first responder" in refused.json()["detail"]
    bad = await desk.try_("resolve", AGENT, validity="valid", category="facilities")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "summary"

    state = await desk.do("resolve", AGENT, **body)
    assert state["status"] == "resolved" and state["answered"] is True
    assert state["department"] is None and state["revisit_due"] is True
    assert {"ComplaintJudged", "ComplaintResolvedOnTheSpot"} <= set(types(state))
    assert not {"DepartmentAssigned", "ResolutionProposed", "PlanApproved"} & set(types(state))

    found = await clocks_when(http, system, desk.id, reply="met", revisit="running")
    assert found["first_response"]["state"] == "met"

    assert (await desk.try_("close", AGENT)).status_code == 409  # revisit first
    await desk.do("revisit", AGENT, satisfied=True, remarks="业主满意")
    closed = await desk.do("close", AGENT)
    assert closed["status"] == "closed" and closed["outcome"] == "satisfied"
    await clocks_when(http, system, desk.id, revisit="met")


async def test_rejudgment_keeps_both_judgments_and_the_company_may_rejudge_after_closing(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "赵先生")
    await desk.do("acknowledge", AGENT)
    judged = await desk.do("classify", AGENT, validity="valid", category="environment")
    assert judged["priority"] == "normal"

    wrong_role = await desk.try_("rejudge", AGENT, validity="assist", reason="x")
    assert wrong_role.status_code == 403
    bad = await desk.try_("rejudge", HEAD, validity="assist", category="environment")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    same = await desk.try_("rejudge", HEAD, validity="valid", category="environment", reason="复核")
    assert same.status_code == 409 and "nothing to correct" in same.json()["detail"]

    state = await desk.do(
        "rejudge", HEAD, validity="assist", category="environment", reason="经调查系邻里噪音"
    )
    assert (state["status"], state["validity"], state["rejudged"]) == ("judged", "assist", 1)
    judgments = [
        e for e in state["history"] if e["type"] in ("ComplaintJudged", "ComplaintRejudged")
    ]
    assert [(e["type"], e["data"]["validity"]) for e in judgments] == [
        ("ComplaintJudged", "valid"),
        ("ComplaintRejudged", "assist"),
    ]
    assert judgments[1]["data"]["previous_validity"] == "valid"

    await desk.do("rejudge", PM, validity="invalid", reason="项目经理复核：不成立")
    await desk.do("reply", AGENT, message="经核实不属物业责任，已向业主解释", final=True)
    closed = await desk.do("close", AGENT)
    assert closed["status"] == "closed"
    refused = await desk.try_("rejudge", PM, validity="valid", category="environment", reason="x")
    assert refused.status_code == 409 and "only the company" in refused.json()["detail"]
    after = await desk.do(
        "rejudge", COMPANY, validity="valid", category="environment", reason="品质部复核：成立"
    )
    assert (after["status"], after["validity"], after["rejudged"]) == ("closed", "valid", 3)


async def test_owner_unsatisfied_after_every_effort_is_closed_unsatisfied_by_the_manager(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "王先生")
    await handle_until_implemented(desk)
    await desk.do("revisit", AGENT, satisfied=False, remarks="要求全额赔偿")
    by_agent = await desk.try_("close", AGENT, outcome="unsatisfied", reason="超出合同范围")
    assert by_agent.status_code == 403 and "unsatisfied" in by_agent.json()["detail"]
    no_reason = await desk.try_("close", PM, outcome="unsatisfied")
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    bad_outcome = await desk.try_("close", PM, outcome="tired")
    assert bad_outcome.status_code == 422 and bad_outcome.json()["errors"][0]["field"] == "outcome"

    closed = await desk.do("close", PM, outcome="unsatisfied", reason="业主要求超出合同范围")
    assert (closed["status"], closed["outcome"]) == ("closed", "unsatisfied")
    close_event = closed["history"][-1]
    assert close_event["type"] == "ComplaintClosed"
    assert close_event["data"]["outcome"] == "unsatisfied"
    assert close_event["data"]["reason"] == "业主要求超出合同范围"

    async def all_ended() -> dict[str, Any] | None:
        found = await clocks(http, system, desk.id)
        return found if all(c["ended_at"] is not None for c in found.values()) else None

    found = await eventually(all_ended, timeout=20, interval=0.2)
    assert found["revisit"]["state"] == "met"  # the unsatisfied revisit was made in time


async def test_owner_unreachable_after_three_attempts_is_closed_unreachable(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "孙女士")
    await handle_until_implemented(desk)
    bad = await desk.try_("revisit", AGENT, reached=False, satisfied=True)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "satisfied"
    for _ in range(2):
        await desk.do("revisit", AGENT, reached=False, remarks="电话无人接听")
    early = await desk.try_("close", AGENT, outcome="unreachable")
    assert early.status_code == 409 and "(2 so far)" in early.json()["detail"]
    state = await desk.do("revisit", AGENT, reached=False, remarks="上门无人")
    assert (state["status"], state["revisit_attempts"], state["revisits"]) == ("implemented", 3, 0)
    # An attempt is not a revisit: the revisit clock still runs.
    await clocks_when(http, system, desk.id, revisit="running")
    closed = await desk.do("close", AGENT, outcome="unreachable", note="三次未联系上")
    assert (closed["status"], closed["outcome"]) == ("closed", "unreachable")
    await clocks_when(http, system, desk.id, revisit="cancelled")


async def test_promise_is_kept_only_by_a_fulfilling_reply_and_urgent_shortens_the_reply(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "钱先生")
    await desk.do("acknowledge", AGENT)
    judged = await desk.do("classify", AGENT, validity="valid", category="security")
    assert judged["priority"] == "urgent"  # policy: security complaints are urgent

    async def urgent_target() -> dict[str, Any] | None:
        # The SLA may not have read the receipt yet: its 404 is "not yet", not a failure
        body = await get_json_or_none(http, f"{system.urls['sla']}/v1/complaints/{desk.id}/sla")
        found = {c["timer"]: c for c in body["clocks"]} if body else {}
        reply = found.get("reply")
        return found if reply and reply["target"] == "答复业主：4个工作小时" else None

    found = await eventually(urgent_target, timeout=20, interval=0.2)
    assert found["reply"]["state"] == "running"

    nothing_open = await desk.try_("reply", AGENT, message="x", fulfils_commitment=True)
    assert nothing_open.status_code == 409 and "no time commitment" in nothing_open.json()["detail"]
    # Due before the step's own clock (24h to assignment, policy.yaml), so it is the next one.
    await desk.do("commit", AGENT, promised_at=later(0.5), message="今晚前答复")
    await desk.do("reply", AGENT, message="仍在调取监控")
    state = await desk.get()
    assert state["open_commitment"] is not None
    assert state["next_deadline"]["kind"] == "promise"
    # Once the SLA service has read everything so far, the progress reply left it running.
    await wait_caught_up(
        system.database_url,
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        system.topics["events"],
        "sla",
    )
    assert (await clocks(http, system, desk.id))["promise"]["state"] == "running"
    kept = await desk.do("reply", AGENT, message="已查明并处理", fulfils_commitment=True)
    assert kept["open_commitment"] is None
    await clocks_when(http, system, desk.id, promise="met")


async def test_a_missed_promise_is_a_breach_and_escalates(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "周女士")
    await desk.do("acknowledge", AGENT)
    promised = datetime.now(UTC) + timedelta(seconds=2)
    await desk.do("commit", AGENT, promised_at=promised.isoformat(), message="稍后答复")
    await desk.do("reply", AGENT, message="还在核实")  # a progress update keeps no promise

    async def escalated() -> dict[str, Any] | None:
        state = await desk.get()
        return state if state["escalation_level"] == "cs_head" else None

    state = await eventually(escalated, timeout=30, interval=0.3)
    [escalation] = [e for e in state["history"] if e["type"] == "ComplaintEscalated"]
    assert escalation["data"]["timer"] == "promise"
    assert datetime.fromisoformat(escalation["data"]["deadline"]) == promised
    assert (await clocks(http, system, desk.id))["promise"]["state"] == "breached"


async def test_roles_outside_the_procedure_may_not_resolve_suspend_or_resume(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "吴先生")
    await desk.do("acknowledge", AGENT)
    body = {"validity": "valid", "category": "facilities", "summary": "x"}
    for command, payload in (
        ("resolve", body),
        ("suspend", {"reason": "x", "awaiting": "owner"}),
        ("resume", {}),
    ):
        refused = await desk.try_(command, DEPT, **payload)
        assert refused.status_code == 403, (command, refused.text)
        assert "role" in refused.json()["detail"]
    assert (await desk.get())["status"] == "acknowledged"

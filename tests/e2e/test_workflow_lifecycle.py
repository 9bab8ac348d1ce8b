"""Issue 3 end to end: complaints taken through the procedure over the real staff API."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from services.runtime.auth import Staff, issue_token
from services.runtime.settings import Settings
from tests.conftest import RunningSystem
from tests.e2e.helpers import (
    HOTLINE,
    SUPERVISION,
    eventually,
    minutes_ago,
    read_events,
    submission,
)

pytestmark = pytest.mark.infra

OFFICE = "Y园"


def bearer(role: Role, office: str | None = OFFICE, staff_id: str | None = None) -> dict[str, str]:
    staff = Staff(staff_id=staff_id or f"{role.value}-1", role=role, office=office)
    return {"Authorization": f"Bearer {issue_token(Settings(), staff)}"}


AGENT = bearer(Role.CS_AGENT)
HEAD = bearer(Role.CS_HEAD)
DEPT = bearer(Role.DEPARTMENT)
SUPERVISOR = bearer(Role.SUPERVISOR)
PM = bearer(Role.PROJECT_MANAGER)


class Desk:
    """A member of staff's view of one complaint, over HTTP."""

    def __init__(self, http: httpx.AsyncClient, system: RunningSystem, complaint_id: str):
        self.http, self.base, self.id = http, system.urls["workflow"], complaint_id

    async def do(self, command: str, headers: dict[str, str], **body: Any) -> dict[str, Any]:
        resp = await self.try_(command, headers, **body)
        assert resp.status_code == 200, (command, resp.status_code, resp.text)
        return dict(resp.json()["complaint"])

    async def try_(self, command: str, headers: dict[str, str], **body: Any) -> httpx.Response:
        return await self.http.post(
            f"{self.base}/v1/complaints/{self.id}/{command}", json=body, headers=headers
        )

    async def get(self, headers: dict[str, str] = AGENT) -> dict[str, Any]:
        resp = await self.http.get(f"{self.base}/v1/complaints/{self.id}", headers=headers)
        resp.raise_for_status()
        return dict(resp.json())


async def received(
    http: httpx.AsyncClient,
    system: RunningSystem,
    headers: dict[str, str] = HOTLINE,
    **overrides: Any,
) -> Desk:
    """Submit a complaint through intake (to ``OFFICE`` unless ``office`` says another) and
    wait until the workflow knows it."""
    # A unit of its own, unless the test says: the repeat rule watches units too.
    overrides.setdefault("unit", f"{uuid.uuid4().int % 90 + 10}栋{uuid.uuid4().int % 9000 + 1000}")
    overrides.setdefault("office", OFFICE)
    body = submission(**overrides)
    resp = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    desk = Desk(http, system, resp.json()["complaint_id"])
    await eventually(lambda: _known(http, system, desk.id))
    return desk


async def _known(http: httpx.AsyncClient, system: RunningSystem, cid: str) -> bool:
    company = bearer(Role.COMPANY, office=None)  # any office's complaint
    resp = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=company)
    return resp.status_code == 200


def unique_phone() -> str:
    return f"139{uuid.uuid4().int % 10**8:08d}"


def later(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def handle_until_implemented(
    desk: Desk, *, plan: str = "加装防护网并张贴告示"
) -> dict[str, Any]:
    await desk.do("acknowledge", AGENT)
    state = await desk.do("classify", AGENT, validity="valid", category="environment")
    assert state["proposed_department"], "routing proposes a department on judgement"
    await desk.do("assign", HEAD, department=state["proposed_department"], deadline=later(3))
    await desk.do("analyse", DEPT, cause="保洁巡查频次不足", responsible_party="环境部")
    state = await desk.do("propose", DEPT, plan=plan)
    plan_id = state["plans"][-1]["plan_id"]
    await desk.do("approve", SUPERVISOR, plan_id=plan_id)
    return await desk.do(
        "implement",
        DEPT,
        plan_id=plan_id,
        summary="已完成",
        accountability=[{"person": "保洁员张三", "measure": "扣罚绩效", "reason": "巡查遗漏"}],
    )


async def test_valid_complaint_goes_the_whole_way_to_closed(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "何先生", "phone": unique_phone()})
    first = await desk.get()
    assert first["status"] == "received"
    assert first["next_deadline"]["kind"] == "first_response"

    state = await handle_until_implemented(desk)
    assert state["status"] == "implemented"
    await desk.do("reply", AGENT, message="已加装防护网，感谢监督", final=True)
    await desk.do("revisit", AGENT, satisfied=True, remarks="业主满意")
    closed = await desk.do("close", AGENT)
    assert closed["status"] == "closed" and closed["next_deadline"] is None
    after = await desk.do("prevent", DEPT, measure="每日增加一次高空巡查")
    assert after["preventive_measures"] == 1

    types = [e["type"] for e in after["history"]]
    assert types == [
        "ComplaintReceived",
        "ComplaintAcknowledged",
        "ComplaintJudged",
        "DepartmentProposed",
        "DepartmentAssigned",
        "CauseAnalysed",
        "ResolutionProposed",
        "PlanApproved",
        "PlanImplemented",
        "OwnerReplied",
        "RevisitRecorded",
        "ComplaintClosed",
        "PreventiveMeasureRecorded",
    ]
    # Every decided event reached the log exactly once (relay → Kafka).
    logged = await _logged_types(system, desk.id, expected=len(types))
    assert logged == Counter(types)


async def _logged_types(system: RunningSystem, cid: str, expected: int) -> Counter[str]:

    async def probe() -> Counter[str] | None:
        keys_and_types = await _read_typed(system)
        mine = Counter(t for k, t in keys_and_types if k == cid)
        return mine if sum(mine.values()) >= expected else None

    async def _read_typed(system: RunningSystem) -> list[tuple[str, str]]:
        events = await read_events(
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
        )
        return [(e["complaint_id"], e["type"]) for e in events]

    return await eventually(probe, timeout=20, interval=0.5)


async def test_invalid_complaint_is_answered_and_closed_without_a_department(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "李女士", "phone": unique_phone()})
    await desk.do("acknowledge", AGENT)
    judged = await desk.do("classify", AGENT, validity="invalid", note="误会，已解释")
    assert judged["proposed_department"] is None
    refused = await desk.try_("assign", HEAD, department="工程部", deadline=later(1))
    assert refused.status_code == 409
    await desk.do("reply", AGENT, message="经核实不属物业责任，已向业主解释", final=True)
    closed = await desk.do("close", AGENT)
    assert closed["status"] == "closed" and closed["department"] is None


async def test_unsatisfied_revisit_reopens_and_the_complaint_then_closes(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "王先生", "phone": unique_phone()})
    await handle_until_implemented(desk)
    await desk.do("revisit", AGENT, satisfied=False, remarks="问题依旧")
    refused = await desk.try_("close", AGENT)
    assert refused.status_code == 409
    assert refused.json()["complaint_status"] == "revisited"
    assert "satisf" in refused.json()["detail"]
    reopened = await desk.do("reopen", AGENT, reason="业主不满意，重新处理")
    assert reopened["status"] == "reopened"
    state = await desk.do("propose", DEPT, plan="更换为不锈钢防护网")
    plan_id = state["plans"][-1]["plan_id"]
    await desk.do("approve", SUPERVISOR, plan_id=plan_id)
    await desk.do("implement", DEPT, plan_id=plan_id, summary="已更换")
    await desk.do("revisit", AGENT, satisfied=True)
    closed = await desk.do("close", AGENT)
    assert closed["status"] == "closed" and closed["reopened"] == 1


async def test_repeat_complaint_of_same_owner_within_7_days_is_flagged_major(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    phone = unique_phone()
    first = await received(
        http,
        system,
        unit="8栋2单元101",
        complainant={"name": "赵先生", "phone": phone},
        occurred_at=minutes_ago(20),
    )
    second = await received(
        http,
        system,
        unit="8栋2单元101",
        complainant={"name": "赵先生", "phone": phone},
        occurred_at=minutes_ago(5),
    )
    assert (await first.get())["major"] is False
    state = await second.get()
    assert state["major"] is True
    assert state["escalation_level"] == "project_manager"
    flags = [e for e in state["history"] if e["type"] == "MajorComplaintFlagged"]
    assert len(flags) == 1 and flags[0]["data"]["rule"] == "repeat_owner"
    # the major complaint is revisited by the project manager only
    await handle_until_implemented(second)
    assert (await second.try_("revisit", AGENT, satisfied=True)).status_code == 409
    await second.do("revisit", PM, satisfied=True)


async def test_supervision_line_complaint_is_major_over_the_head(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(
        http, system, SUPERVISION, complainant={"name": "钱女士", "phone": unique_phone()}
    )
    state = await desk.get()
    assert state["major"] is True
    assert state["history"][-1]["data"]["rule"] == "over_the_head"


async def test_two_concurrent_commands_on_one_complaint_cannot_both_succeed(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "孙先生", "phone": unique_phone()})
    agents = [bearer(Role.CS_AGENT, staff_id=f"agent-{n}") for n in range(6)]
    answers = await asyncio.gather(*(desk.try_("acknowledge", a) for a in agents))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409, 409]
    owner = (await desk.get())["owner"]["staff_id"]
    winner = next(i for i, r in enumerate(answers) if r.status_code == 200)
    assert owner == f"agent-{winner}"
    acknowledged = [
        e for e in (await desk.get())["history"] if e["type"] == "ComplaintAcknowledged"
    ]
    assert len(acknowledged) == 1


async def test_retried_command_with_the_same_idempotency_key_applies_once(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "周先生", "phone": unique_phone()})
    await desk.do("acknowledge", AGENT)
    key = {"Idempotency-Key": "reply-once-42"}
    first = await desk.try_("reply", {**AGENT, **key}, message="已收到，正在处理")
    again = await desk.try_("reply", {**AGENT, **key}, message="已收到，正在处理")
    assert first.status_code == again.status_code == 200
    assert again.json()["replayed"] is True
    assert (await desk.get())["replies"] == 1


async def test_staff_api_refuses_bad_input_wrong_role_other_office_and_no_token(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "吴先生", "phone": unique_phone()})
    bad = await desk.try_("acknowledge", AGENT, note="x")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "note"
    await desk.do("acknowledge", AGENT)
    bad = await desk.try_("classify", AGENT, validity="maybe")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "validity"
    wrong_role = await desk.try_("approve", AGENT, plan_id=1)
    assert wrong_role.status_code == 403 and "role" in wrong_role.json()["detail"]
    other_office = await desk.try_(
        "classify", bearer(Role.CS_AGENT, office="G小城"), validity="valid", category="security"
    )
    assert other_office.status_code == 403 and "office" in other_office.json()["detail"]
    company = await desk.try_(
        "classify", bearer(Role.COMPANY, office=None), validity="valid", category="security"
    )
    assert company.status_code == 200
    no_token = await http.post(f"{desk.base}/v1/complaints/{desk.id}/reply", json={"message": "x"})
    assert no_token.status_code == 401
    unknown = await http.get(f"{desk.base}/v1/complaints/{uuid.uuid4()}", headers=AGENT)
    assert unknown.status_code == 404


async def test_owner_phone_is_masked_for_staff_of_other_offices(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    phone = unique_phone()
    desk = await received(http, system, complainant={"name": "郑先生", "phone": phone})
    own = (await desk.get())["history"][0]["data"]["complainant"]
    company = (await desk.get(bearer(Role.COMPANY, office=None)))["history"][0]["data"]
    assert own == {"name": "郑先生", "phone": phone}
    assert company["complainant"]["phone"] == f"{phone[:3]}****{phone[-4:]}"

"""Issue 15 items 5, 6, 8, 9 end to end through the running services: 转派 with a helping
department (协办), 退单, transfer to another office (asked and accepted, or by the company at
once) after which the complaint is the new office's for every check, major complaints flagged
and unflagged by hand and by the rules, merge checks, the closing summary, and a next
deadline at every step of a whole life."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import SUPERVISION, eventually
from tests.e2e.test_workflow_lifecycle import (
    AGENT,
    DEPT,
    HEAD,
    PM,
    SUPERVISOR,
    Desk,
    bearer,
    later,
    received,
    unique_phone,
)

pytestmark = pytest.mark.infra

COMPANY = bearer(Role.COMPANY, office=None)
G = "G小城"
PM_OF_G = bearer(Role.PROJECT_MANAGER, office=G, staff_id="pm-g")
AGENT_OF_G = bearer(Role.CS_AGENT, office=G, staff_id="cs-g")
HEAD_OF_G = bearer(Role.CS_HEAD, office=G, staff_id="head-g")
PM_OF_ELSEWHERE = bearer(Role.PROJECT_MANAGER, office="*湾花园", staff_id="pm-w")


async def new_complaint(
    http: httpx.AsyncClient, system: RunningSystem, name: str, **overrides: Any
) -> Desk:
    return await received(
        http, system, complainant={"name": name, "phone": unique_phone()}, **overrides
    )


def types(state: dict[str, Any]) -> list[str]:
    return [e["type"] for e in state["history"]]


def last(state: dict[str, Any], event_type: str) -> dict[str, Any]:
    return next(e for e in reversed(state["history"]) if e["type"] == event_type)


def refused(resp: httpx.Response, status: int, words: str) -> None:
    assert resp.status_code == status, resp.text
    assert words in resp.json()["detail"], resp.text


async def test_transfer_with_a_helper_send_back_and_assign_again(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "郑先生")
    await desk.do("acknowledge", AGENT)
    await desk.do("classify", AGENT, validity="valid", category="facilities")
    state = await desk.do(
        "assign", HEAD, department="工程部", deadline=later(3), helper_department="秩序维护部"
    )
    assert (state["department"], state["helper_department"]) == ("工程部", "秩序维护部")
    assert last(state, "DepartmentAssigned")["data"]["helper_department"] == "秩序维护部"

    same = await desk.try_(
        "transfer", HEAD, to_department="安保部", reason="x", helper_department="安保部"
    )
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "helper_department"
    refused(await desk.try_("transfer", DEPT, to_department="安保部", reason="x"), 403, "role")
    refused(await desk.try_("transfer", HEAD, to_department="工程部", reason="x"), 409, "already")
    refused(
        await desk.try_(
            "transfer",
            HEAD,
            to_department="安保部",
            reason="x",
            deadline="2020-01-01T00:00:00+08:00",
        ),
        409,
        "future",
    )

    await desk.do("analyse", DEPT, cause="门禁控制器损坏", responsible_party="工程部")
    new_deadline = later(5)
    state = await desk.do(
        "transfer", PM, to_department="安保部", reason="门禁归安保部", deadline=new_deadline
    )
    assert (state["status"], state["department"], state["transfers"]) == ("assigned", "安保部", 1)
    assert state["helper_department"] is None
    assert state["next_deadline"]["kind"] == "department"
    transferred = last(state, "ComplaintTransferred")["data"]
    assert (transferred["from_department"], transferred["to_department"]) == ("工程部", "安保部")

    refused(await desk.try_("send-back", HEAD, reason="x"), 403, "role")
    state = await desk.do("send-back", DEPT, reason="非本部门职责")
    assert (state["status"], state["department"], state["sent_back"]) == ("judged", None, 1)
    assert state["next_deadline"]["kind"] == "assignment"
    assert last(state, "ComplaintSentBack")["data"]["department"] == "安保部"
    refused(await desk.try_("send-back", DEPT, reason="再次退单"), 409, "nothing to send back")

    state = await desk.do("assign", HEAD, department="秩序维护部", deadline=later(2))
    assert (state["status"], state["department"]) == ("assigned", "秩序维护部")
    await desk.do("analyse", DEPT, cause="门禁控制器损坏", responsible_party="秩序维护部")
    state = await desk.do("propose", DEPT, plan="更换门禁控制器")
    await desk.do("approve", SUPERVISOR, plan_id=state["plans"][-1]["plan_id"])
    await desk.do("implement", DEPT, plan_id=state["plans"][-1]["plan_id"], summary="已更换")
    refused(
        await desk.try_("transfer", HEAD, to_department="工程部", reason="x"),
        409,
        "before its plan is carried out",
    )
    assert types(await desk.get()).count("ComplaintTransferred") == 1


async def test_office_transfer_asked_by_the_project_manager_and_accepted_by_the_other_office(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "王女士")
    await desk.do("acknowledge", AGENT)
    refused(await desk.try_("transfer-office", HEAD, to_office=G, reason="x"), 403, "role")
    refused(await desk.try_("transfer-office", PM_OF_G, to_office=G, reason="x"), 403, "office")
    refused(await desk.try_("transfer-office/accept", PM_OF_G), 403, "office")  # nothing asked
    refused(await desk.try_("transfer-office", PM, to_office="Y园", reason="x"), 409, "already")

    state = await desk.do("transfer-office", PM, to_office=G, reason="该楼栋已划归G小城管理")
    assert state["office"] == "Y园"
    assert state["office_request"] == {
        "to_office": G,
        "reason": "该楼栋已划归G小城管理",
        "by": "project_manager-1",
    }
    assert "OfficeTransferRequested" in types(state)
    # The office asked may read it before it accepts; a third office may not.
    assert (await desk.get(PM_OF_G))["office_request"]["to_office"] == G
    third = await desk.http.get(f"{desk.base}/v1/complaints/{desk.id}", headers=PM_OF_ELSEWHERE)
    assert third.status_code == 403
    # Accepting is the asked office's project manager's, not the asking office's.
    refused(await desk.try_("transfer-office/accept", PM), 403, "office")
    refused(await desk.try_("transfer-office/accept", AGENT_OF_G), 403, "role")

    state = await desk.do("transfer-office/accept", PM_OF_G)
    assert (state["office"], state["office_request"], state["office_transfers"]) == (G, None, 1)
    moved = last(state, "ComplaintOfficeTransferred")["data"]
    assert (moved["from_office"], moved["to_office"], moved["actor"]["staff_id"]) == (
        "Y园",
        G,
        "pm-g",
    )

    # From now on it is G小城's for every office check.
    gone = await desk.http.get(f"{desk.base}/v1/complaints/{desk.id}", headers=AGENT)
    assert gone.status_code == 403
    refused(await desk.try_("classify", AGENT, validity="valid", category="fees"), 403, "office")
    state = await desk.do("classify", AGENT_OF_G, validity="valid", category="fees")
    assert state["status"] == "judged"
    assert (await desk.get(AGENT_OF_G))["office"] == G


async def test_the_company_transfers_a_complaint_to_another_office_at_once(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "冯女士")
    state = await desk.do("transfer-office", COMPANY, to_office=G, reason="品质部核定归属G小城")
    assert (state["office"], state["status"]) == (G, "received")  # before acknowledgement too
    assert "OfficeTransferRequested" not in types(state)
    refused(await desk.try_("acknowledge", AGENT), 403, "office")
    state = await desk.do("acknowledge", AGENT_OF_G)
    assert state["owner"]["staff_id"] == "cs-g"
    refused(await desk.try_("transfer-office/accept", PM_OF_G), 409, "no transfer")


async def test_a_project_manager_or_the_company_flag_and_unflag_a_major_complaint(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "褚先生")
    await desk.do("acknowledge", AGENT)
    assert (await desk.get())["major"] is False
    refused(await desk.try_("flag-major", HEAD, reason="x"), 403, "role")
    refused(await desk.try_("flag-major", PM_OF_G, reason="x"), 403, "office")
    blank = await desk.try_("flag-major", PM, reason=" ")
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    refused(await desk.try_("unflag-major", PM, reason="x"), 409, "not major")

    state = await desk.do("flag-major", PM, reason="业主向媒体反映，影响较大")
    assert (state["major"], state["major_rule"], state["major_by_person"]) == (True, "manual", True)
    assert state["escalation_level"] == "project_manager"
    flagged = last(state, "MajorComplaintFlagged")
    assert flagged["data"]["actor"]["role"] == "project_manager"
    refused(await desk.try_("flag-major", COMPANY, reason="x"), 409, "already")

    state = await desk.do("unflag-major", COMPANY, reason="经核实为一般投诉")
    assert (state["major"], state["major_rule"]) == (False, None)
    assert last(state, "MajorComplaintUnflagged")["data"]["reason"] == "经核实为一般投诉"
    # A person's unflag stands: judging it does not make it major by any rule.
    state = await desk.do("classify", AGENT, validity="valid", category="facilities")
    assert state["major"] is False


async def test_a_supervision_line_complaint_judged_invalid_is_not_major_unless_flagged(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "卫先生", headers=SUPERVISION)

    async def flagged() -> dict[str, Any] | None:
        state = await desk.get()
        return state if state["major"] else None

    state = await eventually(flagged)
    assert state["major_rule"] == "over_the_head"
    await desk.do("acknowledge", AGENT)
    state = await desk.do("classify", AGENT, validity="invalid", note="非物业责任")
    assert (state["major"], state["major_rule"]) == (False, None)
    unflag = last(state, "MajorComplaintUnflagged")
    assert unflag["data"]["actor"]["role"] == "system" and unflag["source"] == "workflow/rules"

    # Re-judged valid, the rule flags it again.
    state = await desk.do(
        "rejudge", HEAD, validity="valid", category="security", reason="复核：确属物业责任"
    )
    assert (state["major"], state["major_rule"]) == (True, "over_the_head")
    assert types(state).count("MajorComplaintFlagged") == 2

    # A person's flag stands against an invalid judgment.
    pinned = await new_complaint(http, system, "蒋女士", headers=SUPERVISION)
    await eventually(lambda: _major(pinned))
    await pinned.do("flag-major", PM, reason="项目经理认定重大")
    await pinned.do("acknowledge", AGENT)
    state = await pinned.do("classify", AGENT, validity="invalid")
    assert (state["major"], state["major_rule"]) == (True, "manual")
    assert "MajorComplaintUnflagged" not in types(state)


async def _major(desk: Desk) -> bool:
    return bool((await desk.get())["major"])


async def test_merge_checks_the_target_exists_is_open_and_is_of_the_same_office(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    phone = unique_phone()
    dup = await received(http, system, complainant={"name": "沈先生", "phone": phone})
    original = await received(http, system, complainant={"name": "沈先生", "phone": phone})
    elsewhere = await new_complaint(http, system, "韩女士")
    await elsewhere.do("transfer-office", COMPANY, to_office=G, reason="归属G小城")
    ended = await new_complaint(http, system, "杨女士")
    await ended.do("withdraw", AGENT, reason="业主撤诉")

    itself = await dup.try_("merge", HEAD, into_complaint_id=dup.id)
    assert itself.status_code == 422
    assert itself.json()["errors"][0]["field"] == "into_complaint_id"
    assert "itself" in itself.json()["detail"]
    nowhere = await dup.try_("merge", HEAD, into_complaint_id=str(uuid.uuid4()))
    assert nowhere.status_code == 422 and "no complaint" in nowhere.json()["detail"]
    refused(
        await dup.try_("merge", HEAD, into_complaint_id=elsewhere.id),
        409,
        f"belongs to {G}, this one to Y园",
    )
    refused(await dup.try_("merge", HEAD, into_complaint_id=ended.id), 409, "is withdrawn")
    assert (await dup.get())["status"] == "received"  # nothing happened

    state = await dup.do("merge", HEAD, into_complaint_id=original.id, reason="同一事项重复投诉")
    assert (state["status"], last(state, "ComplaintMerged")["data"]["into_complaint_id"]) == (
        "merged",
        original.id,
    )
    refused(await original.try_("merge", HEAD, into_complaint_id=dup.id), 409, "is merged")


async def test_next_deadline_is_never_empty_along_a_whole_life_and_close_keeps_the_summary(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await new_complaint(http, system, "朱先生")
    kinds: list[str] = []

    def step(state: dict[str, Any]) -> dict[str, Any]:
        assert state["next_deadline"] is not None, (state["status"], types(state)[-1])
        kinds.append(state["next_deadline"]["kind"])
        return state

    step(await desk.get())
    step(await desk.do("acknowledge", AGENT))
    step(await desk.do("classify", AGENT, validity="valid", category="environment"))
    step(await desk.do("suspend", HEAD, reason="等待业主提供照片", awaiting="owner"))
    step(await desk.do("resume", HEAD))
    step(await desk.do("assign", HEAD, department="环境部", deadline=later(3)))
    step(await desk.do("analyse", DEPT, cause="保洁频次不足", responsible_party="环境部"))
    state = step(await desk.do("propose", DEPT, plan="增加保洁频次"))
    plan_id = state["plans"][-1]["plan_id"]
    step(await desk.do("approve", SUPERVISOR, plan_id=plan_id))
    step(await desk.do("implement", DEPT, plan_id=plan_id, summary="已增加保洁频次"))
    step(await desk.do("reply", AGENT, message="已增加保洁频次", final=True))
    step(await desk.do("revisit", AGENT, satisfied=True))
    assert kinds == [
        "first_response",
        "judgment",
        "assignment",
        "review",
        "assignment",
        "department",
        "department",
        "department",
        "department",
        "reply",
        "revisit",
        "close",
    ]
    closed = await desk.do("close", AGENT, summary="处理及时，业主满意；已调整保洁排班")
    assert (closed["status"], closed["next_deadline"]) == ("closed", None)
    assert closed["summary"] == "处理及时，业主满意；已调整保洁排班"
    event = last(closed, "ComplaintClosed")
    assert event["data"]["summary"] == "处理及时，业主满意；已调整保洁排班"
    assert event["data"]["outcome"] == "satisfied"

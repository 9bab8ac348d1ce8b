"""Who may do what: every role × every command × own office / another office, over the real
staff API. A role may give only its own commands, and only for its own office; the company
roles work for every office; the analyst only reads; a channel's key is no staff credential."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.lifecycle import CloseOutcome
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.settings import Settings
from services.workflow.commands import COMMANDS
from services.workflow.permissions import ALLOWED, CLOSE_BY_OUTCOME
from tests.conftest import RunningSystem
from tests.e2e.test_workflow_lifecycle import OFFICE, received, unique_phone

pytestmark = pytest.mark.infra

LATER = (datetime.now(UTC) + timedelta(days=3)).isoformat()
BODIES: dict[str, dict[str, Any]] = {
    "acknowledge": {},
    "classify": {"validity": "valid", "category": "security"},
    "assign": {"department": "秩序维护部", "deadline": LATER},
    "analyse": {"cause": "巡逻空档", "responsible_party": "秩序维护部"},
    "propose": {"plan": "增加夜间巡逻"},
    "approve": {"plan_id": 1},
    "reject": {"plan_id": 1, "reason": "方案不足"},
    "implement": {"plan_id": 1, "summary": "已执行"},
    "reply": {"message": "已收到"},
    "commit": {"promised_at": LATER, "message": "三日内答复"},
    "revisit": {"satisfied": True},
    "close": {},
    "reopen": {"reason": "业主不满意"},
    "prevent": {"measure": "每周检查"},
    "withdraw": {"reason": "业主撤诉"},
    "resolve": {"validity": "valid", "category": "security", "summary": "当场解决"},
    "rejudge": {"validity": "assist", "category": "security", "reason": "复核"},
    "suspend": {"reason": "等待开发商", "awaiting": "developer"},
    "resume": {},
    "merge": {"into_complaint_id": str(uuid.uuid4())},  # an open complaint: see the test
    "transfer": {"to_department": "工程部", "reason": "转派"},
    "send-back": {"reason": "非本部门职责"},
    # To its own office: refused (409) by the procedure, so the complaint stays where the
    # matrix expects it; the office checks are those of any command.
    "transfer-office": {"to_office": OFFICE, "reason": "转办"},
    "transfer-office/accept": {},
    "flag-major": {"reason": "影响较大"},
    "unflag-major": {"reason": "经核实非重大"},
}
COMPANY_WIDE = {StaffRole.COMPANY, StaffRole.SYSTEM, StaffRole.ANALYST}


def token(role: StaffRole, office: str | None) -> dict[str, str]:
    staff = Staff(
        staff_id=f"{role.value}-m", role=role, office=None if role in COMPANY_WIDE else office
    )
    return {"Authorization": f"Bearer {issue_token(Settings(), staff)}"}


def expected_allowed(role: StaffRole, command: str, own_office: bool) -> bool:
    may = role.value in {r.value for r in ALLOWED[command]}
    if command == "close":  # the body closes satisfied: who may depends on the outcome
        may = may and role.value in {r.value for r in CLOSE_BY_OUTCOME[CloseOutcome.SATISFIED]}
    return may and (own_office or role in COMPANY_WIDE)


def test_every_command_has_a_body_in_the_matrix() -> None:
    assert set(BODIES) == set(COMMANDS)


async def test_each_role_gives_only_its_own_commands_for_its_own_office(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "矩阵", "phone": unique_phone()})
    # merge checks its target: an open complaint of the same office
    target = await received(http, system, complainant={"name": "矩阵", "phone": unique_phone()})
    bodies = {**BODIES, "merge": {"into_complaint_id": target.id}}
    base = f"{system.urls['workflow']}/v1/complaints/{desk.id}"
    wrong: list[str] = []
    for role in StaffRole:
        for command, body in bodies.items():
            for own_office in (True, False):
                office = OFFICE if own_office else "G小城"
                resp = await http.post(f"{base}/{command}", json=body, headers=token(role, office))
                # 200 or 409 (the state refuses it now) both mean the credential passed
                passed = resp.status_code in (200, 409)
                refused = resp.status_code == 403
                if not (passed or refused):
                    wrong.append(f"{role}/{command}/{own_office}: {resp.status_code} {resp.text}")
                elif passed != expected_allowed(role, command, own_office):
                    wrong.append(f"{role}/{command}/own={own_office}: got {resp.status_code}")
    assert wrong == []


async def test_reading_a_complaint_is_for_its_office_and_the_company_roles(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "读者", "phone": unique_phone()})
    url = f"{system.urls['workflow']}/v1/complaints/{desk.id}"
    for role in StaffRole:
        own = await http.get(url, headers=token(role, OFFICE))
        other = await http.get(url, headers=token(role, "G小城"))
        assert own.status_code == 200, role
        assert other.status_code == (200 if role in COMPANY_WIDE else 403), role


async def test_a_channel_key_is_no_staff_credential(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "渠道", "phone": unique_phone()})
    url = f"{system.urls['workflow']}/v1/complaints/{desk.id}/acknowledge"
    as_bearer = await http.post(url, json={}, headers={"Authorization": "Bearer dev-hotline"})
    as_key = await http.post(url, json={}, headers={"X-Api-Key": "dev-hotline"})
    assert as_bearer.status_code == as_key.status_code == 401


async def test_a_token_signed_with_another_secret_is_refused(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    desk = await received(http, system, complainant={"name": "伪造", "phone": unique_phone()})
    forged = issue_token(
        Settings(staff_token_secret="not-the-secret"),
        Staff(staff_id="x", role=StaffRole.COMPANY, office=None),
    )
    resp = await http.get(
        f"{system.urls['workflow']}/v1/complaints/{desk.id}",
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert resp.status_code == 401 and "Signature" in resp.json()["detail"]

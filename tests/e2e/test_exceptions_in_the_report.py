"""Issue 15 end to end, all together: each everyday exception (items 1–9) driven through the
running services by staff commands, then checked where each one must show — the workflow's
state, the SLA's clocks, and the monthly report of the offices involved.

The complaints live in two offices of this module's own, so that the report's figures are
exactly these complaints' and can be written out here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import CHINA, HOTLINE, SUPERVISION, eventually, minutes_ago
from tests.e2e.test_workflow_lifecycle import Desk, bearer, later, received, unique_phone

pytestmark = pytest.mark.infra

RUN = uuid.uuid4().hex[:6]
A, B = f"甲{RUN}园", f"乙{RUN}园"
COMPANY = bearer(Role.COMPANY, office=None)
AGENT = bearer(Role.CS_AGENT, office=A)
HEAD = bearer(Role.CS_HEAD, office=A)
DEPT = bearer(Role.DEPARTMENT, office=A)
SUPERVISOR = bearer(Role.SUPERVISOR, office=A)
PM = bearer(Role.PROJECT_MANAGER, office=A)


async def submit(
    http: httpx.AsyncClient,
    system: RunningSystem,
    channel: dict[str, str] = HOTLINE,
    *,
    office: str = A,
    minutes: float = 2,
) -> Desk:
    return await received(
        http,
        system,
        channel,
        office=office,
        complainant={"name": "业主", "phone": unique_phone()},
        occurred_at=minutes_ago(minutes),
    )


async def implemented(desk: Desk) -> None:
    await desk.do("acknowledge", AGENT)
    await desk.do("classify", AGENT, validity="valid", category="environment")
    await desk.do("assign", HEAD, department="环境部", deadline=later(3))
    await desk.do("analyse", DEPT, cause="保洁巡查频次不足", responsible_party="环境部")
    plan_id = (await desk.do("propose", DEPT, plan="增加巡查"))["plans"][-1]["plan_id"]
    await desk.do("approve", SUPERVISOR, plan_id=plan_id)
    await desk.do("implement", DEPT, plan_id=plan_id, summary="已完成")
    await desk.do("reply", AGENT, message="已处理", final=True)


class Office:
    """The complaints of office A, each in the situation its name says, and the instant just
    before one of them moved to office B."""

    def __init__(self) -> None:
        self.desks: dict[str, Desk] = {}
        self.before_move: datetime = datetime.now(CHINA)


@pytest.fixture(scope="module")
async def office(system: RunningSystem) -> AsyncIterator[Office]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield await _drive(http, system)


async def _drive(http: httpx.AsyncClient, system: RunningSystem) -> Office:
    o = Office()
    d = o.desks
    # 1. 暂缓: waiting for the developer, the department's clock paused.
    d["suspended"] = await submit(http, system)
    await d["suspended"].do("acknowledge", AGENT)
    await d["suspended"].do("classify", AGENT, validity="valid", category="fees")
    await d["suspended"].do("assign", HEAD, department="财务部", deadline=later(2))
    await d["suspended"].do("suspend", HEAD, reason="开发商要求暂缓", awaiting="developer")
    # 2. Closed unsatisfied (by the project manager, with a reason) and unreachable.
    d["unsatisfied"] = await submit(http, system)
    await implemented(d["unsatisfied"])
    await d["unsatisfied"].do("revisit", AGENT, satisfied=False, remarks="要求全额赔偿")
    await d["unsatisfied"].do("close", PM, outcome="unsatisfied", reason="超出合同范围")
    d["unreachable"] = await submit(http, system)
    await implemented(d["unreachable"])
    for _ in range(3):
        await d["unreachable"].do("revisit", AGENT, reached=False, remarks="无人接听")
    await d["unreachable"].do("close", AGENT, outcome="unreachable")
    # 3. 当场解决.
    d["on_the_spot"] = await submit(http, system)
    await d["on_the_spot"].do("acknowledge", AGENT)
    await d["on_the_spot"].do(
        "resolve", AGENT, validity="valid", category="facilities", summary="当场复位门禁"
    )
    # 4. 复核: valid, then assist.
    d["rejudged"] = await submit(http, system)
    await d["rejudged"].do("acknowledge", AGENT)
    await d["rejudged"].do("classify", AGENT, validity="valid", category="environment")
    await d["rejudged"].do(
        "rejudge", HEAD, validity="assist", category="environment", reason="邻里噪音，协助处理"
    )
    # 5. 转派 to another department without a new deadline, and 退单 of another one.
    d["transferred"] = await submit(http, system)
    await d["transferred"].do("acknowledge", AGENT)
    await d["transferred"].do("classify", AGENT, validity="valid", category="security")
    await d["transferred"].do("assign", HEAD, department="工程部", deadline=later(2))
    await d["transferred"].do("transfer", HEAD, to_department="安保部", reason="门禁归安保部")
    d["sent_back"] = await submit(http, system)
    await d["sent_back"].do("acknowledge", AGENT)
    await d["sent_back"].do("classify", AGENT, validity="valid", category="security")
    await d["sent_back"].do("assign", HEAD, department="工程部", deadline=later(2))
    await d["sent_back"].do("send-back", DEPT, reason="不属本部门")
    # 6. 重大投诉: over the head (the rule), flagged by hand, and over the head but invalid.
    d["major_rule"] = await submit(http, system, SUPERVISION)
    await d["major_rule"].do("acknowledge", AGENT)
    await d["major_rule"].do("classify", AGENT, validity="valid", category="customer_service")
    d["major_flagged"] = await submit(http, system)
    await d["major_flagged"].do("acknowledge", AGENT)
    await d["major_flagged"].do("classify", AGENT, validity="valid", category="security")
    await d["major_flagged"].do("flag-major", PM, reason="多户业主联名，影响恶劣")
    d["invalid_over_the_head"] = await submit(http, system, SUPERVISION)
    await d["invalid_over_the_head"].do("acknowledge", AGENT)
    await d["invalid_over_the_head"].do("classify", AGENT, validity="invalid")
    # 7. 时间承诺 kept by a fulfilling reply.
    d["promised"] = await submit(http, system)
    await d["promised"].do("acknowledge", AGENT)
    await d["promised"].do("classify", AGENT, validity="valid", category="facilities")
    await d["promised"].do("commit", AGENT, promised_at=later(0.5), message="今晚前答复")
    await d["promised"].do("reply", AGENT, message="已查明", fulfils_commitment=True)
    # 9. Merged into an open complaint of the same office, and withdrawn.
    d["merged"] = await submit(http, system)
    await d["merged"].do(
        "merge", HEAD, into_complaint_id=d["rejudged"].id, reason="同一事项重复投诉"
    )
    d["withdrawn"] = await submit(http, system)
    await d["withdrawn"].do("withdraw", HEAD, reason="业主撤诉")
    # 5. Last: one complaint moves to office B (the company decides).
    d["moved"] = await submit(http, system)
    await d["moved"].do("acknowledge", AGENT)
    await d["moved"].do("classify", AGENT, validity="valid", category="vehicles_traffic")
    o.before_move = datetime.now(CHINA)
    await d["moved"].do("transfer-office", COMPANY, to_office=B, reason="该楼栋归乙园管理")
    return o


async def report(
    http: httpx.AsyncClient, system: RunningSystem, office: str, **params: str
) -> dict[str, Any]:
    today = datetime.now(CHINA).date()
    query = {"office": office, "from": str(today - timedelta(days=1)), "to": str(today)}
    resp = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly",
        params={**query, **params},
        headers=COMPANY,
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def figures(doc: dict[str, Any]) -> dict[str, Any]:
    by_type = {t["validity"]: t["count"] for t in doc["by_type"]}
    return {
        "received": doc["received"],
        "judged": doc["judged"],
        "by_type": by_type,
        "handling": doc["handling"],
        "excluded": (doc["excluded"]["merged"], doc["excluded"]["withdrawn"]),
    }


async def test_the_monthly_report_counts_each_exception(
    http: httpx.AsyncClient, system: RunningSystem, office: Office
) -> None:
    d = office.desks
    # 14 complaints received for A: one moved to B, one merged and one withdrawn are not
    # counted (the last two are listed apart); the 当场解决 one is judged by its resolution.
    expected = {
        "received": 11,
        "judged": 11,
        "by_type": {"valid": 9, "assist": 1, "invalid": 1},  # the re-judged one counts as assist
        "handling": {
            "major": 2,  # over the head (rule) and flagged by hand; not the invalid one
            "resolved_on_the_spot": 1,
            "suspended": 1,
            "suspended_now": 1,
            "rejudged": 1,
            "closed_satisfied": 0,
            "closed_unsatisfied": 1,
            "closed_unreachable": 1,
        },
        "excluded": (1, 1),
    }

    async def settled() -> dict[str, Any] | None:
        found = figures(await report(http, system, A))
        return found if found == expected else None

    try:
        await eventually(settled, timeout=30, interval=0.5)
    except Exception:
        assert figures(await report(http, system, A)) == expected
    doc = await report(http, system, A)
    listed = {c["complaint_id"] for c in doc["excluded"]["complaints"]}
    assert listed == {d["merged"].id, d["withdrawn"].id}
    # The moved complaint counts for B from its move, and for A as of an instant before it.
    assert figures(await report(http, system, B))["received"] == 1
    before = await report(http, system, A, as_of=office.before_move.isoformat())
    assert before["received"] == expected["received"] + 1
    assert (await report(http, system, B, as_of=office.before_move.isoformat()))["received"] == 0
    # Shares are each count over its own base, one decimal, half up: 9 of 11 = 81.8%.
    shares = {t["validity"]: t["share_label"] for t in doc["by_type"]}
    assert shares == {"valid": "81.8%", "assist": "9.1%", "invalid": "9.1%"}
    assert doc["types_note"] == ""  # 81.8 + 9.1 + 9.1 = 100.0: no rounding note


async def test_each_exception_in_the_workflow_state_and_the_sla_clocks(
    http: httpx.AsyncClient, system: RunningSystem, office: Office
) -> None:
    d = office.desks
    state = {name: await desk.get(COMPANY) for name, desk in d.items()}
    assert state["suspended"]["status"] == "suspended"
    assert state["unsatisfied"]["outcome"] == "unsatisfied"
    assert state["unreachable"]["outcome"] == "unreachable"
    assert state["on_the_spot"]["status"] == "resolved"
    assert (state["rejudged"]["validity"], state["rejudged"]["rejudged"]) == ("assist", 1)
    assert state["transferred"]["department"] == "安保部"
    assert (state["sent_back"]["status"], state["sent_back"]["department"]) == ("judged", None)
    assert state["major_rule"]["major"] and state["major_flagged"]["major"]
    assert not state["invalid_over_the_head"]["major"]
    assert state["promised"]["open_commitment"] is None
    assert state["merged"]["status"] == "merged" and state["withdrawn"]["status"] == "withdrawn"
    assert state["moved"]["office"] == B
    # 8. Every open complaint names its next deadline.
    for name, s in state.items():
        if s["status"] not in ("closed", "merged", "withdrawn"):
            assert s["next_deadline"] is not None, name

    async def clocks(desk: Desk, **wanted: str) -> None:
        last: dict[str, str] = {}

        async def probe() -> bool:
            resp = await http.get(
                f"{system.urls['sla']}/v1/complaints/{desk.id}/sla", headers=COMPANY
            )
            if resp.status_code != 200:
                return False
            found = {c["timer"]: c["state"] for c in resp.json()["clocks"]}
            last.update(found)
            return all(found.get(t) == s for t, s in wanted.items())

        try:
            await eventually(probe, timeout=20, interval=0.3)
        except AssertionError:
            raise AssertionError(f"clocks {last}, wanted {wanted}") from None

    await clocks(d["suspended"], department="paused")
    await clocks(d["transferred"], department="running")  # no new deadline: the clock runs on
    # 退单 stops the department's clock (before its deadline: met); assignment runs again
    await clocks(d["sent_back"], department="met", assignment="running")
    await clocks(d["promised"], promise="met")


async def test_priority_is_shown_in_the_sla_overdue_list(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    """12. 轻重缓急 in every list: a complaint of ten days ago, judged urgent and never
    answered, is in the SLA's overdue list with its priority."""
    office = f"丙{RUN}园"
    agent = bearer(Role.CS_AGENT, office=office)
    desk = await submit(http, system, office=office, minutes=10 * 24 * 60)
    await desk.do("acknowledge", agent)
    await desk.do("classify", agent, validity="valid", category="facilities", priority="urgent")

    async def listed() -> dict[str, Any] | None:
        # The list is as of the SLA's latest judgment of the complaint: overdue from its
        # receipt on (it happened ten days ago), with a priority once the judgment is folded.
        resp = await http.get(f"{system.urls['sla']}/v1/sla/overdue", headers=COMPANY)
        assert resp.status_code == 200, resp.text
        rows = resp.json()["by_office"].get(office, [])
        return next((r for r in rows if r["timer"] == "reply" and r["priority"]), None)

    row = await eventually(listed, timeout=20, interval=0.3)
    assert (row["complaint_id"], row["priority"]) == (desk.id, "urgent")

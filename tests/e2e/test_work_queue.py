"""Work queues (issue 17 item 1, issue 15 item 12): `GET /v1/complaints` on the running
workflow — every filter, the priority order, keyset pages, and who may see which office.

The complaints live in an office of this test's own, so that the other tests' complaints in
the shared system cannot enter the counts."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import HOTLINE, SUPERVISION, minutes_ago
from tests.e2e.test_workflow_lifecycle import Desk, bearer, later, received, unique_phone

pytestmark = pytest.mark.infra

OFFICE = f"队列{uuid.uuid4().hex[:6]}园"
COMPANY = bearer(Role.COMPANY, office=None)
AGENT_1 = bearer(Role.CS_AGENT, office=OFFICE, staff_id="agent-queue-1")
AGENT_2 = bearer(Role.CS_AGENT, office=OFFICE, staff_id="agent-queue-2")
ELSEWHERE = bearer(Role.CS_HEAD, office="别处园")


UNITS = itertools.count(101)


async def submit(
    http: httpx.AsyncClient, system: RunningSystem, headers: dict[str, str], **body: Any
) -> Desk:
    # a unit and a phone of its own: the repeat rule would make the others major
    return await received(
        http,
        system,
        headers,
        office=OFFICE,
        unit=f"{next(UNITS)}室",  # never two alike: 1 in 900 of them collided in a run
        complainant={"name": "何先生", "phone": unique_phone()},
        **body,
    )


async def queue(
    http: httpx.AsyncClient,
    system: RunningSystem,
    headers: dict[str, str] = COMPANY,
    **params: Any,
) -> httpx.Response:
    if headers is COMPANY:  # a company-wide role names the office it looks at
        params.setdefault("office", OFFICE)
    return await http.get(
        f"{system.urls['workflow']}/v1/complaints", params=params, headers=headers
    )


async def ids(http: httpx.AsyncClient, system: RunningSystem, **params: Any) -> list[str]:
    resp = await queue(http, system, **params)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["total"] == len(page["items"]), "one page holds every match here"
    return [item["complaint_id"] for item in page["items"]]


@pytest.fixture(scope="module")
async def desks(system: RunningSystem) -> AsyncIterator[dict[str, Desk]]:
    """Five complaints in five situations, received a minute apart in this order."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield await _five(http, system)


async def _five(http: httpx.AsyncClient, system: RunningSystem) -> dict[str, Desk]:
    urgent = await submit(
        http, system, HOTLINE, description="电梯困人，门无法打开", occurred_at=minutes_ago(5)
    )
    normal = await submit(
        http,
        system,
        HOTLINE,
        # the text filter searches the unit and the subject (the description is sealed)
        subject="地下车库积水，独角兽标记",
        description="地下车库积水严重",
        occurred_at=minutes_ago(4),
    )
    low = await submit(
        http, system, HOTLINE, description="公告栏的字太小", occurred_at=minutes_ago(3)
    )
    major = await submit(
        http, system, SUPERVISION, description="多次反映无人处理", occurred_at=minutes_ago(2)
    )
    fresh = await submit(
        http, system, HOTLINE, description="门口垃圾未清理", occurred_at=minutes_ago(1)
    )
    for desk, priority in ((urgent, "urgent"), (normal, "normal"), (low, "low")):
        await desk.do("acknowledge", AGENT_1)
        await desk.do(
            "classify", AGENT_1, validity="valid", category="facilities", priority=priority
        )
    await major.do("acknowledge", AGENT_2)
    return {"urgent": urgent, "normal": normal, "low": low, "major": major, "fresh": fresh}


async def test_the_office_queue_puts_urgent_first_and_low_last(
    http: httpx.AsyncClient, system: RunningSystem, desks: dict[str, Desk]
) -> None:
    resp = await queue(http, system)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["total"] == 5 and page["next_cursor"] is None
    order = [item["complaint_id"] for item in page["items"]]
    assert order[0] == desks["urgent"].id
    assert order[-1] == desks["low"].id
    by_id = {item["complaint_id"]: item for item in page["items"]}
    assert by_id[desks["urgent"].id]["priority"] == "urgent"
    assert by_id[desks["urgent"].id]["assignee"] == "agent-queue-1"
    assert by_id[desks["major"].id]["assignee"] == "agent-queue-2"
    fresh = by_id[desks["fresh"].id]
    assert fresh["status"] == "received" and fresh["assignee"] is None
    assert fresh["next_deadline"]["kind"] == "first_response"
    assert 0 < fresh["next_deadline"]["seconds_left"] <= 30 * 60
    assert fresh["overdue"] is False
    assert fresh["subject"] == "高空抛物"


async def test_each_filter_selects_exactly_its_complaints(
    http: httpx.AsyncClient, system: RunningSystem, desks: dict[str, Desk]
) -> None:
    d = {name: desk.id for name, desk in desks.items()}
    assert set(await ids(http, system, headers=AGENT_1, mine="true")) == {
        d["urgent"],
        d["normal"],
        d["low"],
    }
    assert await ids(http, system, assignee="agent-queue-2") == [d["major"]]
    assert await ids(http, system, priority="urgent") == [d["urgent"]]
    assert set(await ids(http, system, priority=["urgent", "low"])) == {d["urgent"], d["low"]}
    assert await ids(http, system, status="received") == [d["fresh"]]
    assert await ids(http, system, channel="supervision") == [d["major"]]
    assert await ids(http, system, major="true") == [d["major"]]
    assert d["major"] not in await ids(http, system, major="false")
    assert await ids(http, system, text="独角兽") == [d["normal"]]
    assert await ids(http, system, text="100%") == []  # a LIKE wildcard is searched as text
    assert await ids(http, system, overdue="true") == []
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    due = await ids(http, system, due_before=soon)
    assert d["fresh"] in due and d["low"] not in due
    assert await ids(http, system, office="别处园") == []


async def test_pages_follow_the_cursor_without_gaps_or_repeats(
    http: httpx.AsyncClient, system: RunningSystem, desks: dict[str, Desk]
) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"sort": "received", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        resp = await queue(http, system, **params)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert page["total"] == 5
        assert len(page["items"]) <= 2
        seen += [item["complaint_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [desks[n].id for n in ("urgent", "normal", "low", "major", "fresh")]
    newest = await ids(http, system, sort="-received")
    assert newest == list(reversed(seen))


async def test_who_may_see_which_queue(
    http: httpx.AsyncClient, system: RunningSystem, desks: dict[str, Desk]
) -> None:
    resp = await queue(http, system, headers=AGENT_1, office="别处园")
    assert resp.status_code == 403 and "office" in resp.text
    resp = await queue(http, system, headers=ELSEWHERE)
    assert resp.status_code == 200
    assert not {i["complaint_id"] for i in resp.json()["items"]} & {d.id for d in desks.values()}
    resp = await http.get(f"{system.urls['workflow']}/v1/complaints")
    assert resp.status_code == 401


async def test_bad_queries_name_the_field(http: httpx.AsyncClient, system: RunningSystem) -> None:
    for params, field in (
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"priority": "whenever"}, "priority"),
        ({"limit": 500}, "limit"),
        ({"sort": "price"}, "sort"),
        ({"due_before": "tomorrow"}, "due_before"),
    ):
        resp = await queue(http, system, **params)
        assert resp.status_code == 422, (params, resp.text)
        assert field in resp.text, (params, resp.text)
    first = await queue(http, system, sort="received", limit=1)
    cursor = first.json()["next_cursor"]
    resp = await queue(http, system, sort="deadline", cursor=cursor)
    assert resp.status_code == 422 and "cursor" in resp.text


async def test_mine_is_what_waits_on_each_role(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    """我的待办 per role: the agent's the complaints it owns; the department's those waiting
    for its analysis, plan or implementation; the approvers' the proposed plans; the project
    manager's also the major ones. An office of this test's own keeps the sets exact."""
    office = f"待办{uuid.uuid4().hex[:6]}园"

    def as_(role: Role, office: str | None = office) -> dict[str, str]:
        return bearer(role, office=office, staff_id=f"mine-{role.value}")

    agent, head = as_(Role.CS_AGENT), as_(Role.CS_HEAD)

    async def one(channel: dict[str, str] = HOTLINE) -> Desk:
        return await received(
            http,
            system,
            channel,
            office=office,
            unit=f"{uuid.uuid4().int % 900 + 100}室",
            complainant={"name": "何先生", "phone": unique_phone()},
        )

    fresh, assigned, proposed = await one(), await one(), await one()
    major = await one(SUPERVISION)
    for desk in (assigned, proposed):
        await desk.do("acknowledge", agent)
        await desk.do("classify", agent, validity="valid", category="facilities")
        await desk.do("assign", head, department="工程部", deadline=later(3))
    await proposed.do("analyse", as_(Role.DEPARTMENT), cause="老化", responsible_party="工程部")
    await proposed.do("propose", as_(Role.DEPARTMENT), plan="更换")
    await major.do("acknowledge", bearer(Role.CS_AGENT, office=office, staff_id="someone-else"))

    async def mine(headers: dict[str, str]) -> set[str]:
        return set(await ids(http, system, headers=headers, mine="true"))

    assert await mine(agent) == {assigned.id, proposed.id}
    assert await mine(as_(Role.DEPARTMENT)) == {assigned.id}
    assert await mine(as_(Role.SUPERVISOR)) == {proposed.id}
    assert await mine(as_(Role.PROJECT_MANAGER)) == {proposed.id, major.id}
    assert fresh.id not in await mine(head)  # nobody has taken it on yet
    # the office scope still holds: another office's department sees none of these
    elsewhere = await mine(bearer(Role.DEPARTMENT, office="别处园", staff_id="mine-dept-2"))
    assert not elsewhere & {fresh.id, assigned.id, proposed.id, major.id}
    # and it combines with the other filters
    assert set(
        await ids(http, system, headers=as_(Role.PROJECT_MANAGER), mine="true", major="false")
    ) == {proposed.id}

"""Issue 5 end to end: the live dashboard, now and as of an earlier instant.

The complaints occur now, in an office of this test's own. SLA warnings and breaches are
published straight to the log (the real SLA service would fire its own only after 24 minutes
or more, long after this test).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts import Envelope, new_envelope
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from tests.conftest import RunningSystem
from tests.e2e.helpers import APP, READER, SUPERVISION, eventually
from tests.e2e.test_reporting_monthly import (
    get_json,
    publish,
    reporting_has_caught_up,
    submit,
    unique_office,
)
from tests.e2e.test_workflow_lifecycle import later

pytestmark = pytest.mark.infra


def sla_envelope(complaint_id: str, data: SlaWarning | SlaBreached, kind: AlertKind) -> Envelope:
    """An SLA event as the SLA service would publish it (same id derivation)."""
    cid = uuid.UUID(complaint_id)
    now = datetime.now(UTC)
    return new_envelope(
        data,
        event_id=sla_event_id(cid, data.timer, data.deadline, kind),
        complaint_id=cid,
        occurred_at=now,
        recorded_at=now,
        source="sla/test",
    )


async def test_dashboard_shows_open_overdue_due_soon_major_intake_and_hot_spots(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    office = unique_office("丁园")
    started = datetime.now(UTC)
    drain = "地漏堵塞"
    # 7栋1单元101 twice (the second is major: the same unit again), 7栋 three times,
    # the drain three times; one over the supervision line (major, over the head)
    c1 = await submit(http, system, office, unit="7栋1单元101", subject=drain)
    c2 = await submit(http, system, office, APP, unit="7栋1单元101", subject=drain)
    c3 = await submit(http, system, office, SUPERVISION, unit="7栋2单元301", subject=drain)
    # each in a building of its own (drawn at random, two could share one: a hot spot)
    c4 = await submit(http, system, office, unit="21栋1单元101", subject="夜间噪音")
    c5 = await submit(http, system, office, unit="22栋1单元101", subject="电梯故障")
    c6 = await submit(http, system, office, unit="23栋1单元101", subject="快递丢失")
    await c1.do("acknowledge")
    state = await c4.judge("valid", "environment")
    await c4.do("assign", department=state["proposed_department"], deadline=later(3))
    await c6.close_invalid()

    occurred = datetime.fromisoformat(
        (await get_json(http, system, f"/v1/complaints/{c4.id}"))["occurred_at"]
    )
    reply_deadline = occurred + timedelta(days=1)
    first_response_deadline = occurred + timedelta(minutes=30)
    await publish(
        system,
        [
            sla_envelope(
                c4.id,
                SlaBreached(timer="reply", deadline=reply_deadline, hard=False),
                AlertKind.BREACHED,
            ),
            sla_envelope(
                c5.id,
                SlaWarning(
                    timer="first_response",
                    deadline=first_response_deadline,
                    target="首问响应：30分钟",
                    share=0.8,
                ),
                AlertKind.WARNING,
            ),
        ],
    )
    cases = [c1, c2, c3, c4, c5, c6]
    await reporting_has_caught_up(http, system, cases)

    async def alerted() -> dict[str, Any] | None:
        board = await get_json(http, system, "/v1/dashboard", office=office)
        return board if board["overdue"]["total"] and board["due_soon"]["total"] else None

    board = await eventually(alerted)
    before_reply = datetime.now(UTC).isoformat()

    # open complaints by status and office: c6 was closed
    assert board["open"]["total"] == 5
    assert {s["status"]: s["count"] for s in board["open"]["by_status"]} == {
        "received": 3,
        "acknowledged": 1,
        "assigned": 1,
    }
    assert [(o["office"], o["total"]) for o in board["open"]["by_office"]] == [(office, 5)]
    # overdue: c4's reply; about to breach: c5's first response
    # (each complaint once, with its clocks: the totals count complaints)
    [overdue] = board["overdue"]["items"]
    assert (overdue["complaint_id"], overdue["status"]) == (c4.id, "assigned")
    assert [c["timer"] for c in overdue["clocks"]] == ["reply"]
    assert overdue["timer_labels"] == "答复业主" and overdue["hard"] is False
    [soon] = board["due_soon"]["items"]
    assert (soon["complaint_id"], soon["timer_labels"]) == (c5.id, "首问响应")
    # major: the repeated unit and the supervision line
    majors = {m["complaint_id"]: m["rule"] for m in board["major"]["items"]}
    assert majors == {c2.id: "repeat_unit", c3.id: "over_the_head"}
    # today's intake by channel
    today = {c["channel"]: c["count"] for c in board["today"]["by_channel"]}
    assert today == {"hotline": 4, "app": 1, "supervision": 1, "front_desk": 0}
    assert board["today"]["total"] == 6
    # hot spots (星星之火): the unit twice, building 7栋 and the drain three times
    spots = board["hot_spots"]
    assert [(h["key"], h["count"]) for h in spots["units"]] == [("7栋1单元101", 2)]
    assert [(h["key"], h["count"]) for h in spots["buildings"]] == [("7栋", 3)]
    assert [(h["key"], h["count"]) for h in spots["topics"]] == [(drain, 3)]
    assert set(spots["topics"][0]["complaint_ids"]) == {c1.id, c2.id, c3.id}

    # replying stops the reply timer: no longer overdue now, still overdue as of before
    await c4.do("reply", message="已安排夜间巡查", final=False)
    await reporting_has_caught_up(http, system, [c4])
    now = await get_json(http, system, "/v1/dashboard", office=office)
    assert now["overdue"]["total"] == 0 and now["due_soon"]["total"] == 1
    then = await get_json(http, system, "/v1/dashboard", office=office, as_of=before_reply)
    assert [o["complaint_id"] for o in then["overdue"]["items"]] == [c4.id]
    # as of the start of the test none of it existed
    empty = await get_json(http, system, "/v1/dashboard", office=office, as_of=started.isoformat())
    assert (empty["open"]["total"], empty["today"]["total"], empty["major"]["total"]) == (0, 0, 0)

    # the complaint itself: its state and its service levels
    seen = await get_json(http, system, f"/v1/complaints/{c4.id}", as_of=before_reply)
    assert seen["state"]["status"] == "assigned"
    assert seen["state"]["service_levels"]["replied_within_1_day"] is False
    assert [a["kind"] for a in seen["state"]["alerts"]] == ["overdue"]
    assert seen["complainant"]["phone"].count("*") == 4

    # the page
    page = await http.get(
        f"{system.urls['reporting']}/dashboard", params={"office": office}, headers=READER
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in (
        "投诉实时看板",
        "<svg",
        "已超时投诉",
        "即将超时投诉",
        "重大投诉",
        "星星之火",
        "7栋",
    ):
        assert text in page.text, text

"""The dashboard built from rows (no database) and drawn as a page; the report's parameters."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.reporting.dashboard import (
    BOARD_FIGURES,
    Dashboard,
    build_dashboard,
    render_dashboard_html,
)
from services.reporting.params import report_query
from services.reporting.reports import instant, month_of
from services.runtime.http import FieldErrors

CHINA = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2026, 3, 2, 0, 30, tzinfo=CHINA)  # 1 March 16:30 UTC: "today" is 2 March


def open_row(office: str, status: str, **fields: Any) -> dict[str, Any]:
    return {
        "complaint_id": uuid.uuid4(),
        "office": office,
        "unit": "3栋1单元502",
        "subject": "地漏堵塞",
        "status": status,
        "major": False,
        "major_rule": None,
        "major_at": None,
        "occurred_at": AS_OF - timedelta(hours=1),
        "priority": None,
        **fields,
    }


def alert_row(complaint: dict[str, Any], timer: str, *, overdue: bool) -> dict[str, Any]:
    return {
        "complaint_id": complaint["complaint_id"],
        "office": complaint["office"],
        "unit": complaint["unit"],
        "subject": complaint["subject"],
        "timer": timer,
        "overdue": overdue,
        "hard": False,
        "deadline": AS_OF - timedelta(minutes=5),
        "alerted_at": AS_OF - timedelta(minutes=4),
    }


def sample() -> Dashboard:
    y1 = open_row("Y园", "received", major=True, major_rule="over_the_head", major_at=AS_OF)
    y2 = open_row("Y园", "assigned", priority="urgent")
    g1 = open_row("G小城", "received")
    return build_dashboard(
        as_of=AS_OF,
        office=None,
        open_rows=[y1, y2, g1],
        alert_rows=[
            alert_row(y2, "department", overdue=True),
            alert_row(g1, "reply", overdue=False),
        ],
        intake={"hotline": 2, "supervision": 1},
        hot_rows=[
            {
                "kind": "building",
                "office": "Y园",
                "key": "3栋",
                "n": 3,
                "latest_at": AS_OF,
                "ids": [y1["complaint_id"]],
            },
            {
                "kind": "topic",
                "office": "Y园",
                "key": "<b>地漏</b>",
                "n": 2,
                "latest_at": AS_OF,
                "ids": [],
            },
        ],
        days=30,
        min_count=2,
    )


def test_open_complaints_are_counted_by_status_in_procedure_order_and_by_office() -> None:
    board = sample()
    assert board.open.total == 3
    assert [(s.status, s.label, s.count) for s in board.open.by_status] == [
        ("received", "已登记", 2),
        ("assigned", "已派单", 1),
    ]
    assert [(o.office, o.total, o.by_status) for o in board.open.by_office] == [
        ("Y园", 2, {"received": 1, "assigned": 1}),
        ("G小城", 1, {"received": 1}),
    ]


def test_alerts_split_into_overdue_and_due_soon_with_the_complaints_status() -> None:
    board = sample()
    [overdue] = board.overdue.items
    assert (overdue.timer_labels, overdue.status, overdue.status_label) == (
        "限期解决",
        "assigned",
        "已派单",
    )
    assert [[c.timer for c in a.clocks] for a in board.due_soon.items] == [["reply"]]
    assert [m.rule_label for m in board.major.items] == ["越级投诉"]


def test_overdue_and_due_soon_count_complaints_once_with_their_clocks() -> None:
    """One open complaint with two overdue clocks and one about to breach is one complaint
    overdue and none due soon (the workbench counts its overdue filter in complaints too);
    its drill-down lists it once, and the page names its two clocks."""
    late = open_row("Y园", "assigned")
    soon = open_row("Y园", "received")
    alerts = [
        alert_row(late, "reply", overdue=True),
        alert_row(soon, "first_response", overdue=False),
        alert_row(late, "revisit", overdue=False),
        alert_row(late, "department", overdue=True),
        alert_row(soon, "reply", overdue=False),
    ]
    board = build_dashboard(
        as_of=AS_OF,
        office=None,
        open_rows=[late, soon],
        alert_rows=alerts,
        intake={},
        hot_rows=[],
        days=30,
        min_count=2,
    )
    assert (board.open.total, board.overdue.total, board.due_soon.total) == (2, 1, 1)
    [overdue] = board.overdue.items
    assert overdue.complaint_id == late["complaint_id"]
    assert overdue.timer_labels == "答复业主、限期解决"  # its overdue clocks, not 回访
    [due] = board.due_soon.items
    assert (due.complaint_id, due.timer_labels) == (soon["complaint_id"], "首问响应、答复业主")
    for key, complaint in (("overdue", late), ("due_soon", soon)):
        figure = BOARD_FIGURES[key]
        assert figure.complaints(alerts) == [complaint["complaint_id"]], key
    page = render_dashboard_html(board)
    assert '<td class="timers">答复业主、限期解决</td>' in page
    assert page.count(str(late["complaint_id"])) == 1

    alone = build_dashboard(
        as_of=AS_OF,
        office=None,
        open_rows=[late],
        alert_rows=[a for a in alerts if a["complaint_id"] == late["complaint_id"]],
        intake={},
        hot_rows=[],
        days=30,
        min_count=2,
    )
    assert (alone.open.total, alone.overdue.total, alone.due_soon.total) == (1, 1, 0)


def test_every_list_of_complaints_shows_the_priority() -> None:
    board = sample()
    [overdue] = board.overdue.items
    assert (overdue.priority, overdue.priority_label) == ("urgent", "紧急")
    assert [m.priority_label for m in board.major.items] == ["未定"]  # not judged yet
    page = render_dashboard_html(board)
    assert "<th>轻重缓急</th>" in page and "<td>紧急</td>" in page


def test_todays_intake_lists_every_channel_on_the_day_in_china_time() -> None:
    board = sample()
    assert board.today.day == date(2026, 3, 2)
    assert [(c.channel, c.label, c.count) for c in board.today.by_channel] == [
        ("hotline", "客服热线", 2),
        ("app", "业主APP", 0),
        ("supervision", "服务监督热线", 1),
        ("front_desk", "前台", 0),
    ]
    assert board.today.total == 3


def test_dashboard_page_has_the_zh_cn_sections_an_svg_and_escapes_texts() -> None:
    page = render_dashboard_html(sample())
    for heading in (
        "投诉实时看板",
        "未结投诉",
        "已超时投诉",
        "即将超时投诉",
        "重大投诉",
        "今日受理",
    ):
        assert heading in page, heading
    assert "星星之火" in page and "3栋" in page
    assert len(re.findall(r"<svg\b", page)) == 1
    assert "<b>地漏</b>" not in page and "&lt;b&gt;地漏&lt;/b&gt;" in page
    assert "<script" not in page
    assert 'http-equiv="refresh"' in page
    assert 'http-equiv="refresh"' not in render_dashboard_html(sample(), refresh_seconds=None)


def test_an_empty_dashboard_still_renders() -> None:
    board = build_dashboard(
        as_of=AS_OF,
        office="Y园",
        open_rows=[],
        alert_rows=[],
        intake={},
        hot_rows=[],
        days=30,
        min_count=2,
    )
    assert board.open.total == 0 and board.today.total == 0
    assert "无未结投诉" in render_dashboard_html(board)


# ------------------------------------------------------------------------------------------
# the report's parameters
# ------------------------------------------------------------------------------------------


def test_a_naive_as_of_is_china_time_and_no_as_of_is_now() -> None:
    now = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert instant(None, now) == now
    assert instant(datetime(2026, 3, 2, 0, 30), now) == now  # the same instant in China
    assert month_of(now) == (date(2026, 3, 1), date(2026, 3, 31))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((None, None), (date(2026, 2, 1), date(2026, 2, 28))),  # the month of as_of
        ((date(2024, 1, 1), None), (date(2024, 1, 1), date(2024, 1, 31))),
        ((None, date(2024, 2, 29)), (date(2024, 2, 1), date(2024, 2, 29))),
        ((date(2024, 1, 1), date(2024, 2, 29)), (date(2024, 1, 1), date(2024, 2, 29))),
    ],
)
async def test_report_period_defaults_to_whole_months(
    given: tuple[date | None, date | None], expected: tuple[date, date]
) -> None:
    query = await report_query(*given, office=None, as_of=datetime(2026, 2, 14, 12, 0))
    assert (query.period_from, query.period_to) == expected
    assert query.as_of == datetime(2026, 2, 14, 12, 0, tzinfo=CHINA)


async def test_report_period_that_ends_before_it_starts_names_the_field() -> None:
    with pytest.raises(FieldErrors) as refused:
        await report_query(date(2024, 3, 1), date(2024, 2, 1), office=None, as_of=None)
    assert [e["field"] for e in refused.value.errors] == ["from"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"period_from": date(1, 1, 1)}, "from"),
        ({"period_to": date(9999, 12, 31)}, "to"),
        ({"as_of": datetime(1, 1, 1, 0, 0)}, "as_of"),
    ],
)
async def test_dates_no_database_could_store_are_refused_naming_the_field(
    given: dict[str, Any], field: str
) -> None:
    with pytest.raises(FieldErrors) as refused:
        await report_query(
            **{"period_from": None, "period_to": None, "office": None, "as_of": None, **given}
        )
    assert [e["field"] for e in refused.value.errors] == [field]

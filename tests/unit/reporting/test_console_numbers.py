"""Every number the analyst console's pages show (issue 17): a count of complaints is a link
to the list of exactly the complaints it counts; a number that is not one says why.

The pages are found structurally, not by a hand list of figures: the test renders each page
with a Jinja ``finalize`` that marks every integer the templates print (``⟦n⟧``), then walks
the HTML. Each mark in the page's text must sit in a drill-down link (``<a class="count">``,
the templates' ``n`` macro) or in a ``<span class="number" data-why=…>`` (their ``plain``
macro) whose reason is one of ``NOT_COUNTS`` below. A count printed any other way — a new
``{{ x.count }}`` someone forgets to link — fails. (Marks inside attributes are SVG geometry
and are not shown. A count turned into a string before printing would escape the mark; the
templates print none.)

Each link is then followed in Python: its list, computed by the same selection as the count
(``monthly.figure_rows`` / ``monthly.record_complaints`` over the rows, ``BoardFigure.
complaints`` over the dashboard's rows), is as long as the number shown.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from jinja2 import Environment

from contracts.enums import Channel, ServiceCategory, Validity
from services.reporting.dashboard import board_figure, build_dashboard, render_dashboard_html
from services.reporting.dashboard import build as dashboard_build
from services.reporting.dashboard import html as dashboard_module
from services.reporting.monthly import (
    RECORD_FIGURES,
    QuotedEvent,
    ReportRow,
    build_monthly_report,
    figure_rows,
    find_figure,
    headline_of,
    record_complaints,
    with_comparisons,
)
from services.reporting.render import html as render_module
from services.reporting.render import render_html
from tests.unit.reporting.test_report_render import CHINA, OFFICES, row, sample_rows
from tests.unit.reporting.test_reporting_live_board import AS_OF, alert_row, open_row

NOT_COUNTS = {
    "offices": "a count of offices (管理处), not of complaints: no list of complaints is it",
    "categories": "a count of service categories, not of complaints",
    "seq": "序号, the row's place in an attachment",
    "setting": "a setting (hot-spot window and minimum, refresh interval), not a count",
    "limit": "how many rows a truncated list shows (its total is linked beside it)",
}
"""Numbers on the pages that cannot sensibly be a link, and why (``plain`` in the templates).
Percentages and shares are text (``18.4%``), never integers, so they are not marked."""

MARK = re.compile(r"⟦(\d+)⟧")


def _mark_integers(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"⟦{value}⟧"
    return value


@dataclass
class Number:
    value: int
    link: str | None  # the href of the drill-down link it sits in
    why: str | None  # the reason of the plain number it is


@dataclass
class _Walker(HTMLParser):
    numbers: list[Number] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    stack: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    VOID = frozenset({"meta", "input", "br", "link", "img", "hr", "rect", "path", "circle"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <rect …/> and the like: nothing inside

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for found in MARK.finditer(data):
            value = int(found.group(1))
            link = next(
                (
                    a.get("href")
                    for t, a in reversed(self.stack)
                    if t == "a" and a.get("class") == "count"
                ),
                None,
            )
            why = next(
                (
                    a.get("data-why")
                    for t, a in reversed(self.stack)
                    if t == "span" and a.get("class") == "number"
                ),
                None,
            )
            if link is None and why is None:
                self.stray.append(data.strip())
            self.numbers.append(Number(value, link, why))


def walk(page: str) -> list[Number]:
    """The marked numbers of ``page``; fails naming any shown neither as a link nor a plain
    number with a reason."""
    walker = _Walker()
    walker.feed(page)
    walker.close()
    assert walker.numbers, "no number marked: the page was not rendered with the marking env"
    assert not walker.stray, f"counts shown without a drill-down link: {walker.stray}"
    for number in walker.numbers:
        if number.why is not None:
            assert number.why in NOT_COUNTS, number
    return walker.numbers


@pytest.fixture
def marking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Render the console's pages with every printed integer marked."""
    for module in (render_module, dashboard_module):
        env: Environment = module._ENV
        monkeypatch.setattr(module, "_ENV", env.overlay(finalize=_mark_integers))


def _query(href: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(href)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


# ------------------------------------------------------------------------------------------
# the monthly report
# ------------------------------------------------------------------------------------------

PERIOD = (date(2024, 2, 1), date(2024, 2, 29))
PREVIOUS = (date(2024, 1, 1), date(2024, 1, 31))
YEAR_BEFORE = (date(2023, 2, 1), date(2023, 2, 28))
GENERATED = datetime(2024, 3, 8, 10, tzinfo=CHINA)


def report_rows() -> list[ReportRow]:
    """Complaints of every kind the report counts, in the period, the month before and the
    same month of 2023."""
    now = datetime(2024, 2, 10, 9, tzinfo=CHINA)
    rows = [r.model_copy(update={"received_at": now}) for r in sample_rows()]
    rows += [
        row(received_at=now, validity=None, category=None),  # pending
        row(received_at=now, category=None, subject="无类别"),  # unclassified
        row(received_at=now, status="merged", office="G小城"),
        row(received_at=now, status="withdrawn"),
        row(received_at=now, major=True, suspended=True, status="suspended", overdue=True),
        row(received_at=now, status="closed", close_outcome="unsatisfied", rejudged=True),
        row(received_at=now, first_response_within_30min=True, revisit_satisfied=False),
        row(received_at=now, validity=Validity.ASSIST, category=None, subject="路灯不亮"),
        row(received_at=now, validity=Validity.ASSIST, category=None, subject="路灯不亮"),
        row(received_at=datetime(2024, 1, 20, tzinfo=CHINA)),
        row(received_at=datetime(2024, 1, 21, tzinfo=CHINA), office="G小城", major=True),
        row(received_at=datetime(2023, 2, 3, tzinfo=CHINA), channel=Channel.SUPERVISION),
    ]
    return rows


def quoted_events(rows: list[ReportRow]) -> list[QuotedEvent]:
    def quoted(i: int, kind: str, detail: dict[str, Any], at: datetime) -> QuotedEvent:
        r = rows[i]
        return QuotedEvent(
            complaint_id=r.complaint_id,
            office=r.office,
            type=kind,
            occurred_at=at,
            detail=detail,
            subject=r.subject,
        )

    person = {"person": "张三", "measure": "通报批评", "reason": "未按时清运"}
    feb, jan = datetime(2024, 2, 12, tzinfo=CHINA), datetime(2024, 1, 12, tzinfo=CHINA)
    return [
        quoted(0, "PlanImplemented", {"accountability": [person, person]}, feb),  # 2 records
        quoted(1, "PlanImplemented", {"accountability": [person]}, feb),
        quoted(7, "PreventiveMeasureRecorded", {"measure": "每日巡查"}, feb),
        quoted(0, "PreventiveMeasureRecorded", {"measure": "加装监控"}, jan),
    ]


def the_report(rows: list[ReportRow], quoted: list[QuotedEvent], office: str | None) -> Any:
    def one(period: tuple[date, date]) -> Any:
        return build_monthly_report(
            rows,
            period_from=period[0],
            period_to=period[1],
            office=office,
            offices=OFFICES,
            generated_at=GENERATED,
            quoted=quoted,
        )

    return with_comparisons(one(PERIOD), headline_of(one(PREVIOUS)), headline_of(one(YEAR_BEFORE)))


def monthly_list_length(
    rows: list[ReportRow], quoted: list[QuotedEvent], query: dict[str, str]
) -> int:
    """How many complaints the report's drill-down lists for ``query``."""
    key = query["figure"]
    assert find_figure(key) is not None, key
    scope: dict[str, Any] = {
        "period_from": date.fromisoformat(query["from"]),
        "period_to": date.fromisoformat(query["to"]),
        "office": query.get("office"),
    }
    if key in RECORD_FIGURES:
        return len(record_complaints(quoted, key, **scope))
    return len(figure_rows(rows, key, **scope))


@pytest.mark.parametrize("office", [None, "Y园", "G小城"])
@pytest.mark.usefixtures("marking")
def test_every_number_of_the_report_page_is_a_linked_count_or_says_why_not(
    office: str | None,
) -> None:
    rows = report_rows()
    quoted = quoted_events(rows)
    numbers = walk(render_html(the_report(rows, quoted, office)))
    figures = set()
    periods = set()
    for number in numbers:
        if number.link is None:
            continue
        path, query = _query(number.link)
        assert path == "/reports/monthly/complaints"
        assert query.get("office") in ({office} if office else {None, *OFFICES})
        assert datetime.fromisoformat(query["as_of"]) == GENERATED
        figures.add(query["figure"].split(".")[0])
        periods.add((query["from"], query["to"]))
        assert monthly_list_length(rows, quoted, query) == number.value, query
    assert {"problem", "assist_topic", "accountability", "preventive_measures"} <= figures
    assert {"valid", "category", "direct", "major", "overdue", "merged"} <= figures
    compared = {(p[0].isoformat(), p[1].isoformat()) for p in (PERIOD, PREVIOUS, YEAR_BEFORE)}
    assert periods == compared  # 环比 and 同比 link their own period's list


def test_a_record_count_lists_each_records_complaint_once_per_record() -> None:
    rows = report_rows()
    quoted = quoted_events(rows)
    report = the_report(rows, quoted, None)
    assert len(report.accountability) == 3  # two records in one event, one in another
    ids = record_complaints(
        quoted, "accountability", period_from=PERIOD[0], period_to=PERIOD[1], office=None
    )
    assert ids == [rows[0].complaint_id, rows[0].complaint_id, rows[1].complaint_id]
    assert "按记录计数" in render_html(report)  # the page says the list is one per record


def test_every_comparison_names_a_figure_or_is_a_count_of_offices() -> None:
    rows = report_rows()
    report = the_report(rows, quoted_events(rows), None)
    for c in report.comparisons:
        if c.figure is None:
            assert c.key == "offices_with_valid"
        else:
            assert find_figure(c.figure) is not None, c.key


# ------------------------------------------------------------------------------------------
# the dashboard
# ------------------------------------------------------------------------------------------


def board_rows() -> dict[str, Any]:
    y1 = open_row("Y园", "received", major=True, major_rule="over_the_head", major_at=AS_OF)
    y2 = open_row("Y园", "assigned", priority="urgent")
    y3 = open_row("Y园", "assigned")
    g1 = open_row("G小城", "received")
    opened = [y1, y2, y3, g1]
    alerts = [
        alert_row(y2, "department", overdue=True),
        alert_row(y2, "reply", overdue=True),  # two clocks of one complaint: listed once
        alert_row(y3, "department", overdue=True),
        alert_row(g1, "reply", overdue=False),
    ]
    today = [
        {"complaint_id": uuid.uuid4(), "channel": channel}
        for channel in ("hotline", "hotline", "supervision")
    ]

    def hot(kind: str, office: str, key: str, members: list[dict[str, Any]]) -> dict[str, Any]:
        ids = [m["complaint_id"] for m in members]
        return {
            "kind": kind,
            "office": office,
            "key": key,
            "n": len(ids),
            "latest_at": AS_OF,
            "ids": ids,
        }

    hot_rows = [
        hot("unit", "Y园", "3栋1单元502", [y1, y2, y3]),
        hot("building", "Y园", "3栋", [y1, y2, y3]),
        hot("building", "G小城", "3栋", [g1, *today[:1]]),
        hot("topic", "Y园", "<b>地漏</b>", [y1, y2]),
    ]
    return {"open": opened, "alerts": alerts, "today": today, "hot": hot_rows}


def board_list_length(source: dict[str, Any], query: dict[str, str]) -> int:
    """How many complaints the dashboard's drill-down lists for ``query``."""
    figure = board_figure(query["figure"])
    assert figure is not None, query
    office = query.get("office")
    rows = [r for r in source[figure.source] if office is None or r.get("office", office) == office]
    return len(figure.complaints(rows))


@pytest.mark.usefixtures("marking")
def test_every_number_of_the_dashboard_is_a_linked_count_or_says_why_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dashboard_build, "LIST_LIMIT", 1)  # truncated lists show their total
    source = board_rows()
    board = build_dashboard(
        as_of=AS_OF,
        office=None,
        open_rows=source["open"],
        alert_rows=source["alerts"],
        intake={"hotline": 2, "supervision": 1},
        hot_rows=source["hot"],
        days=30,
        min_count=2,
    )
    numbers = walk(render_dashboard_html(board, refresh_seconds=60))
    figures = set()
    for number in numbers:
        if number.link is None:
            continue
        path, query = _query(number.link)
        assert path == "/dashboard/complaints"
        assert datetime.fromisoformat(query["as_of"]) == AS_OF
        figures.add(query["figure"].split(".")[0])
        if query["figure"].startswith("hot."):
            assert "office" in query  # a hot spot is one office's
        assert board_list_length(source, query) == number.value, query
    assert {"open", "overdue", "due_soon", "major", "today", "hot"} <= figures
    assert {n.why for n in numbers if n.why} == {"setting", "limit"}


def test_a_hot_spot_figure_names_its_kind_and_key() -> None:
    figure = board_figure("hot.topic.外墙.清洗")  # a key may hold a dot
    assert figure is not None and figure.source == "hot"
    assert figure.test({"kind": "topic", "key": "外墙.清洗"})
    assert not figure.test({"kind": "unit", "key": "外墙.清洗"})
    for bad in ("hot.floor.3楼", "hot.unit.", "hot"):
        assert board_figure(bad) is None, bad


def test_a_report_figure_key_that_names_nothing_is_none() -> None:
    for bad in (
        "problem.environment.xyz",
        "problem.nosuch.0123456789abcdef",
        "assist_topic.0123456789ABCDEF",
        "nosuch",
    ):
        assert find_figure(bad) is None, bad
    assert find_figure("accountability") is RECORD_FIGURES["accountability"]
    assert find_figure(f"problem.{ServiceCategory.ENVIRONMENT.value}.0123456789abcdef")

"""The analyst console's pages (issue 17): every count of the monthly report links to the
list of exactly its complaints, the downloads are of what is shown, the styles name CJK fonts,
and the dashboard's refresh keeps its office."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

from services.reporting.dashboard import render_dashboard_html
from services.reporting.drilldown import Picker
from services.reporting.monthly import (
    RECORD_FIGURES,
    build_monthly_report,
    figure_rows,
    find_figure,
    record_complaints,
)
from services.reporting.render import render_html
from tests.unit.reporting.test_report_render import CHINA, OFFICES, make_report, sample_rows
from tests.unit.reporting.test_reporting_live_board import sample

LINK = re.compile(r'<a class="count" href="([^"]+)">(\d+)</a>')


def _query(href: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(unescape(href))
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def test_every_count_of_the_report_links_to_a_list_as_long_as_the_count() -> None:
    rows = sample_rows()
    page = render_html(make_report(rows))
    links = LINK.findall(page)
    assert len(links) > 40  # the prose, the service levels, the handling, both attachments
    keys = set()
    for href, shown in links:
        path, query = _query(href)
        assert path == "/reports/monthly/complaints"
        assert (query["from"], query["to"]) == ("2024-01-01", "2024-02-29")
        assert datetime.fromisoformat(query["as_of"]) == datetime(2024, 3, 8, 10, tzinfo=CHINA)
        keys.add(query["figure"])
        scope: dict[str, Any] = {
            "period_from": date(2024, 1, 1),
            "period_to": date(2024, 2, 29),
            "office": query.get("office"),
        }
        if query["figure"] in RECORD_FIGURES:  # no accountability record in these rows
            listed: list[object] = list(record_complaints([], query["figure"], **scope))
        else:
            listed = list(figure_rows(rows, query["figure"], **scope))
        assert len(listed) == int(shown), (query, shown)
    assert {"judged", "valid", "assist", "invalid", "direct", "major", "overdue"} <= keys
    assert all(find_figure(key) is not None for key in keys)


def test_an_office_report_links_its_counts_to_that_office() -> None:
    report = build_monthly_report(
        sample_rows(),
        period_from=date(2024, 1, 1),
        period_to=date(2024, 2, 29),
        office="G小城",
        offices=OFFICES,
        generated_at=datetime(2024, 3, 8, 10, tzinfo=CHINA),
    )
    offices = {_query(href)[1].get("office") for href, _ in LINK.findall(render_html(report))}
    assert offices == {"G小城"}


def test_the_downloads_are_of_exactly_what_is_shown() -> None:
    page = render_html(make_report(office="Y园"))
    hrefs = re.findall(r'<a href="([^"]+)" (?:id="download-xlsx"|class="download-csv")', page)
    assert len(hrefs) == 6  # the workbook and five CSV sheets
    for href in hrefs:
        path, query = _query(href)
        assert path in ("/v1/reports/monthly.xlsx", "/v1/reports/monthly.csv")
        assert query["office"] == "Y园"
        assert (query["from"], query["to"]) == ("2024-01-01", "2024-02-29")
        assert datetime.fromisoformat(query["as_of"]) == datetime(2024, 3, 8, 10, tzinfo=CHINA)
    labels = re.findall(r'class="download-csv" data-sheet="(\w+)">([^<]+)</a>', page)
    assert labels == [
        ("summary", "CSV·汇总"),
        ("written", "CSV·文字部分"),
        ("comparisons", "CSV·环比同比"),
        ("attachment1", "CSV·附件1"),
        ("attachment2", "CSV·附件2"),
    ]


def test_the_form_offers_the_pickers_and_keeps_what_is_shown() -> None:
    page = render_html(
        make_report(period_from=date(2024, 2, 1), period_to=date(2024, 2, 29), office="Y园"),
        picker=Picker(offices=("Y园", "G小城"), company=True),
    )
    assert '<input type="month" name="month" value="2024-02">' in page
    assert '<option value="Y园" selected>Y园</option>' in page
    assert '<option value="">全公司</option>' in page
    assert 'type="datetime-local" name="as_of"' in page
    scoped = render_html(make_report(office="Y园"), picker=Picker(offices=("Y园",), company=False))
    assert "全公司</option>" not in scoped
    assert "G小城</option>" not in scoped
    assert 'name="from" value="2024-01-01"' in scoped  # two months: the dates, not a month


def test_the_styles_name_cjk_fonts_and_fetch_nothing() -> None:
    for page in (render_html(make_report()), render_dashboard_html(sample())):
        assert '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC"' in page
        assert "<link" not in page and "@import" not in page and "<script" not in page


def test_the_dashboard_refreshes_to_the_same_office_and_links_its_counts() -> None:
    board = sample()
    page = render_dashboard_html(board.model_copy(update={"office": "Y园"}), refresh_seconds=60)
    refresh = re.search(r'http-equiv="refresh" content="60; url=([^"]+)"', page)
    assert refresh is not None
    assert _query(refresh.group(1)) == ("/dashboard", {"office": "Y园"})
    links = LINK.findall(page)
    figures = {_query(href)[1]["figure"] for href, _ in links}
    assert {"open", "overdue", "due_soon", "major", "today"} <= figures
    for href, _ in links:
        path, query = _query(href)
        assert path == "/dashboard/complaints"
        assert query["office"] in {o.office for o in board.open.by_office} | {"Y园"}
        assert datetime.fromisoformat(query["as_of"]) == board.as_of
    live = render_dashboard_html(board, refresh_seconds=60)  # the whole company
    assert 'content="60; url=/dashboard"' in live
    headline = re.search(r'<a class="count" href="([^"]+)">\d+</a></b>', live)
    assert headline is not None and "office" not in _query(headline.group(1))[1]

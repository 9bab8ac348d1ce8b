"""Issue 15 in the monthly report: what is left out of the totals, the handling counts, the
written sections, the comparisons and the document's configurable header and footer."""

from __future__ import annotations

import io
from datetime import date, datetime
from itertools import count
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from services.reporting.document import DocumentSettings, load_document, parse_document
from services.reporting.monthly import (
    HEADLINE_FIGURES,
    InconsistentReportError,
    MonthlyReport,
    QuotedEvent,
    ReportRow,
    build_monthly_report,
    headline_figures,
    headline_of,
    with_comparisons,
)
from services.reporting.render import render_csv, render_html, render_xlsx
from services.reporting.reports import previous_period, previous_year

CHINA = ZoneInfo("Asia/Shanghai")
MAY_1, MAY_31 = date(2017, 5, 1), date(2017, 5, 31)
_ids = count(1000)


def row(**fields: Any) -> ReportRow:
    defaults: dict[str, Any] = {
        "complaint_id": UUID(int=next(_ids)),
        "office": "Y园",
        "channel": Channel.HOTLINE,
        "validity": Validity.VALID,
        "category": ServiceCategory.ENVIRONMENT,
        "received_at": datetime(2017, 5, 10, 9, 0, tzinfo=CHINA),
        "subject": "垃圾清运",
        "description": "垃圾清运不及时",
        "status": "closed",
        "close_outcome": "satisfied",
        "priority": Priority.NORMAL,
    }
    return ReportRow(**{**defaults, **fields})


def report(rows: list[ReportRow], **overrides: Any) -> MonthlyReport:
    arguments: dict[str, Any] = {
        "period_from": MAY_1,
        "period_to": MAY_31,
        "office": None,
        "offices": ["Y园", "G小城"],
        "generated_at": datetime(2017, 6, 8, 10, 0, tzinfo=CHINA),
    }
    return build_monthly_report(rows, **{**arguments, **overrides})


def test_merged_and_withdrawn_complaints_are_left_out_of_every_total_and_listed_apart() -> None:
    merged = row(status="merged", validity=None, category=None, priority=None)
    withdrawn = row(status="withdrawn", validity=Validity.VALID, priority=Priority.URGENT)
    r = report([row(), row(), merged, withdrawn])
    assert (r.received, r.valid, r.attachment1.totals.valid) == (2, 2, 2)
    assert (r.excluded.merged, r.excluded.withdrawn) == (1, 1)
    listed = {c.complaint_id: c.priority_label for c in r.excluded.complaints}
    assert listed == {merged.complaint_id: "未定", withdrawn.complaint_id: "紧急"}


def test_handling_counts_major_on_the_spot_suspended_rejudged_and_closing_outcomes() -> None:
    rows = [
        row(major=True),
        row(resolved_on_the_spot=True, status="resolved", close_outcome=None),
        row(suspended=True, status="suspended", close_outcome=None),
        row(suspended=True),
        row(rejudged=True, validity=Validity.ASSIST),
        row(close_outcome="unsatisfied"),
        row(close_outcome="unreachable"),
        row(close_outcome="unreachable"),
    ]
    h = report(rows).handling
    assert (h.major, h.resolved_on_the_spot, h.suspended, h.suspended_now, h.rejudged) == (
        1,
        1,
        2,
        1,
        1,
    )
    assert (h.closed_satisfied, h.closed_unsatisfied, h.closed_unreachable) == (3, 1, 2)


def test_each_office_gets_its_main_categories_in_words() -> None:
    cars, fac = ServiceCategory.VEHICLES_TRAFFIC, ServiceCategory.FACILITIES
    rows = [
        row(office="G小城"),
        row(office="G小城", category=cars),
        row(office="G小城", category=cars),
        row(office="G小城", category=fac),
        row(office="Y园", category=fac),
    ]
    words = {o.office: o.text for o in report(rows).office_categories}
    # ties (环境服务 1, 设施设备维护 1) keep the columns' order: 设施设备维护 is declared first
    assert words == {
        "G小城": "G小城的有效投诉点主要涉及车辆交通服务和设施设备维护",
        "Y园": "Y园的有效投诉点主要涉及设施设备维护",
    }


def test_assist_topics_are_the_most_frequent_subjects_of_the_assist_complaints() -> None:
    assist = {"validity": Validity.ASSIST, "category": None}
    rows = [
        row(subject="楼上噪音", **assist),
        row(subject="楼上噪音", **assist),
        row(subject="宠物管理", **assist),
        row(subject="外墙清洗"),  # valid: not an assist topic
    ]
    assert [(t.subject, t.count) for t in report(rows).assist_topics] == [
        ("楼上噪音", 2),
        ("宠物管理", 1),
    ]


def test_case_write_ups_are_the_supervision_line_complaints_with_their_closing_summary() -> None:
    closed = row(
        channel=Channel.SUPERVISION,
        subject="外墙清洗",
        close_summary="外墙清洗已于月底完成",
        priority=Priority.URGENT,
    )
    open_one = row(
        channel=Channel.SUPERVISION, status="suspended", suspended=True, close_outcome=None
    )
    r = report([closed, open_one, row()])
    ups = {u.complaint.complaint_id: u for u in r.case_write_ups}
    assert set(ups) == {closed.complaint_id, open_one.complaint_id}
    assert ups[closed.complaint_id].summary == "外墙清洗已于月底完成"
    assert ups[closed.complaint_id].text.endswith("已满意关闭。外墙清洗已于月底完成")
    assert ups[closed.complaint_id].complaint.priority_label == "紧急"
    assert "目前暂缓，仍在处理中" in ups[open_one.complaint_id].text


def test_accountability_and_preventive_measures_of_the_period_and_office_are_quoted() -> None:
    def quoted(kind: str, detail: dict[str, Any], **fields: Any) -> QuotedEvent:
        return QuotedEvent(
            **{
                "complaint_id": UUID(int=1),
                "office": "Y园",
                "type": kind,
                "occurred_at": datetime(2017, 5, 20, 9, 0, tzinfo=CHINA),
                "detail": detail,
                "subject": "垃圾清运",
                **fields,
            }
        )

    record = {"person": "张三", "measure": "扣罚绩效", "reason": "巡查不到位"}
    events = [
        quoted("PlanImplemented", {"summary": "已整改", "accountability": [record]}),
        quoted("PlanImplemented", {"summary": "已整改", "accountability": []}),
        quoted("PreventiveMeasureRecorded", {"measure": "每日巡查"}),
        quoted(  # another month
            "PreventiveMeasureRecorded",
            {"measure": "六月的措施"},
            occurred_at=datetime(2017, 6, 1, 9, 0, tzinfo=CHINA),
        ),
        quoted("PreventiveMeasureRecorded", {"measure": "别处的措施"}, office="G小城"),
    ]
    r = report([row()], office="Y园", quoted=events)
    assert [(a.person, a.measure, a.reason) for a in r.accountability] == [
        ("张三", "扣罚绩效", "巡查不到位")
    ]
    assert [m.measure for m in r.preventive_measures] == ["每日巡查"]


def test_comparisons_put_every_headline_figure_beside_the_earlier_periods() -> None:
    now = report([row(), row(), row(validity=Validity.INVALID, category=None)])
    before = report([row(), row(), row(), row()])
    year = report([])
    r = with_comparisons(now, headline_of(before), headline_of(year))
    by_key = {c.key: c for c in r.comparisons}
    assert list(by_key) == list(HEADLINE_FIGURES)
    valid = by_key["valid"]
    assert (valid.current, valid.previous_period, valid.previous_year) == (2, 4, 0)
    assert (valid.period_change_label, valid.year_change_label) == ("-50.0%", "—")
    invalid = by_key["invalid"]
    assert (invalid.previous_period, invalid.period_change_label) == (0, "—")
    received = by_key["received"]
    assert (received.current, received.period_change_tenths) == (3, -250)
    assert headline_figures(r) == {c.key: c.current for c in r.comparisons}


def test_a_comparison_that_disagrees_with_the_report_is_refused() -> None:
    r = with_comparisons(report([row()]), None, None)
    tampered = r.model_copy(
        update={"comparisons": (r.comparisons[0].model_copy(update={"current": 7}),)}
    )
    with pytest.raises(InconsistentReportError, match="comparison"):
        tampered.check()


@pytest.mark.parametrize(
    ("start", "end", "before", "a_year_before"),
    [
        (date(2017, 6, 1), date(2017, 6, 30), (date(2017, 5, 1), date(2017, 5, 31)),
         (date(2016, 6, 1), date(2016, 6, 30))),
        (date(2024, 1, 1), date(2024, 2, 29), (date(2023, 11, 1), date(2023, 12, 31)),
         (date(2023, 1, 1), date(2023, 2, 28))),
        (date(2017, 3, 1), date(2017, 3, 31), (date(2017, 2, 1), date(2017, 2, 28)),
         (date(2016, 3, 1), date(2016, 3, 31))),
        (date(2017, 5, 10), date(2017, 5, 19), (date(2017, 4, 30), date(2017, 5, 9)),
         (date(2016, 5, 10), date(2016, 5, 19))),
    ],
)  # fmt: skip
def test_the_earlier_periods_of_a_report(
    start: date, end: date, before: tuple[date, date], a_year_before: tuple[date, date]
) -> None:
    assert previous_period(start, end) == before
    assert previous_year(start, end) == a_year_before


def test_the_document_text_is_configurable_and_printed_in_every_format() -> None:
    settings = parse_document(
        "department: 品质部\n"
        'issue_number: "{department}[{year}]第{month}期（{months}月）"\n'
        "addressees: 各项目\n"
        "subject_words: [投诉, 月报]\n"
        "cc: [总经理]\n"
        "issuer: 某某物业公司\n"
    )
    text = settings.text_for(date(2017, 1, 1), date(2017, 2, 28))
    assert text.issue_number == "品质部[2017]第2期（1、2月）"
    r = report([row()], document=text)
    assert r.document.cc == ("总经理",)
    html = render_html(r)
    for line in ("品质部[2017]第2期（1、2月）", "各项目：", "主题词：投诉 月报", "抄送：总经理。"):
        assert line in html
    assert "某某物业公司　2017年6月8日印发" in html
    book = load_workbook(io.BytesIO(render_xlsx(r)))
    cells = [str(v) for row_ in book["文字部分"].iter_rows(values_only=True) for v in row_ if v]
    assert "品质部[2017]第2期（1、2月）" in cells and "总经理" in cells
    assert "品质部[2017]第2期（1、2月）" in render_csv(r, "written")


def test_the_shipped_document_file_gives_the_seeds_header() -> None:
    text = load_document().text_for(date(2017, 1, 1), date(2017, 2, 28))
    assert text.issue_number == "品质管理部[2017]第2期"
    assert (text.addressees, text.subject_words, text.cc) == (
        "各管理处",
        ("客户投诉", "月报"),
        ("公司领导", "项目管理部"),
    )
    assert load_document() == DocumentSettings.model_validate(
        {"issuer": "**物业管理有限公司"}
    )  # the shipped file says what the defaults say, plus the issuer


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("adressees: 各管理处\n", "adressees"),
        ('issue_number: "第{number}期"\n', "issue_number"),
        ("cc: 公司领导\n", "cc"),
        ("subject_words: [\n", "not YAML"),
    ],
)
def test_a_bad_document_file_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        parse_document(text)


def test_rounding_notes_appear_in_the_page_and_the_workbook() -> None:
    rows = [row() for _ in range(8)] + [
        row(validity=v, category=None) for v in (Validity.ASSIST,) * 2 + (Validity.INVALID,) * 2
    ]
    r = report(rows)  # 8/2/2 of 12: 66.7 + 16.7 + 16.7 = 100.1
    assert [f.share_label for f in r.by_type] == ["66.7%", "16.7%", "16.7%"]
    assert r.types_note == "数据经四舍五入"
    assert "（数据经四舍五入）" in render_html(r)
    book = load_workbook(io.BytesIO(render_xlsx(r)))
    items = [row_[1] for row_ in book["汇总"].iter_rows(min_row=3, values_only=True)]
    assert "数据经四舍五入" in items

"""The monthly report on paper: HTML with SVG charts, XLSX and CSV, all from one report."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from itertools import count
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from contracts.enums import Channel, ServiceCategory, Validity
from services.reporting.monthly import MonthlyReport, ReportRow, build_monthly_report
from services.reporting.render import (
    CSV_BOM,
    period_label,
    render_csv,
    render_html,
    render_xlsx,
)

CHINA = ZoneInfo("Asia/Shanghai")
OFFICES = ["Y园", "G小城", "*湾花园", "W花园"]
_ids = count(1)


def row(**fields: Any) -> ReportRow:
    """A valid environment complaint of 2024-01-10 at Y园 by hotline, unless told otherwise."""
    defaults: dict[str, Any] = {
        "complaint_id": UUID(int=next(_ids)),
        "office": "Y园",
        "channel": Channel.HOTLINE,
        "validity": Validity.VALID,
        "category": ServiceCategory.ENVIRONMENT,
        "received_at": datetime(2024, 1, 10, 9, 0, tzinfo=CHINA),
        "subject": "外墙清洗",
        "description": "外墙没有按时清洗",
    }
    return ReportRow(**{**defaults, **fields})


def sample_rows() -> list[ReportRow]:
    """9 valid (Y园 5, G小城 4), 6 assist, 2 invalid; 2 by the supervision line."""
    env, car, fee = (
        ServiceCategory.ENVIRONMENT,
        ServiceCategory.VEHICLES_TRAFFIC,
        ServiceCategory.FEES,
    )
    return [
        *(row(category=env) for _ in range(3)),
        row(category=car, subject="私家车位被占用", channel=Channel.SUPERVISION),
        row(category=car, subject="私家车位被占用"),
        *(row(office="G小城", category=fee, subject="维修费不合理") for _ in range(2)),
        *(row(office="G小城", category=env) for _ in range(2)),
        *(row(office="G小城", validity=Validity.ASSIST, category=None) for _ in range(3)),
        *(row(office="*湾花园", validity=Validity.ASSIST, category=None) for _ in range(3)),
        row(
            office="*湾花园", validity=Validity.INVALID, category=None, channel=Channel.SUPERVISION
        ),
        row(office="Y园", validity=Validity.INVALID, category=None),
    ]


def make_report(rows: list[ReportRow] | None = None, **overrides: Any) -> MonthlyReport:
    arguments: dict[str, Any] = {
        "period_from": date(2024, 1, 1),
        "period_to": date(2024, 2, 29),
        "office": None,
        "offices": OFFICES,
        "generated_at": datetime(2024, 3, 8, 10, 0, tzinfo=CHINA),
    }
    return build_monthly_report(
        sample_rows() if rows is None else rows, **{**arguments, **overrides}
    )


def read_csv(text: str) -> list[list[str]]:
    assert text.startswith(CSV_BOM)
    return list(csv.reader(io.StringIO(text.removeprefix(CSV_BOM))))


# ==========================================================================================
# HTML
# ==========================================================================================


def test_html_has_the_zh_cn_sections_of_the_seed_report() -> None:
    page = render_html(make_report())
    for heading in [
        "客户投诉工作月报",
        "2024年1-2月份",
        "公司直接受理客户投诉情况分析",
        "客户投诉总体情况分析",
        "有效投诉情况分析",
        "本月客户投诉工作小结",
        "附件1",
        "附件2",
        "服务类别",
        "有效投诉",
        "协助处理投诉",
        "无效投诉",
        "如下图所示",
    ]:
        assert heading in page, heading


def test_html_states_the_computed_figures() -> None:
    page = shown_text(render_html(make_report()))  # the counts are links (drill-down)
    assert "投诉总量为17起" in page
    assert "有效投诉9起，占总量的52.9%" in page
    assert "协助处理投诉6起，占总量的35.3%" in page
    assert "无效投诉2起，占总量的11.8%" in page
    assert "公司直接受理投诉（服务监督热线）2起，其中有效投诉1起" in page
    assert "本期共有2个管理处涉及有效投诉" in page
    assert "未登记客户投诉的管理处：W花园" in page


def test_html_draws_one_svg_per_chart_with_no_script() -> None:
    page = render_html(make_report())
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(svgs) == 3
    titles = [re.search(r"<title>(.*?)</title>", svg, flags=re.S) for svg in svgs]
    assert [t.group(1) for t in titles if t] == [
        "投诉类型占比",
        "有效投诉服务类别分布",
        "有效投诉管理处分布",
    ]
    assert "<script" not in page.lower()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_pie_chart_has_a_slice_per_type_and_bars_are_scaled_to_the_largest() -> None:
    page = render_html(make_report())
    pie, categories, _ = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(re.findall(r"<path ", pie)) == 3
    widths = [float(w) for w in re.findall(r'<rect x="150" y="\d+" width="([\d.]+)"', categories)]
    assert widths == [330.0, 132.0, 132.0]  # environment 5, vehicles 2, fees 2


def test_pie_of_a_single_type_is_a_full_circle() -> None:
    page = render_html(make_report([row()]))
    pie = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)[0]
    assert "<path " not in pie
    assert 'fill="#c0392b"' in pie  # the valid colour


def test_html_of_an_empty_period_still_has_three_charts_saying_no_data() -> None:
    page = render_html(make_report([]))
    assert len(re.findall(r"<svg\b", page)) == 3
    assert page.count("本期无数据") == 3
    assert "投诉总量为0起" in shown_text(page)


def test_html_escapes_complaint_texts_and_office_names() -> None:
    rows = [
        row(subject="<b>外墙</b>", description='<script>alert("x")</script>'),
        row(office="<i>新</i>园"),
    ]
    page = render_html(make_report(rows))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;外墙&lt;/b&gt;" in page
    assert "<i>新</i>园" not in page
    assert "&lt;i&gt;新&lt;/i&gt;园" in page


def test_html_lists_the_main_problems_with_their_latest_text() -> None:
    page = render_html(make_report())
    assert "“环境服务”主要问题包括" in page
    # each problem's count links to its complaints (issue 17)
    assert re.search(r'外墙清洗（<a class="count" href="[^"]+">5</a>起', page)
    assert re.search(r'私家车位被占用（<a class="count" href="[^"]+">2</a>起', page)
    # 车辆交通服务 and 收费管理 tie on 2; the declaration order puts 车辆交通服务 second, and
    # only the top 2 categories are summarised
    assert "“车辆交通服务”主要问题包括" in page
    assert "“收费管理”主要问题包括" not in page


# ==========================================================================================
# XLSX
# ==========================================================================================


def test_xlsx_reopens_with_its_sheets_and_zh_cn_headers() -> None:
    book = load_workbook(io.BytesIO(render_xlsx(make_report())))
    assert book.sheetnames == ["汇总", "文字部分", "环比同比", "附件1", "附件2"]
    header1 = [c.value for c in book["附件1"][2]]
    assert header1 == ["序号", "管理处名称", "有效投诉", "协助处理投诉", "无效投诉", "合计"]
    header2 = [c.value for c in book["附件2"][2]]
    assert header2 == ["序号", "项目名称", *(c.label for c in ServiceCategory), "合计"]
    assert book["附件1"]["A1"].value == "2024年1-2月份客户投诉汇总表"


def test_xlsx_attachment1_totals_row_equals_the_report_totals() -> None:
    report = make_report()
    sheet = load_workbook(io.BytesIO(render_xlsx(report)))["附件1"]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    *body, totals = rows
    t = report.attachment1.totals
    assert list(totals) == [None, "合计", t.valid, t.assist, t.invalid, t.total]
    assert list(totals)[2:] == [9, 6, 2, 17]
    assert [r[1] for r in body] == OFFICES
    assert [sum(r[i] for r in body) for i in range(2, 6)] == [9, 6, 2, 17]


def test_xlsx_attachment2_totals_row_equals_the_valid_complaints_per_category() -> None:
    report = make_report()
    sheet = load_workbook(io.BytesIO(render_xlsx(report)))["附件2"]
    totals = next(sheet.iter_rows(min_row=sheet.max_row, values_only=True))
    assert totals[1] == "合计"
    assert list(totals[2:-1]) == list(report.attachment2.totals.by_category.values())
    assert totals[-1] == report.valid == 9


def test_xlsx_summary_stores_shares_as_percentages() -> None:
    sheet = load_workbook(io.BytesIO(render_xlsx(make_report())))["汇总"]
    valid = next(
        r
        for r in sheet.iter_rows(min_row=3)
        if r[0].value == "投诉类型" and r[1].value == "有效投诉"
    )
    assert valid[2].value == 9
    assert valid[4].value == pytest.approx(0.529)
    assert valid[4].number_format == "0.0%"


def test_xlsx_and_csv_show_a_pending_column_only_when_some_complaint_is_not_judged() -> None:
    judged_only = make_report()
    with_pending = make_report([*sample_rows(), row(validity=None, category=None)])
    assert "待判定" not in read_csv(render_csv(judged_only, "attachment1"))[0]
    header = read_csv(render_csv(with_pending, "attachment1"))[0]
    assert header[-1] == "待判定"
    sheet = load_workbook(io.BytesIO(render_xlsx(with_pending)))["附件1"]
    assert [c.value for c in sheet[sheet.max_row]][-1] == 1


# ==========================================================================================
# CSV
# ==========================================================================================


def test_csv_starts_with_a_utf8_bom_so_excel_reads_chinese() -> None:
    data = render_csv(make_report(), "attachment1").encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").startswith("序号,管理处名称,有效投诉")


def test_csv_attachment1_round_trips_with_its_totals_row() -> None:
    report = make_report()
    header, *body, totals = read_csv(render_csv(report, "attachment1"))
    assert header == ["序号", "管理处名称", "有效投诉", "协助处理投诉", "无效投诉", "合计"]
    assert [r[1] for r in body] == OFFICES
    t = report.attachment1.totals
    assert totals == ["", "合计", str(t.valid), str(t.assist), str(t.invalid), str(t.total)]
    for i in range(2, 6):
        assert sum(int(r[i]) for r in body) == int(totals[i])


def test_csv_attachment2_round_trips_office_by_category() -> None:
    report = make_report()
    header, *body, totals = read_csv(render_csv(report, "attachment2"))
    assert header[2:-1] == [c.label for c in ServiceCategory]
    y = next(r for r in body if r[1] == "Y园")
    assert int(y[2 + list(ServiceCategory).index(ServiceCategory.ENVIRONMENT)]) == 3
    assert int(y[-1]) == 5
    assert [int(x) for x in totals[2:]] == [
        *report.attachment2.totals.by_category.values(),
        report.valid,
    ]


def test_csv_summary_has_the_headline_figures_with_shares_as_text() -> None:
    header, *rows = read_csv(render_csv(make_report(), "summary"))
    assert header == ["类别", "项目", "数量", "基数", "占比"]
    types = [r[1:] for r in rows if r[0] == "投诉类型"]
    assert types == [
        ["有效投诉", "9", "17", "52.9%"],
        ["协助处理投诉", "6", "17", "35.3%"],
        ["无效投诉", "2", "17", "11.8%"],
    ]
    offices = [r[1:3] for r in rows if r[0] == "有效投诉·管理处"]
    assert offices == [["Y园", "5"], ["G小城", "4"], ["涉及有效投诉的管理处数", "2"]]


def test_csv_of_an_unknown_sheet_is_refused() -> None:
    with pytest.raises(ValueError, match="sheet"):
        render_csv(make_report(), "attachment3")  # type: ignore[arg-type]


# ==========================================================================================
# labels
# ==========================================================================================


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        (date(2024, 1, 1), date(2024, 2, 29), "2024年1-2月份"),
        (date(2024, 3, 1), date(2024, 3, 31), "2024年3月份"),
        (date(2023, 12, 1), date(2024, 1, 31), "2023年12月至2024年1月"),
        (date(2024, 1, 5), date(2024, 2, 10), "2024年1月5日至2024年2月10日"),
    ],
)
def test_period_label_names_whole_months_like_the_seed(start: date, end: date, label: str) -> None:
    assert period_label(start, end) == label


def shown_text(page: str) -> str:
    """What a reader reads: the page without its tags (counts are links to their lists)."""
    return re.sub(r"<[^>]+>", "", page)

"""The monthly report on paper: HTML (with SVG charts drawn here), XLSX and CSV.

Everything is rendered from a ``MonthlyReport`` alone; no figure is computed twice. The charts
the seed report refers to ("如下图所示") are inline SVG whose geometry is computed in Python and
whose text goes through the template, so it is escaped like every other string (autoescape on).
Nothing is fetched at runtime: no JavaScript, no CDN.

CSV is returned as ``str`` starting with a byte-order mark (U+FEFF): encoded as UTF-8 (plain
``"utf-8"``, not ``"utf-8-sig"``, which would add a second one) it makes Excel read the Chinese
headings as UTF-8 instead of the local ANSI code page. Readers should decode with ``utf-8-sig``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from contracts.enums import ServiceCategory, Validity
from contracts.timezone import CHINA
from services.reporting.domain import status_label
from services.reporting.drilldown import MONTHLY_LIST, Picker, local_input, monthly_params, url
from services.reporting.monthly import (
    PENDING_LABEL,
    SERVICE_LEVEL_LABELS,
    UNCLASSIFIED_LABEL,
    MonthlyReport,
    Ratio,
    format_share,
)

CsvSheet = Literal["summary", "attachment1", "attachment2", "written", "comparisons"]
CSV_SHEETS: dict[str, str] = {
    "summary": "汇总",
    "written": "文字部分",
    "comparisons": "环比同比",
    "attachment1": "附件1",
    "attachment2": "附件2",
}
"""The CSV sheets and their names (``render_csv``)."""
CSV_BOM = "\ufeff"
TEMPLATES = Path(__file__).parent / "templates"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

TYPE_COLOURS = {Validity.VALID: "#c0392b", Validity.ASSIST: "#e69f00", Validity.INVALID: "#3c8dbc"}
BAR_COLOUR = "#2e7d5b"


# ------------------------------------------------------------------------------------------
# labels
# ------------------------------------------------------------------------------------------


def period_label(period_from: date, period_to: date) -> str:
    """The period as the report names it: ``2024年1-2月份``, ``2024年3月份``, or exact days."""
    whole_months = period_from.day == 1 and (period_to + timedelta(days=1)).day == 1
    if whole_months and period_from.year == period_to.year:
        if period_from.month == period_to.month:
            return f"{period_from.year}年{period_from.month}月份"
        return f"{period_from.year}年{period_from.month}-{period_to.month}月份"
    if whole_months:
        return f"{period_from.year}年{period_from.month}月至{period_to.year}年{period_to.month}月"
    return (
        f"{period_from.year}年{period_from.month}月{period_from.day}日"
        f"至{period_to.year}年{period_to.month}月{period_to.day}日"
    )


def _scope_label(report: MonthlyReport) -> str:
    return report.office if report.office is not None else "全公司"


# ------------------------------------------------------------------------------------------
# tables shared by XLSX and CSV (and the HTML attachments)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Percent:
    """A share cell: tenths of a percent (shown ``18.4%``; a real percentage in XLSX)."""

    tenths: int


Cell = str | int | Percent | None


@dataclass(frozen=True)
class Table:
    """One sheet: a title, a header row, body rows and an optional totals row."""

    title: str
    header: list[str]
    rows: list[list[Cell]]
    totals: list[Cell] | None


def attachment1_table(report: MonthlyReport) -> Table:
    """附件1 客户投诉汇总表 as rows; the 待判定 column only when some complaint is not judged."""
    with_pending = report.pending > 0
    header = ["序号", "管理处名称", *(v.label for v in Validity), "合计"]
    header += [PENDING_LABEL] if with_pending else []

    def cells(seq: Cell, row_office: str, parts: Sequence[int], pending: int) -> list[Cell]:
        return [seq, row_office, *parts, *([pending] if with_pending else [])]

    rows = [
        cells(r.seq, r.office, [r.valid, r.assist, r.invalid, r.total], r.pending)
        for r in report.attachment1.rows
    ]
    t = report.attachment1.totals
    totals = cells("", "合计", [t.valid, t.assist, t.invalid, t.total], t.pending)
    title = f"{period_label(report.period_from, report.period_to)}客户投诉汇总表"
    return Table(title=title, header=header, rows=rows, totals=totals)


def attachment2_table(report: MonthlyReport) -> Table:
    """附件2 客户有效投诉汇总表 as rows; a 未分类 column only when a valid one has no category."""
    with_unclassified = report.unclassified.count > 0
    header = ["序号", "项目名称", *(c.label for c in ServiceCategory)]
    header += [UNCLASSIFIED_LABEL] if with_unclassified else []
    header += ["合计"]

    def cells(
        seq: Cell, row_office: str, counts: Sequence[int], unclassified: int, total: int
    ) -> list[Cell]:
        return [seq, row_office, *counts, *([unclassified] if with_unclassified else []), total]

    rows = [
        cells(r.seq, r.office, list(r.by_category.values()), r.unclassified, r.total)
        for r in report.attachment2.rows
    ]
    t = report.attachment2.totals
    totals = cells("", "合计", list(t.by_category.values()), t.unclassified, t.total)
    title = f"{period_label(report.period_from, report.period_to)}客户有效投诉汇总表"
    return Table(title=title, header=header, rows=rows, totals=totals)


def _ratio_row(section: str, item: str, ratio: Ratio) -> list[Cell]:
    return [
        section,
        item,
        ratio.hits,
        ratio.base,
        Percent(ratio.share_tenths) if ratio.base else None,
    ]


def _judged_rows(report: MonthlyReport) -> list[list[Cell]]:
    """汇总's judged complaints by type, and those accepted directly by the company."""
    rows: list[list[Cell]] = [["投诉总量", "投诉总量（已判定）", report.judged, None, None]]
    rows += [
        ["投诉类型", f.label, f.count, report.judged, Percent(f.share_tenths)]
        for f in report.by_type
    ]
    if report.pending:
        rows.append(["投诉类型", PENDING_LABEL, report.pending, None, None])
    d = report.direct
    rows.append(["公司直接受理", "直接受理投诉", d.total, None, None])
    rows += [
        ["公司直接受理", v.label, n, d.total, None]
        for v, n in (
            (Validity.VALID, d.valid),
            (Validity.ASSIST, d.assist),
            (Validity.INVALID, d.invalid),
        )
    ]
    return rows


def _valid_rows(report: MonthlyReport) -> list[list[Cell]]:
    """汇总's valid complaints by service category and by office."""
    rows: list[list[Cell]] = []
    rows += [
        ["有效投诉·服务类别", f.label, f.count, report.valid, Percent(f.share_tenths)]
        for f in report.by_category
    ]
    if report.unclassified.count:
        u = report.unclassified
        rows.append(
            [
                "有效投诉·服务类别",
                UNCLASSIFIED_LABEL,
                u.count,
                report.valid,
                Percent(u.share_tenths),
            ]
        )
    rows += [
        ["有效投诉·管理处", f.office, f.count, report.valid, Percent(f.share_tenths)]
        for f in report.by_office
    ]
    rows.append(
        [
            "有效投诉·管理处",
            "涉及有效投诉的管理处数",
            report.offices_with_valid,
            len(report.offices),
            None,
        ]
    )
    return rows


def _handling_rows(report: MonthlyReport) -> list[list[Cell]]:
    """汇总's service levels, handling counts, closing outcomes and excluded complaints."""
    rows: list[list[Cell]] = []
    s = report.service_levels
    rows += [
        _ratio_row("处理时效", "首问30分钟内响应", s.first_response_within_30min),
        _ratio_row("处理时效", "1个工作日内答复", s.replied_within_1_day),
        _ratio_row("处理时效", "3个工作日内答复", s.replied_within_3_days),
        _ratio_row("处理时效", "超期投诉", s.overdue),
        _ratio_row("回访", "回访满意", s.revisit_satisfied),
    ]
    h = report.handling
    rows += [
        ["投诉处理", "重大投诉", h.major, report.received, None],
        ["投诉处理", "当场解决", h.resolved_on_the_spot, report.received, None],
        ["投诉处理", "暂缓处理", h.suspended, report.received, None],
        ["投诉处理", "至今仍暂缓", h.suspended_now, report.received, None],
        ["投诉处理", "复核改判", h.rejudged, report.received, None],
        ["回访关闭", "满意关闭", h.closed_satisfied, None, None],
        ["回访关闭", "不满意关闭", h.closed_unsatisfied, None, None],
        ["回访关闭", "无法联系关闭", h.closed_unreachable, None, None],
        ["不计入总量", "已合并", report.excluded.merged, None, None],
        ["不计入总量", "已撤诉", report.excluded.withdrawn, None, None],
    ]
    return rows


def summary_table(report: MonthlyReport) -> Table:
    """汇总: every headline figure as 类别 / 项目 / 数量 / 基数 / 占比."""
    rows = [*_judged_rows(report), *_valid_rows(report), *_handling_rows(report)]
    for section, note in (
        ("投诉类型", report.types_note),
        ("有效投诉·服务类别", report.categories_note),
        ("有效投诉·管理处", report.offices_note),
    ):
        if note:
            rows.append([section, note, None, None, None])
    title = (
        f"{period_label(report.period_from, report.period_to)}"
        f"客户投诉工作月报汇总（{_scope_label(report)}）"
    )
    return Table(
        title=title, header=["类别", "项目", "数量", "基数", "占比"], rows=rows, totals=None
    )


def written_table(report: MonthlyReport) -> Table:
    """文字部分: the report's written sections, one line each: the header and footer, the case
    write-ups (with priority), each office's main categories, the main problems, the assist
    topics, the handling counts, accountability records, preventive measures, and the merged
    and withdrawn complaints listed apart (with priority)."""
    d = report.document
    rows: list[list[Cell]] = [
        ["文头", "期号", None, d.issue_number],
        ["文头", "主送", None, d.addressees],
    ]
    for c in report.case_write_ups:
        rows.append(["公司直接受理投诉", c.complaint.priority_label, None, c.text])
    for o in report.office_categories:
        rows.append(["管理处主要投诉类别", o.office, sum(o.counts), o.text])
    for group in report.main_problems:
        for problem in group.problems:
            text = f"{problem.subject}：{problem.latest_description}"
            rows.append([f"“{group.label}”主要问题", problem.subject, problem.count, text])
    for topic in report.assist_topics:
        rows.append(["协助处理投诉主要问题", topic.subject, topic.count, topic.latest_description])
    h = report.handling
    rows += [
        ["投诉处理情况", "重大投诉", h.major, None],
        ["投诉处理情况", "当场解决", h.resolved_on_the_spot, None],
        ["投诉处理情况", "暂缓处理", h.suspended, None],
        ["投诉处理情况", "不满意关闭", h.closed_unsatisfied, None],
        ["投诉处理情况", "无法联系关闭", h.closed_unreachable, None],
    ]
    for a in report.accountability:
        text = f"{a.office}“{a.subject}”：{a.person}，{a.measure}（{a.reason}）"
        rows.append(["责任追究", a.person, None, text])
    for m in report.preventive_measures:
        rows.append(["预防措施", m.office, None, f"{m.office}“{m.subject}”：{m.measure}"])
    for left_out in report.excluded.complaints:
        status = status_label(left_out.status or "")
        text = f"{left_out.office}“{left_out.subject}”（{status}）"
        rows.append(["不计入总量", left_out.priority_label, None, text])
    rows += [
        ["文尾", "主题词", None, " ".join(d.subject_words)],
        ["文尾", "抄送", None, "，".join(d.cc)],
        ["文尾", "印发", None, f"{d.issuer}　{_issued(report)}印发" if d.issuer else ""],
    ]
    title = f"{period_label(report.period_from, report.period_to)}客户投诉工作月报文字部分"
    return Table(title=title, header=["部分", "项目", "数量", "内容"], rows=rows, totals=None)


def comparisons_table(report: MonthlyReport) -> Table:
    """环比同比: every headline figure beside the previous period and a year before."""
    rows: list[list[Cell]] = [
        [
            c.label,
            c.current,
            c.previous_period,
            c.period_change_label,
            c.previous_year,
            c.year_change_label,
        ]
        for c in report.comparisons
    ]
    title = f"{period_label(report.period_from, report.period_to)}主要数据环比、同比"
    return Table(
        title=title,
        header=["项目", "本期", "上期", "环比", "去年同期", "同比"],
        rows=rows,
        totals=None,
    )


_TABLES = {
    "summary": summary_table,
    "attachment1": attachment1_table,
    "attachment2": attachment2_table,
    "written": written_table,
    "comparisons": comparisons_table,
}


# ------------------------------------------------------------------------------------------
# CSV and XLSX
# ------------------------------------------------------------------------------------------


def _csv_cell(cell: Cell) -> str | int:
    if cell is None:
        return ""
    if isinstance(cell, Percent):
        return format_share(cell.tenths)
    return cell


def render_csv(report: MonthlyReport, sheet: CsvSheet) -> str:
    """One sheet as CSV: header row, body rows, totals row; starts with a UTF-8 BOM for Excel.

    Encode the result with plain UTF-8; read it back with ``encoding="utf-8-sig"``.
    """
    if sheet not in _TABLES:
        raise ValueError(f"sheet must be one of {sorted(_TABLES)}, not {sheet!r}")
    table = _TABLES[sheet](report)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.header)
    for row in [*table.rows, *([table.totals] if table.totals else [])]:
        writer.writerow([_csv_cell(cell) for cell in row])
    return CSV_BOM + out.getvalue()


_BOLD = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _write_sheet(ws: Worksheet, table: Table) -> None:
    width = len(table.header)
    ws.append([table.title])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.cell(row=1, column=1).font = Font(bold=True, size=13)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.append(table.header)
    for cell in ws[2]:
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    body = [*table.rows, *([table.totals] if table.totals else [])]
    for row in body:
        ws.append([cell.tenths / 1000 if isinstance(cell, Percent) else cell for cell in row])
        for index, value in enumerate(row, start=1):
            if isinstance(value, Percent):
                ws.cell(row=ws.max_row, column=index).number_format = "0.0%"
    if table.totals:
        for cell in ws[ws.max_row]:
            cell.font = _BOLD
    ws.freeze_panes = "A3"
    for index, heading in enumerate(table.header, start=1):
        longest = max([len(heading), *(len(str(_csv_cell(r[index - 1]))) for r in body)])
        ws.column_dimensions[get_column_letter(index)].width = min(4 + 2 * longest, 40)


def render_xlsx(report: MonthlyReport) -> bytes:
    """The report as an Excel workbook: sheets 汇总, 文字部分, 环比同比, 附件1 and 附件2, zh-CN
    headers, totals rows."""
    workbook = Workbook()
    sheets = [
        ("汇总", summary_table),
        ("文字部分", written_table),
        ("环比同比", comparisons_table),
        ("附件1", attachment1_table),
        ("附件2", attachment2_table),
    ]
    for index, (name, build) in enumerate(sheets):
        ws = workbook.active if index == 0 else workbook.create_sheet()
        ws.title = name
        _write_sheet(ws, build(report))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------
# charts (SVG geometry; the template draws them)
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """One slice of a pie chart: ``path`` is None when the slice is the whole circle."""

    label: str
    count: int
    share: str
    colour: str
    path: str | None
    figure: str  # the drill-down key of its count


@dataclass(frozen=True)
class PieChart:
    """A pie chart with a legend on its right."""

    title: str
    slices: list[Slice]
    radius: int = 90
    width: int = 460
    height: int = 200


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its length in pixels and the text beside it."""

    label: str
    count: int
    share: str
    length: float
    figure: str  # the drill-down key of its count
    office: str | None = None  # the office the count is of (None: the report's)


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart, one bar per line, largest first."""

    title: str
    bars: list[Bar]
    colour: str = BAR_COLOUR
    label_width: int = 150
    bar_area: int = 330
    line_height: int = 26
    width: int = 640

    @property
    def height(self) -> int:
        """Enough lines for every bar (one line for the "no data" note)."""
        return 16 + self.line_height * max(len(self.bars), 1)


def _pie(title: str, parts: Sequence[tuple[str, int, int, str, str]], radius: int = 90) -> PieChart:
    """Slices of the parts ``(label, count, share_tenths, colour, figure)`` with counts above
    0."""
    total = sum(part[1] for part in parts)
    slices: list[Slice] = []
    start = 0
    for label, count, tenths, colour, figure in parts:
        if count == 0:
            continue
        share = format_share(tenths)
        if count == total:
            slices.append(Slice(label, count, share, colour, None, figure))
            continue
        a0 = 2 * math.pi * start / total - math.pi / 2  # 12 o'clock, clockwise
        a1 = 2 * math.pi * (start + count) / total - math.pi / 2
        large = 1 if count * 2 > total else 0
        c = radius + 10
        x0, y0 = c + radius * math.cos(a0), c + radius * math.sin(a0)
        x1, y1 = c + radius * math.cos(a1), c + radius * math.sin(a1)
        path = f"M{c},{c} L{x0:.2f},{y0:.2f} A{radius},{radius} 0 {large} 1 {x1:.2f},{y1:.2f} Z"
        slices.append(Slice(label, count, share, colour, path, figure))
        start += count
    return PieChart(title=title, slices=slices, radius=radius)


def _bars(
    title: str, parts: Sequence[tuple[str, int, int, str, str | None]], area: int = 330
) -> BarChart:
    """Bars of the parts ``(label, count, share_tenths, figure, office)``, scaled to the
    largest count."""
    largest = max((part[1] for part in parts), default=0)
    bars = [
        Bar(
            label,
            count,
            format_share(tenths),
            area * count / largest if largest else 0.0,
            figure,
            office,
        )
        for label, count, tenths, figure, office in parts
    ]
    return BarChart(title=title, bars=bars, bar_area=area)


def charts(report: MonthlyReport) -> dict[str, PieChart | BarChart]:
    """The three charts of the report: shares by type, by service category, by office."""
    by_type = _pie(
        "投诉类型占比",
        [
            (f.label, f.count, f.share_tenths, TYPE_COLOURS[f.validity], f.validity.value)
            for f in report.by_type
        ],
    )
    categories: list[tuple[str, int, int, str, str | None]] = [
        (f.label, f.count, f.share_tenths, f"category.{f.category.value}", None)
        for f in report.by_category
    ]
    if report.unclassified.count:
        u = report.unclassified
        categories.append((UNCLASSIFIED_LABEL, u.count, u.share_tenths, "unclassified", None))
    by_category = _bars("有效投诉服务类别分布", categories)
    by_office = _bars(
        "有效投诉管理处分布",
        [(f.office, f.count, f.share_tenths, "valid", f.office) for f in report.by_office],
    )
    return {"by_type": by_type, "by_category": by_category, "by_office": by_office}


# ------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------


def render_html(report: MonthlyReport, *, picker: Picker | None = None) -> str:
    """The report as one self-contained HTML page laid out like the seed's 客户投诉工作月报.

    Every count links to the complaints behind it (``/reports/monthly/complaints``) and the
    page links its XLSX and CSV downloads, all for exactly this period, office and instant
    (``generated_at``). ``picker``: the form to choose another period, office and instant
    (none: no form).
    """
    template = _ENV.get_template("monthly.html")
    params = monthly_params(
        report.period_from, report.period_to, report.office, report.generated_at
    )

    def drill(key: str, office: str | None = None, period: tuple[date, date] | None = None) -> str:
        start, end = period or (report.period_from, report.period_to)
        return url(
            MONTHLY_LIST,
            figure=key,
            **{
                **params,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "office": office or report.office,
            },
        )

    whole_month = (
        report.period_from.day == 1
        and report.period_from.month == report.period_to.month
        and report.period_from.year == report.period_to.year
        and (report.period_to + timedelta(days=1)).day == 1
    )
    return template.render(
        report=report,
        picker=picker,
        drill=drill,
        xlsx=url("/v1/reports/monthly.xlsx", **params),
        csv={sheet: url("/v1/reports/monthly.csv", **params, sheet=sheet) for sheet in CSV_SHEETS},
        csv_labels=CSV_SHEETS,
        month_value=report.period_from.strftime("%Y-%m") if whole_month else "",
        as_of_value=local_input(picker.as_of if picker is not None else None),
        levels=SERVICE_LEVEL_LABELS,
        previous_period=(report.previous_period_from, report.previous_period_to),
        previous_year=(report.previous_year_from, report.previous_year_to),
        period=period_label(report.period_from, report.period_to),
        scope=_scope_label(report),
        generated=report.generated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        charts=charts(report),
        attachment1=attachment1_table(report),
        attachment2=attachment2_table(report),
        valid=report.type_figure(Validity.VALID),
        assist=report.type_figure(Validity.ASSIST),
        invalid=report.type_figure(Validity.INVALID),
        timezone=CHINA,
        status_label=status_label,
        issued=_issued(report),
    )


def _issued(report: MonthlyReport) -> str:
    day = report.generated_at.astimezone(CHINA).date()
    return f"{day.year}年{day.month}月{day.day}日"

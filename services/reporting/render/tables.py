"""The report as tables, shared by XLSX and CSV (and the HTML attachments); its labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.enums import ServiceCategory, Validity
from contracts.timezone import CHINA
from services.reporting.domain import status_label
from services.reporting.monthly import (
    PENDING_LABEL,
    UNCLASSIFIED_LABEL,
    MonthlyReport,
    Ratio,
)


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


def scope_label(report: MonthlyReport) -> str:
    return report.office if report.office is not None else "全公司"


def issued_on(report: MonthlyReport) -> str:
    """The day the report was issued (its ``generated_at``), as the document writes it."""
    day = report.generated_at.astimezone(CHINA).date()
    return f"{day.year}年{day.month}月{day.day}日"


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
        f"客户投诉工作月报汇总（{scope_label(report)}）"
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
        ["文尾", "印发", None, f"{d.issuer}　{issued_on(report)}印发" if d.issuer else ""],
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


TABLES = {
    "summary": summary_table,
    "attachment1": attachment1_table,
    "attachment2": attachment2_table,
    "written": written_table,
    "comparisons": comparisons_table,
}

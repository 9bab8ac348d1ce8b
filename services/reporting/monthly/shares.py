"""How the report computes: shares rounded half-up, rankings, main problems, comparisons
with earlier periods, and the written sections."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from contracts.enums import ServiceCategory, Validity
from services.reporting.domain import status_label
from services.reporting.monthly.model import (
    PENDING_LABEL,
    ROUNDING_NOTE,
    TENTHS_IN_WHOLE,
    CaseWriteUp,
    Comparison,
    ListedComplaint,
    MainProblem,
    MonthlyReport,
    OfficeCategories,
    PeriodHeadline,
    Ratio,
    ReportRow,
)

# ------------------------------------------------------------------------------------------
# computation
# ------------------------------------------------------------------------------------------


def half_up_tenths(count: int, base: int) -> int:
    """``count`` of ``base`` in tenths of a percent, rounded half-up (exact decimal
    arithmetic): 7 of 45 → 156 (15.6%), 11 of 45 → 244, 45 of 245 → 184. 0 when ``base`` is 0."""
    if count < 0 or base < 0:
        raise ValueError("counts must not be negative")
    if base == 0:
        return 0
    exact = Decimal(count) * TENTHS_IN_WHOLE / Decimal(base)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rounding_note(shares: Sequence[int]) -> str:
    """``数据经四舍五入`` when the shown shares (tenths) do not add up to 100.0%, else ``""``
    (also ``""`` for a breakdown with nothing to share)."""
    total = sum(shares)
    return ROUNDING_NOTE if total and total != TENTHS_IN_WHOLE else ""


def _ratio(hits: int, base: int) -> Ratio:
    return Ratio(hits=hits, base=base, share_tenths=half_up_tenths(hits, base))


def _office_order(
    offices: Sequence[str], office: str | None, rows: Sequence[ReportRow]
) -> list[str]:
    """The offices a report covers, in the company's order; unlisted ones follow by name."""
    if office is not None:
        return [office]
    listed = list(dict.fromkeys(offices))
    unlisted = sorted({row.office for row in rows} - set(listed))
    return listed + unlisted


def _ranked_offices(counts: Counter[str], order: Sequence[str]) -> list[str]:
    position = {office: index for index, office in enumerate(order)}
    present = [office for office in order if counts[office] > 0]
    return sorted(present, key=lambda office: (-counts[office], position[office]))


def problem_text(row: ReportRow) -> str:
    """What a main problem groups a complaint under: its subject (without one, its
    description), whitespace collapsed."""
    return " ".join((row.subject or row.description).split()) or "（无描述）"


def problem_id(text: str) -> str:
    """A main problem's text as a figure key names it: a digest (16 hex digits), since the
    text may be as long as a description and a key travels in a URL."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


PROBLEM_ID = re.compile(r"[0-9a-f]{16}")


def problem_figure(category: ServiceCategory | None, text: str) -> str:
    """The figure key of the main problem ``text`` of the valid complaints of ``category``
    (``problem.<category>.<id>``), or of the assist complaints when ``category`` is ``None``
    (``assist_topic.<id>``)."""
    if category is None:
        return f"assist_topic.{problem_id(text)}"
    return f"problem.{category.value}.{problem_id(text)}"


def recency(row: ReportRow) -> tuple[datetime, str]:
    """The order in which a problem's latest complaint is picked (ties: by id)."""
    return row.received_at, str(row.complaint_id)


def _main_problems(
    rows: Sequence[tuple[ReportRow, int]], limit: int, category: ServiceCategory | None
) -> tuple[MainProblem, ...]:
    """The most frequent subjects among ``rows`` (ties: the most recent first), with the latest
    text of each. Rows with no subject are grouped by their exact description instead
    (``problem_text``). Each row stands for ``n`` complaints of its problem, of which it is
    the latest (1: for itself). ``category``: whose problems these are (``None``: the assist
    complaints'), for each problem's figure key."""
    groups: dict[str, list[tuple[ReportRow, int]]] = defaultdict(list)
    for row, n in rows:
        groups[problem_text(row)].append((row, n))
    problems = []
    for subject, members in groups.items():
        latest = max((row for row, _ in members), key=recency)
        problems.append(
            MainProblem(
                subject=subject,
                count=sum(n for _, n in members),
                latest_description=latest.description,
                latest_at=latest.received_at,
                figure=problem_figure(category, subject),
            )
        )
    problems.sort(key=lambda p: (-p.count, -p.latest_at.timestamp(), p.subject))
    return tuple(problems[:limit])


HEADLINE_FIGURES: dict[str, str] = {
    "received": "投诉总量（含待判定）",
    "judged": "投诉总量",
    "valid": "有效投诉",
    "assist": "协助处理投诉",
    "invalid": "无效投诉",
    "pending": "待判定",
    "direct": "公司直接受理投诉",
    "direct_valid": "公司直接受理有效投诉",
    "offices_with_valid": "涉及有效投诉的管理处",
    "major": "重大投诉",
    "resolved_on_the_spot": "当场解决",
    "suspended": "暂缓处理",
    "rejudged": "复核改判",
    "closed_satisfied": "满意关闭",
    "closed_unsatisfied": "不满意关闭",
    "closed_unreachable": "无法联系关闭",
    "overdue": "超期投诉",
    "revisit_satisfied": "回访满意",
    "accountability": "责任追究",
    "preventive_measures": "预防措施",
    "merged": "已合并（不计入总量）",
    "withdrawn": "已撤诉（不计入总量）",
}
"""Every headline figure of the report, in the order the comparison lists them."""


def headline_figures(report: MonthlyReport) -> dict[str, int]:
    """The report's headline figures by key (``HEADLINE_FIGURES``)."""
    counts = {figure.validity: figure.count for figure in report.by_type}
    h = report.handling
    return {
        "received": report.received,
        "judged": report.judged,
        "valid": report.valid,
        "assist": counts[Validity.ASSIST],
        "invalid": counts[Validity.INVALID],
        "pending": report.pending,
        "direct": report.direct.total,
        "direct_valid": report.direct.valid,
        "offices_with_valid": report.offices_with_valid,
        "major": h.major,
        "resolved_on_the_spot": h.resolved_on_the_spot,
        "suspended": h.suspended,
        "rejudged": h.rejudged,
        "closed_satisfied": h.closed_satisfied,
        "closed_unsatisfied": h.closed_unsatisfied,
        "closed_unreachable": h.closed_unreachable,
        "overdue": report.service_levels.overdue.hits,
        "revisit_satisfied": report.service_levels.revisit_satisfied.hits,
        "accountability": len(report.accountability),
        "preventive_measures": len(report.preventive_measures),
        "merged": report.excluded.merged,
        "withdrawn": report.excluded.withdrawn,
    }


def _change_tenths(current: int, earlier: int | None) -> int | None:
    if not earlier:
        return None
    tenths = half_up_tenths(abs(current - earlier), earlier)
    return tenths if current >= earlier else -tenths


def headline_of(report: MonthlyReport) -> PeriodHeadline:
    """The headline figures of a built report, with its period."""
    return PeriodHeadline(
        period_from=report.period_from,
        period_to=report.period_to,
        figures=headline_figures(report),
    )


def comparisons(
    report: MonthlyReport,
    previous_period: PeriodHeadline | None,
    previous_year: PeriodHeadline | None,
) -> tuple[Comparison, ...]:
    """Every headline figure of ``report`` beside the previous period's (环比) and the same
    period a year before (同比)."""
    now = headline_figures(report)
    before = previous_period.figures if previous_period is not None else {}
    year = previous_year.figures if previous_year is not None else {}
    return tuple(
        Comparison(
            key=key,
            label=label,
            current=now[key],
            previous_period=before.get(key),
            previous_year=year.get(key),
            period_change_tenths=_change_tenths(now[key], before.get(key)),
            year_change_tenths=_change_tenths(now[key], year.get(key)),
        )
        for key, label in HEADLINE_FIGURES.items()
    )


def with_comparisons(
    report: MonthlyReport,
    previous_period: PeriodHeadline | None,
    previous_year: PeriodHeadline | None,
) -> MonthlyReport:
    """``report`` with its month-on-month and year-on-year comparison (checked again). The
    earlier periods need only their headline figures: ``headline_of`` a built report, or
    ``figures.period_headline`` of the period's rows, which counts them without building the
    rest."""
    return MonthlyReport.model_validate(
        {
            **dict(report),
            "comparisons": comparisons(report, previous_period, previous_year),
            "previous_period_from": previous_period.period_from if previous_period else None,
            "previous_period_to": previous_period.period_to if previous_period else None,
            "previous_year_from": previous_year.period_from if previous_year else None,
            "previous_year_to": previous_year.period_to if previous_year else None,
        }
    )


def _listed(row: ReportRow) -> ListedComplaint:
    return ListedComplaint(
        complaint_id=row.complaint_id,
        office=row.office,
        occurred_at=row.received_at,
        subject=row.subject,
        status=row.status,
        priority=row.priority,
    )


def _in_words(categories: Sequence[ServiceCategory]) -> str:
    labels = [category.label for category in categories]
    if len(labels) <= 2:
        return "和".join(labels)
    return "、".join(labels[:-1]) + "和" + labels[-1]


def _office_categories(
    offices: Sequence[str], per_office: Mapping[str, Counter[ServiceCategory | None]], top: int
) -> tuple[OfficeCategories, ...]:
    """Each office with valid complaints: its ``top`` categories (ties: declaration order),
    in words as seed 000 writes them ("G小城的有效投诉点主要涉及环境服务和车辆交通服务")."""
    out = []
    for office in offices:
        counts = per_office[office]
        ranked = sorted((c for c in ServiceCategory if counts[c]), key=lambda c: -counts[c])[:top]
        if not ranked:
            continue
        out.append(
            OfficeCategories(
                office=office,
                categories=tuple(ranked),
                counts=tuple(counts[c] for c in ranked),
                text=f"{office}的有效投诉点主要涉及{_in_words(ranked)}",
            )
        )
    return tuple(out)


_OUTCOME_WORDS = {
    "satisfied": "满意关闭",
    "unsatisfied": "不满意关闭",
    "unreachable": "无法联系关闭",
}


def _write_up(row: ReportRow) -> CaseWriteUp:
    """One directly received complaint as a paragraph of section 二."""
    judged = row.validity.label if row.validity is not None else PENDING_LABEL
    category = f"，{row.category.label}" if row.category is not None else ""
    head = f"{row.office}“{row.subject or row.description}”的投诉（{judged}{category}）"
    if row.status == "closed":
        ending = _OUTCOME_WORDS.get(row.close_outcome or "satisfied", "已关闭")
        summary = row.close_summary.strip() or "（未填写总结评价）"
        text = f"{head}已{ending}。{summary}"
    else:
        state = status_label(row.status) if row.status else status_label("received")
        text = f"{head}目前{state}，仍在处理中。"
    return CaseWriteUp(
        complaint=_listed(row),
        description=row.description,
        validity=row.validity,
        category=row.category,
        close_outcome=row.close_outcome if row.status == "closed" else None,
        summary=row.close_summary if row.status == "closed" else "",
        text=text,
    )

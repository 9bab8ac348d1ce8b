"""The figures of the report and the complaints behind each (its drill-down lists): the
period's scope, every count declared once."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from operator import itemgetter
from typing import Any, TypeVar
from uuid import UUID

from contracts.enums import Channel, ServiceCategory, Validity
from contracts.timezone import CHINA
from services.reporting.monthly.model import (
    EXCLUDED_STATUSES,
    HEADLINE_FIGURE_KEYS,
    PENDING_LABEL,
    UNCLASSIFIED_LABEL,
    MonthlyReport,
    PeriodHeadline,
    QuotedEvent,
    Ratio,
    ReportRow,
)
from services.reporting.monthly.shares import (
    HEADLINE_FIGURES,
    PROBLEM_ID,
    problem_id,
    problem_text,
)

# ------------------------------------------------------------------------------------------
# figures and the complaints behind them
# ------------------------------------------------------------------------------------------


def _in_scope(
    at: datetime,
    row_office: str,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo,
) -> bool:
    return period_from <= at.astimezone(timezone).date() <= period_to and (
        office is None or row_office == office
    )


def report_scope(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> tuple[list[ReportRow], list[ReportRow]]:
    """The rows a report counts (``selected``) and the merged and withdrawn ones it lists apart
    (``excluded``): those of the period (dates in ``timezone``) and, if given, of ``office``."""
    return _scoped(
        rows,
        lambda row: row,
        period_from=period_from,
        period_to=period_to,
        office=office,
        timezone=timezone,
    )


_Item = TypeVar("_Item")


def _scoped(
    items: Iterable[_Item],
    row_of: Callable[[_Item], ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo,
) -> tuple[list[_Item], list[_Item]]:
    """``report_scope`` of items that each carry a row (a row, or a row with its weight)."""
    selected: list[_Item] = []
    excluded: list[_Item] = []
    for item in items:
        row = row_of(item)
        if _in_scope(row.received_at, row.office, period_from, period_to, office, timezone):
            (excluded if row.status in EXCLUDED_STATUSES else selected).append(item)
    return selected, excluded


def quoted_scope(
    quoted: Iterable[QuotedEvent],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> list[QuotedEvent]:
    """The quoted events a report counts: those that occurred in the period (dates in
    ``timezone``) for ``office`` (the one their complaint counts for as of T), if given, in the
    order of when they occurred (then by complaint)."""
    return [
        q
        for q in sorted(quoted, key=lambda q: (q.occurred_at, str(q.complaint_id)))
        if _in_scope(q.occurred_at, q.office, period_from, period_to, office, timezone)
    ]


@dataclass(frozen=True)
class RecordFigure:
    """A count of records, not of complaints: the accountability records (one
    ``PlanImplemented`` may hold several) and the preventive measures of the period.

    ``test`` picks the quoted events of its kind, ``records`` the records one of them holds;
    the report lists those records and counts them, and the drill-down lists each record's
    complaint once per record (a complaint with two records is listed twice), so the list is
    as long as the count."""

    key: str
    label: str
    test: Callable[[QuotedEvent], bool]
    records: Callable[[QuotedEvent], Sequence[Mapping[str, Any]]]
    shown: Callable[[MonthlyReport], int]


RECORD_FIGURES: dict[str, RecordFigure] = {
    f.key: f
    for f in (
        RecordFigure(
            "accountability",
            "责任追究记录",
            lambda q: q.type == "PlanImplemented",
            lambda q: q.detail.get("accountability") or (),
            lambda report: len(report.accountability),
        ),
        RecordFigure(
            "preventive_measures",
            "预防措施记录",
            lambda q: q.type == "PreventiveMeasureRecorded",
            lambda q: (q.detail,),
            lambda report: len(report.preventive_measures),
        ),
    )
}
"""The report's counts of records, by key."""


def record_complaints(
    quoted: Iterable[QuotedEvent],
    key: str,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> list[UUID]:
    """The complaints behind the record count ``key``, one entry per record, in the order the
    report lists the records. Raises ``KeyError`` for a key that names no record count."""
    figure = RECORD_FIGURES[key]
    scoped = quoted_scope(
        quoted, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    return [q.complaint_id for q in scoped if figure.test(q) for _ in figure.records(q)]


@dataclass(frozen=True)
class Figure:
    """One count of the report: which of its rows it counts (``test``), among the counted rows
    or the excluded ones (``excluded``), and where the built report shows it (``shown``).

    The report computes these counts with ``test`` and the drill-down lists the rows ``test``
    accepts, so a figure and the list behind it cannot drift apart. The breakdowns by
    validity, category and office count with a ``Counter`` over the same attribute (one pass
    over 40,000 rows instead of one per figure); ``tests/unit/reporting/test_report_figures``
    holds every figure's ``shown`` equal to its count of ``test``.
    """

    key: str
    label: str
    test: Callable[[ReportRow], bool]
    shown: Callable[[MonthlyReport], int | None]  # None: the report does not show this count
    excluded: bool = False


def _validity_is(validity: Validity | None) -> Callable[[ReportRow], bool]:
    return lambda row: row.validity is validity


def _direct_and(test: Callable[[ReportRow], bool]) -> Callable[[ReportRow], bool]:
    return lambda row: row.channel is Channel.SUPERVISION and test(row)


def _valid_of(category: ServiceCategory | None) -> Callable[[ReportRow], bool]:
    return lambda row: row.validity is Validity.VALID and row.category is category


def _closed_with(*outcomes: str | None) -> Callable[[ReportRow], bool]:
    return lambda row: row.status == "closed" and row.close_outcome in outcomes


def _known(name: str) -> Callable[[ReportRow], bool]:
    return lambda row: getattr(row, name) is not None


def _true(name: str) -> Callable[[ReportRow], bool]:
    return lambda row: getattr(row, name) is True


def _level(name: str) -> Callable[[MonthlyReport], Ratio]:
    return lambda report: getattr(report.service_levels, name)


def _figures() -> dict[str, Figure]:  # long on purpose: one declarative table of every count
    """Every count of the report: its key, label, the rows it counts and where the report
    shows it, declared once for the report, its drill-down lists and the console's links."""

    def type_count(validity: Validity) -> Callable[[MonthlyReport], int]:
        return lambda report: report.type_figure(validity).count

    def category_count(category: ServiceCategory) -> Callable[[MonthlyReport], int]:
        return lambda report: report.attachment2.totals.by_category[category]

    def handled(name: str) -> Callable[[MonthlyReport], int]:
        return lambda report: int(getattr(report.handling, name))

    def hits(name: str) -> Callable[[MonthlyReport], int]:
        return lambda report: _level(name)(report).hits

    def base(name: str) -> Callable[[MonthlyReport], int]:
        return lambda report: _level(name)(report).base

    out = [
        Figure("received", "投诉总量（含待判定）", lambda row: True, lambda r: r.received),
        Figure("judged", "投诉总量", lambda row: row.validity is not None, lambda r: r.judged),
        Figure("pending", PENDING_LABEL, _validity_is(None), lambda r: r.pending),
        *(Figure(v.value, f"{v.label}投诉", _validity_is(v), type_count(v)) for v in Validity),
        *(
            Figure(f"category.{c.value}", f"有效投诉·{c.label}", _valid_of(c), category_count(c))
            for c in ServiceCategory
        ),
        Figure(
            "unclassified",
            f"有效投诉·{UNCLASSIFIED_LABEL}",
            _valid_of(None),
            lambda r: r.unclassified.count,
        ),
        Figure(
            "direct",
            "公司直接受理投诉",
            _direct_and(lambda row: True),
            lambda r: r.direct.total,
        ),
        *(
            Figure(
                f"direct.{v.value}",
                f"公司直接受理·{v.label}投诉",
                _direct_and(_validity_is(v)),
                (lambda name: lambda r: int(getattr(r.direct, name)))(v.value),
            )
            for v in Validity
        ),
        Figure(
            "direct.pending",
            f"公司直接受理·{PENDING_LABEL}",
            _direct_and(_validity_is(None)),
            lambda r: r.direct.pending,
        ),
        Figure("major", "重大投诉", _true("major"), handled("major")),
        Figure(
            "resolved_on_the_spot",
            "当场解决",
            _true("resolved_on_the_spot"),
            handled("resolved_on_the_spot"),
        ),
        Figure("suspended", "暂缓处理", _true("suspended"), handled("suspended")),
        Figure(
            "suspended_now",
            "至今仍暂缓",
            lambda row: row.status == "suspended",
            handled("suspended_now"),
        ),
        Figure("rejudged", "复核改判", _true("rejudged"), handled("rejudged")),
        Figure(
            "closed_satisfied",
            "满意关闭",
            _closed_with("satisfied", None),
            handled("closed_satisfied"),
        ),
        Figure(
            "closed_unsatisfied",
            "不满意关闭",
            _closed_with("unsatisfied"),
            handled("closed_unsatisfied"),
        ),
        Figure(
            "closed_unreachable",
            "无法联系关闭",
            _closed_with("unreachable"),
            handled("closed_unreachable"),
        ),
        Figure(
            "merged",
            "已合并",
            lambda row: row.status == "merged",
            lambda r: r.excluded.merged,
            True,
        ),
        Figure(
            "withdrawn",
            "已撤诉",
            lambda row: row.status == "withdrawn",
            lambda r: r.excluded.withdrawn,
            True,
        ),
    ]
    for name, label in SERVICE_LEVEL_LABELS.items():
        base_test = (lambda row: True) if name == "overdue" else _known(name)
        out.append(Figure(name, label, _true(name), hits(name)))
        out.append(Figure(f"{name}.base", f"{label}（基数）", base_test, base(name)))
    return {figure.key: figure for figure in out}


SERVICE_LEVEL_LABELS: dict[str, str] = {
    "first_response_within_30min": "首问30分钟内响应",
    "replied_within_1_day": "1个工作日内答复",
    "replied_within_3_days": "3个工作日内答复",
    "overdue": "超期投诉",
    "revisit_satisfied": "回访满意",
}
"""The service levels (``ServiceLevels``' fields) and their zh-CN names."""

FIGURES: dict[str, Figure] = {}
"""Every count of the report a reader can drill into, by key (filled below)."""


def _count(rows: Sequence[ReportRow], key: str) -> int:
    return sum(1 for row in rows if FIGURES[key].test(row))


def period_headline(
    counted: Iterable[tuple[ReportRow, int]],
    quoted: Iterable[QuotedEvent],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> PeriodHeadline:
    """The headline figures of the report of ``period_from``–``period_to`` for ``office``,
    counted with the figures' own tests (``FIGURES``, ``RECORD_FIGURES``), without building
    the rest of the report: what an earlier period is read for. ``counted``: each row with
    how many complaints it stands for (1 for a complaint's own row; a group's size for rows
    grouped by everything a count reads). Equal to ``headline_of(build_monthly_report(...))``
    of the same complaints (its tests hold it)."""
    selected, excluded = _scoped(
        counted,
        itemgetter(0),
        period_from=period_from,
        period_to=period_to,
        office=office,
        timezone=timezone,
    )
    scoped = quoted_scope(
        quoted, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    figures: dict[str, int] = {}
    for key in HEADLINE_FIGURES:
        if key in RECORD_FIGURES:
            record = RECORD_FIGURES[key]
            figures[key] = sum(len(record.records(q)) for q in scoped if record.test(q))
        elif (figure_key := HEADLINE_FIGURE_KEYS.get(key, key)) is None:  # offices_with_valid
            figures[key] = len(
                {row.office for row, _ in selected if row.validity is Validity.VALID}
            )
        else:
            figure = FIGURES[figure_key]
            figures[key] = sum(
                n for row, n in (excluded if figure.excluded else selected) if figure.test(row)
            )
    return PeriodHeadline(period_from=period_from, period_to=period_to, figures=figures)


def _problem_figure(key: str) -> Figure | None:
    """The figure of a main problem (``problem.<category>.<id>``) or an assist complaints'
    topic (``assist_topic.<id>``), or ``None``: a problem counts the rows the report groups
    under its text (``problem_text``), among the valid rows of its category or the assist
    rows, which is how ``_main_problems`` counts it."""
    kind, _, rest = key.partition(".")
    category: ServiceCategory | None
    if kind == "problem":
        name, _, digest = rest.partition(".")
        try:
            category = ServiceCategory(name)
        except ValueError:
            return None
        validity, label = Validity.VALID, f"有效投诉·{category.label}·主要问题"
    elif kind == "assist_topic":
        category, digest = None, rest
        validity, label = Validity.ASSIST, "协助处理投诉·主要问题"
    else:
        return None
    if not PROBLEM_ID.fullmatch(digest):
        return None

    def test(row: ReportRow) -> bool:
        return (
            row.validity is validity
            and (category is None or row.category is category)
            and problem_id(problem_text(row)) == digest
        )

    def shown(report: MonthlyReport) -> int | None:
        problems = (
            report.assist_topics
            if category is None
            else tuple(p for group in report.main_problems for p in group.problems)
        )
        return next((p.count for p in problems if p.figure == key), None)

    return Figure(key, label, test, shown)


def find_figure(key: str) -> Figure | RecordFigure | None:
    """The count of the report named ``key``: a key of ``FIGURES`` or ``RECORD_FIGURES``, a
    main problem's ``problem.<category>.<id>`` or an assist topic's ``assist_topic.<id>``
    (``MainProblem.figure``); ``None`` when ``key`` names none."""
    if key in FIGURES:
        return FIGURES[key]
    if key in RECORD_FIGURES:
        return RECORD_FIGURES[key]
    return _problem_figure(key)


def figure_rows(
    rows: Iterable[ReportRow],
    key: str,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> list[ReportRow]:
    """The rows behind the figure ``key`` of the report of ``period_from``–``period_to`` for
    ``office`` (``None``: the company): the ones its count counts, in the order given.
    Raises ``KeyError`` for a key that names no count of complaints (see ``find_figure``;
    record counts: ``record_complaints``)."""
    figure = find_figure(key)
    if not isinstance(figure, Figure):
        raise KeyError(key)
    selected, excluded = report_scope(
        rows, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    return [row for row in (excluded if figure.excluded else selected) if figure.test(row)]


FIGURES.update(_figures())

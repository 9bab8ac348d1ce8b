"""``build_monthly_report``: the report of a period from its rows, one builder per figure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from operator import attrgetter
from typing import Any, TypeVar
from uuid import UUID

from contracts.enums import ServiceCategory, Validity
from contracts.timezone import CHINA
from services.reporting.monthly.figures import (
    FIGURES,
    RECORD_FIGURES,
    _count,
    quoted_scope,
    report_scope,
)
from services.reporting.monthly.model import (
    AccountabilityItem,
    Attachment1,
    Attachment1Row,
    Attachment2,
    Attachment2Row,
    CategoryFigure,
    CategoryProblems,
    DirectComplaints,
    DocumentText,
    ExcludedComplaints,
    Handling,
    MonthlyReport,
    OfficeCount,
    OfficeFigure,
    PreventiveMeasure,
    QuotedEvent,
    ReportRow,
    ServiceLevels,
    TypeFigure,
    UnclassifiedFigure,
)
from services.reporting.monthly.shares import (
    _listed,
    _main_problems,
    _office_categories,
    _office_order,
    _ranked_offices,
    _ratio,
    _write_up,
    half_up_tenths,
    problem_text,
    recency,
    rounding_note,
)

_K = TypeVar("_K")


def build_monthly_report(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    offices: Sequence[str],
    generated_at: datetime,
    timezone: tzinfo = CHINA,
    top_categories: int = 2,
    problems_per_category: int = 3,
    quoted: Iterable[QuotedEvent] = (),
    document: DocumentText | None = None,
) -> MonthlyReport:
    """Compute the monthly report of ``period_from``–``period_to`` (both inclusive).

    ``office`` None reports on the whole company; an office name reports on that office alone.
    ``offices`` lists every office of the company in its usual order (the order of the
    attachments and of ties in rankings), so that offices with no complaint appear too.
    Rows outside the period (dates in ``timezone``) or of other offices are left out; merged
    and withdrawn ones are listed apart (``excluded``), out of every total.
    The main problems are given for the ``top_categories`` highest-ranked categories, at most
    ``problems_per_category`` subjects each. ``quoted``: the period's accountability records
    and preventive measures (other events, periods and offices are left out). ``document``:
    the header and footer text. Raises ``ValueError`` for an inverted period
    (``build_from_parts``).
    """
    return build_from_parts(
        report_parts(
            rows, period_from=period_from, period_to=period_to, office=office, timezone=timezone
        ),
        period_from=period_from,
        period_to=period_to,
        office=office,
        offices=offices,
        generated_at=generated_at,
        timezone=timezone,
        top_categories=top_categories,
        problems_per_category=problems_per_category,
        quoted=quoted,
        document=document,
    )


PROBLEM_TYPES = (Validity.VALID, Validity.ASSIST)
"""The judgments whose complaints the report groups into problems (the main problems of the
valid ones' top categories, the topics of the assist ones)."""


@dataclass(frozen=True)
class ReportParts:
    """What a report is made of, once its period and office are chosen.

    ``counted``: the complaints it counts (merged and withdrawn ones left out), each row with
    how many complaints it stands for: 1 for a complaint's own row, a group's size for a row
    standing for complaints alike in everything a count reads (``store.report_counted``).
    ``excluded``: the merged and withdrawn ones, listed apart. ``direct``: the counted ones
    received directly, which it writes up one by one. ``problems``: the counted valid and
    assist complaints, each row the latest (``recency``) of as many complaints of its
    validity, category and problem text (``problem_text``).
    """

    counted: Sequence[tuple[ReportRow, int]]
    excluded: Sequence[ReportRow]
    direct: Sequence[ReportRow]
    problems: Sequence[tuple[ReportRow, int]]


def report_parts(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> ReportParts:
    """The parts of the report of ``period_from``–``period_to`` for ``office`` from each
    complaint's own row (``report_scope``): every row stands for itself."""
    selected, excluded = report_scope(
        rows, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    return ReportParts(
        counted=[(row, 1) for row in selected],
        excluded=excluded,
        direct=[row for row in selected if FIGURES["direct"].test(row)],
        problems=[(row, 1) for row in selected if row.validity in PROBLEM_TYPES],
    )


def build_from_parts(
    parts: ReportParts,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    offices: Sequence[str],
    generated_at: datetime,
    timezone: tzinfo = CHINA,
    top_categories: int = 2,
    problems_per_category: int = 3,
    quoted: Iterable[QuotedEvent] = (),
    document: DocumentText | None = None,
) -> MonthlyReport:
    """``build_monthly_report`` of the complaints ``parts`` holds (already of the period and
    the office): every count weighs each row by the complaints it stands for."""
    if period_from > period_to:
        raise ValueError(f"period_from {period_from} is after period_to {period_to}")
    counted = parts.counted
    order = _office_order(offices, office, [row for row, _ in counted])
    valid = [(row, n) for row, n in counted if row.validity is Validity.VALID]
    scoped = quoted_scope(
        quoted, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    return MonthlyReport(
        period_from=period_from,
        period_to=period_to,
        office=office,
        generated_at=generated_at,
        **_types(counted),
        **_categories(valid, parts.problems, top_categories, problems_per_category),
        **_offices(valid, order),
        direct=_direct([(row, n) for row, n in counted if FIGURES["direct"].test(row)], order),
        **_attachments(counted, order, top_categories),
        **_counted(counted, parts.excluded, parts.problems),
        **_records(scoped),
        case_write_ups=tuple(_write_up(row) for row in parts.direct),
        document=document if document is not None else DocumentText(),
    )


def _tally(counted: Iterable[tuple[ReportRow, int]], key: Callable[[ReportRow], _K]) -> Counter[_K]:
    """How many complaints have each value of ``key``, each row weighing what it stands for."""
    tally: Counter[_K] = Counter()
    for row, n in counted:
        tally[key(row)] += n
    return tally


# Which descriptions the report reads. Opening one takes the complainant's key and a decryption;
# a company-wide month has 42,000 complaints, and the report quotes a few hundred of them.


def described_first(row: ReportRow) -> bool:
    """Whether the report reads ``row``'s description whatever the other rows are: it names no
    subject (its problem is its description, ``problem_text``), or it is received directly
    and written up (``case_write_ups``)."""
    return not row.subject or FIGURES["direct"].test(row)


def described_latest(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> set[UUID]:
    """The complaints whose description a main problem of the report on ``period_from``–
    ``period_to`` for ``office`` may quote (``latest_description``): among the rows that
    report counts (``report_scope``), the latest of each problem by ``recency``, as
    ``_main_problems`` picks it, grouped by validity, category and problem text: the report's
    groups or finer, so every latest one of the report's is among these. The rows
    ``described_first`` names must carry their description already: it is their problem's
    text."""
    selected, _ = report_scope(
        rows, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    problems: defaultdict[tuple[Any, ...], list[ReportRow]] = defaultdict(list)
    for row in selected:
        problems[(row.validity, row.category, problem_text(row))].append(row)
    return {max(members, key=recency).complaint_id for members in problems.values()}


# One builder per figure of the report: each returns the report's fields it makes.


def _types(counted: Sequence[tuple[ReportRow, int]]) -> dict[str, Any]:
    """Received, judged and pending, and the share of each validity type (有效/协助/无效)."""
    types = _tally(counted, attrgetter("validity"))
    judged_counts = [types[validity] for validity in Validity]
    judged = sum(judged_counts)
    by_type = tuple(
        TypeFigure(validity=validity, count=count, share_tenths=half_up_tenths(count, judged))
        for validity, count in zip(Validity, judged_counts, strict=True)
    )
    return {
        "received": sum(types.values()),
        "judged": judged,
        "pending": types[None],
        "by_type": by_type,
        "types_note": rounding_note([f.share_tenths for f in by_type]),
    }


def _categories(
    valid_counted: Sequence[tuple[ReportRow, int]],
    problems: Sequence[tuple[ReportRow, int]],
    top_categories: int,
    problems_per_category: int,
) -> dict[str, Any]:
    """The valid complaints by service category, ranked, with the main problems of the top
    categories."""
    categories = _tally(valid_counted, attrgetter("category"))
    valid = sum(categories.values())
    ranked_categories = sorted(  # sorted() is stable: ties keep the declaration order
        (category for category in ServiceCategory if categories[category]),
        key=lambda category: -categories[category],
    )
    by_category = tuple(
        CategoryFigure(
            category=category,
            count=categories[category],
            share_tenths=half_up_tenths(categories[category], valid),
            rank=i,
        )
        for i, category in enumerate(ranked_categories, start=1)
    )
    unclassified = UnclassifiedFigure(
        count=categories[None], share_tenths=half_up_tenths(categories[None], valid)
    )
    main_problems = tuple(
        CategoryProblems(
            category=figure.category,
            problems=_main_problems(
                [
                    (row, n)
                    for row, n in problems
                    if row.validity is Validity.VALID and row.category is figure.category
                ],
                problems_per_category,
                figure.category,
            ),
        )
        for figure in by_category[:top_categories]
    )
    shares = [f.share_tenths for f in by_category]
    return {
        "valid": valid,
        "by_category": by_category,
        "unclassified": unclassified,
        "main_problems": main_problems,
        "categories_note": rounding_note([*shares, unclassified.share_tenths]),
    }


def _offices(
    valid_counted: Sequence[tuple[ReportRow, int]], order: Sequence[str]
) -> dict[str, Any]:
    """The valid complaints by office, ranked (ties in the company's order of offices)."""
    valid_per_office = _tally(valid_counted, attrgetter("office"))
    valid = sum(valid_per_office.values())
    by_office = tuple(
        OfficeFigure(
            office=name,
            count=valid_per_office[name],
            share_tenths=half_up_tenths(valid_per_office[name], valid),
            rank=i,
        )
        for i, name in enumerate(_ranked_offices(valid_per_office, order), start=1)
    )
    return {
        "by_office": by_office,
        "offices_with_valid": len(by_office),
        "offices_note": rounding_note([f.share_tenths for f in by_office]),
    }


def _direct(direct: Sequence[tuple[ReportRow, int]], order: Sequence[str]) -> DirectComplaints:
    """The complaints that went over the office's head (the supervision line), by type, and
    the valid ones by office."""
    direct_types = _tally(direct, attrgetter("validity"))
    direct_valid = _tally(
        ((row, n) for row, n in direct if row.validity is Validity.VALID), attrgetter("office")
    )
    return DirectComplaints(
        total=sum(direct_types.values()),
        valid=direct_types[Validity.VALID],
        assist=direct_types[Validity.ASSIST],
        invalid=direct_types[Validity.INVALID],
        pending=direct_types[None],
        valid_by_office=tuple(
            OfficeCount(office=name, count=direct_valid[name])
            for name in _ranked_offices(direct_valid, order)
        ),
    )


def _attachments(
    counted: Sequence[tuple[ReportRow, int]], order: Sequence[str], top_categories: int
) -> dict[str, Any]:
    """Every office's counts by type (附件1) and its valid ones by category (附件2), with
    totals; which offices had complaints; each office's main categories in words."""
    per_office: dict[str, Counter[Validity | None]] = {name: Counter() for name in order}
    per_office_category: dict[str, Counter[ServiceCategory | None]] = {
        name: Counter() for name in order
    }
    for row, n in counted:
        per_office[row.office][row.validity] += n
        if row.validity is Validity.VALID:
            per_office_category[row.office][row.category] += n
    with_complaints = tuple(name for name in order if sum(per_office[name].values()))
    # The totals rows are counted over the rows themselves, apart from the offices' columns:
    # ``MonthlyReport.check`` holds each against the sum of its column.
    types = _tally(counted, attrgetter("validity"))
    categories = _tally(
        ((row, n) for row, n in counted if row.validity is Validity.VALID),
        attrgetter("category"),
    )
    return {
        "offices": tuple(order),
        "offices_with_complaints": with_complaints,
        "offices_without_complaints": tuple(n for n in order if n not in with_complaints),
        "attachment1": _attachment1(per_office, types),
        "attachment2": _attachment2(per_office_category, categories),
        "office_categories": _office_categories(order, per_office_category, top_categories),
    }


def _attachment1(
    per_office: dict[str, Counter[Validity | None]], types: Counter[Validity | None]
) -> Attachment1:
    """附件1: each office's complaints by validity type, and the totals."""
    rows = tuple(
        Attachment1Row(
            seq=seq,
            office=name,
            valid=counts[Validity.VALID],
            assist=counts[Validity.ASSIST],
            invalid=counts[Validity.INVALID],
            total=counts[Validity.VALID] + counts[Validity.ASSIST] + counts[Validity.INVALID],
            pending=counts[None],
        )
        for seq, (name, counts) in enumerate(per_office.items(), start=1)
    )
    totals = Attachment1Row(
        seq=0,
        office="合计",
        valid=types[Validity.VALID],
        assist=types[Validity.ASSIST],
        invalid=types[Validity.INVALID],
        total=types[Validity.VALID] + types[Validity.ASSIST] + types[Validity.INVALID],
        pending=types[None],
    )
    return Attachment1(rows=rows, totals=totals)


def _attachment2(
    per_office_category: dict[str, Counter[ServiceCategory | None]],
    categories: Counter[ServiceCategory | None],
) -> Attachment2:
    """附件2: each office's valid complaints by service category, and the totals."""
    rows = tuple(
        Attachment2Row(
            seq=seq,
            office=name,
            by_category={category: counts[category] for category in ServiceCategory},
            unclassified=counts[None],
            total=sum(counts.values()),
        )
        for seq, (name, counts) in enumerate(per_office_category.items(), start=1)
    )
    totals = Attachment2Row(
        seq=0,
        office="合计",
        by_category={category: categories[category] for category in ServiceCategory},
        unclassified=categories[None],
        total=sum(categories.values()),
    )
    return Attachment2(rows=rows, totals=totals)


def _counted(
    counted: Sequence[tuple[ReportRow, int]],
    excluded_rows: Sequence[ReportRow],
    problems: Sequence[tuple[ReportRow, int]],
) -> dict[str, Any]:
    """The service levels, the handling counts (exceptions included), the merged and
    withdrawn complaints listed apart, and the topics of assist complaints."""
    return {
        "service_levels": ServiceLevels(
            **{
                name: _ratio(_weighed(counted, name), _weighed(counted, f"{name}.base"))
                for name in ServiceLevels.model_fields
            }
        ),
        "excluded": ExcludedComplaints(
            merged=_count(excluded_rows, "merged"),
            withdrawn=_count(excluded_rows, "withdrawn"),
            complaints=tuple(_listed(row) for row in excluded_rows),
        ),
        "handling": Handling(**{name: _weighed(counted, name) for name in Handling.model_fields}),
        "assist_topics": _main_problems(
            [(row, n) for row, n in problems if row.validity is Validity.ASSIST], 5, None
        ),
    }


def _weighed(counted: Sequence[tuple[ReportRow, int]], key: str) -> int:
    """The count ``key`` (``FIGURES``) over rows that each stand for ``n`` complaints."""
    test = FIGURES[key].test
    return sum(n for row, n in counted if test(row))


def _records(scoped: Sequence[QuotedEvent]) -> dict[str, Any]:
    """The period's accountability records (追责) and preventive measures, one per record."""
    accountability = RECORD_FIGURES["accountability"]
    prevention = RECORD_FIGURES["preventive_measures"]
    return {
        "accountability": tuple(
            AccountabilityItem(
                complaint_id=q.complaint_id,
                office=q.office,
                occurred_at=q.occurred_at,
                subject=q.subject,
                person=record["person"],
                measure=record["measure"],
                reason=record["reason"],
            )
            for q in scoped
            if accountability.test(q)
            for record in accountability.records(q)
        ),
        "preventive_measures": tuple(
            PreventiveMeasure(
                complaint_id=q.complaint_id,
                office=q.office,
                occurred_at=q.occurred_at,
                subject=q.subject,
                measure=record["measure"],
            )
            for q in scoped
            if prevention.test(q)
            for record in prevention.records(q)
        ),
    }

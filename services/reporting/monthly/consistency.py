"""That a report's figures agree with each other: every total with its parts, both
attachments with the headline, rankings and shares with their counts."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.enums import ServiceCategory, Validity
from services.reporting.monthly.model import (
    Handling,
    InconsistentReportError,
    MonthlyReport,
    Ratio,
    ServiceLevels,
)
from services.reporting.monthly.shares import (
    _ratio,
    half_up_tenths,
    headline_figures,
    rounding_note,
)


def _agree(what: str, actual: object, expected: object) -> None:
    if actual != expected:
        raise InconsistentReportError(f"{what}: {actual!r} != {expected!r}")


def _shares_of(what: str, parts: Sequence[tuple[int, int]], base: int) -> None:
    for count, share in parts:
        _agree(f"{what}: share of {count} in {base}", share, half_up_tenths(count, base))


def _noted(what: str, shares: Sequence[int], note: str) -> None:
    _agree(f"{what}: rounding note", note, rounding_note(shares))


def _ranked(what: str, counts: Sequence[int], ranks: Sequence[int]) -> None:
    _agree(f"{what}: ranked by count", list(counts), sorted(counts, reverse=True))
    _agree(f"{what}: ranks", list(ranks), list(range(1, len(ranks) + 1)))


def check_report(report: MonthlyReport) -> None:
    """Raise ``InconsistentReportError`` unless every total agrees with its parts.

    Headline totals, the two attachments, the rankings, the shares and the direct complaints
    must all tell the same story.
    """
    _check_types(report)
    _check_attachments(report)
    _check_rankings(report)
    _check_the_rest(report)


def _check_types(report: MonthlyReport) -> None:
    """The headline counts and the validity types' shares."""
    counts = {figure.validity: figure.count for figure in report.by_type}
    _agree("types listed", tuple(f.validity for f in report.by_type), tuple(Validity))
    _agree("judged = valid + assist + invalid", report.judged, sum(counts.values()))
    _agree("received = judged + pending", report.received, report.judged + report.pending)
    _agree("valid", report.valid, counts[Validity.VALID])
    _shares_of("types", [(f.count, f.share_tenths) for f in report.by_type], report.judged)
    _noted("types", [f.share_tenths for f in report.by_type], report.types_note)


def _check_attachments(report: MonthlyReport) -> None:
    """Both attachments: each row and the totals row against its columns and the
    headline."""
    counts = {figure.validity: figure.count for figure in report.by_type}
    att1 = report.attachment1
    for row1 in (*att1.rows, att1.totals):
        _agree(f"附件1 {row1.office} total", row1.total, row1.valid + row1.assist + row1.invalid)
    for column in ("valid", "assist", "invalid", "total", "pending"):
        column_sum = sum(getattr(row, column) for row in att1.rows)
        _agree(f"附件1 totals row, {column}", getattr(att1.totals, column), column_sum)
    _agree("附件1 valid = headline", att1.totals.valid, report.valid)
    _agree("附件1 assist = headline", att1.totals.assist, counts[Validity.ASSIST])
    _agree("附件1 invalid = headline", att1.totals.invalid, counts[Validity.INVALID])
    _agree("附件1 total = headline", att1.totals.total, report.judged)
    _agree("附件1 pending = headline", att1.totals.pending, report.pending)
    _agree("附件1 offices", tuple(r.office for r in att1.rows), report.offices)

    att2 = report.attachment2
    for row in (*att2.rows, att2.totals):
        _agree(f"附件2 {row.office} categories", tuple(row.by_category), tuple(ServiceCategory))
        row_sum = sum(row.by_category.values()) + row.unclassified
        _agree(f"附件2 {row.office} total", row.total, row_sum)
    for category in ServiceCategory:
        column_sum = sum(row.by_category[category] for row in att2.rows)
        _agree(f"附件2 totals row, {category}", att2.totals.by_category[category], column_sum)
    _agree("附件2 unclassified", att2.totals.unclassified, sum(r.unclassified for r in att2.rows))
    _agree("附件2 total = headline valid", att2.totals.total, report.valid)
    valid_per_office = {row.office: row.valid for row in att1.rows}
    _agree("附件2 rows = 附件1 valid", {r.office: r.total for r in att2.rows}, valid_per_office)


def _check_rankings(report: MonthlyReport) -> None:
    """The categories' and offices' rankings and shares, against the attachments."""
    att2 = report.attachment2
    valid_per_office = {row.office: row.valid for row in report.attachment1.rows}
    ranked = {figure.category: figure.count for figure in report.by_category}
    nonzero = {c: n for c, n in att2.totals.by_category.items() if n}
    _agree("categories = 附件2 totals row", ranked, nonzero)
    _agree("unclassified = 附件2", report.unclassified.count, att2.totals.unclassified)
    category_shares = [(f.count, f.share_tenths) for f in report.by_category]
    unclassified = (report.unclassified.count, report.unclassified.share_tenths)
    _shares_of("categories", [*category_shares, unclassified], report.valid)
    _noted("categories", [t for _, t in [*category_shares, unclassified]], report.categories_note)
    _ranked(
        "categories", [f.count for f in report.by_category], [f.rank for f in report.by_category]
    )

    offices = {figure.office: figure.count for figure in report.by_office}
    _agree("offices = 附件1 valid", offices, {o: n for o, n in valid_per_office.items() if n})
    _agree("offices with valid complaints", report.offices_with_valid, len(report.by_office))
    _shares_of("offices", [(f.count, f.share_tenths) for f in report.by_office], report.valid)
    _noted("offices", [f.share_tenths for f in report.by_office], report.offices_note)
    _ranked("offices", [f.count for f in report.by_office], [f.rank for f in report.by_office])

    with_complaints = {r.office for r in report.attachment1.rows if r.total + r.pending}
    _agree("offices with complaints", set(report.offices_with_complaints), with_complaints)
    _agree(
        "offices with and without complaints",
        sorted((*report.offices_with_complaints, *report.offices_without_complaints)),
        sorted(report.offices),
    )


def _check_the_rest(report: MonthlyReport) -> None:
    """The direct complaints, the service levels, the handling counts, the excluded
    complaints, the case write-ups and the comparisons."""
    direct = report.direct
    direct_parts = direct.valid + direct.assist + direct.invalid + direct.pending
    _agree("direct = its parts", direct.total, direct_parts)
    _agree("direct valid by office", sum(o.count for o in direct.valid_by_office), direct.valid)
    if direct.total > report.received or direct.valid > report.valid:
        raise InconsistentReportError("more direct complaints than complaints")

    levels = report.service_levels
    for name in ServiceLevels.model_fields:
        ratio: Ratio = getattr(levels, name)
        if not 0 <= ratio.hits <= ratio.base <= report.received:
            raise InconsistentReportError(f"{name}: {ratio.hits} of {ratio.base}")
        _agree(f"{name} share", ratio.share_tenths, _ratio(ratio.hits, ratio.base).share_tenths)
    _agree("overdue base", levels.overdue.base, report.received)

    excluded = report.excluded
    _agree(
        "excluded = merged + withdrawn",
        len(excluded.complaints),
        excluded.merged + excluded.withdrawn,
    )
    h = report.handling
    for name in Handling.model_fields:
        if not 0 <= getattr(h, name) <= report.received:
            raise InconsistentReportError(f"handling {name}: {getattr(h, name)}")
    if h.suspended_now > h.suspended:
        raise InconsistentReportError("more complaints suspended now than ever")
    _agree("case write-ups = direct complaints", len(report.case_write_ups), report.direct.total)
    headline = headline_figures(report)
    for comparison in report.comparisons:
        _agree(f"comparison {comparison.key}", comparison.current, headline[comparison.key])

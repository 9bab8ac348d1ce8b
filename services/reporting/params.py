"""The query parameters of reporting's reads: as-of instants, offices, report periods, the
figures of drill-down lists and their pages, each checked with a 422 naming the field."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Depends, Query

from services.reporting import reports
from services.reporting.drilldown import MAX_PAGE_SIZE
from services.reporting.invalid import ConsoleFieldError
from services.runtime.auth import CurrentStaff, office_scope
from services.runtime.login import PageStaff

AsOf = Annotated[
    datetime | None,
    Query(
        description="Answer as the log stood at this instant (ISO 8601; no offset: China time). "
        "Default: now.",
    ),
]
Office = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=50,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="One management office (管理处); default: all",
    ),
]
EARLIEST_YEAR, LATEST_YEAR = 1900, 9998
"""Dates and instants outside these years are refused (they could not be stored anyway)."""
YEARS_REASON = f"must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}"
YEARS_MESSAGE = f"须在{EARLIEST_YEAR}年至{LATEST_YEAR}年之间"


def checked_instant(as_of: datetime | None) -> datetime:
    """The instant asked about (``as_of``, default now), or a 422 naming ``as_of``."""
    if as_of is not None and not EARLIEST_YEAR <= as_of.year <= LATEST_YEAR:
        raise ConsoleFieldError("as_of", YEARS_REASON, YEARS_MESSAGE)
    return reports.instant(as_of, datetime.now(UTC))


@dataclass(frozen=True)
class ReportQuery:
    """The parameters of a monthly report, checked."""

    period_from: date
    period_to: date
    office: str | None
    as_of: datetime
    # No ``as_of`` was given: the report "now", read as every event applied has each
    # complaint (``complaint_current``), with ``as_of`` the instant of the request.
    current: bool = False


async def report_query(  # async (as every dependency here): a plain def hops to a thread
    period_from: Annotated[
        date | None,
        Query(alias="from", description="First day of the period (default: the month of as_of)"),
    ] = None,
    period_to: Annotated[
        date | None,
        Query(alias="to", description="Last day of the period, inclusive"),
    ] = None,
    office: Office = None,
    as_of: AsOf = None,
    month: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            description="A whole month, YYYY-MM (the console's month picker); "
            "not together with from/to",
        ),
    ] = None,
) -> ReportQuery:
    """Parse and check the report's query parameters (a 422 names the bad one)."""
    if month is not None:
        if period_from is not None or period_to is not None:
            raise ConsoleFieldError(
                "month", "give month or from/to, not both", "请只填月份，或只填起止日期"
            )
        year, number = (int(part) for part in month.split("-"))
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            raise ConsoleFieldError("month", YEARS_REASON, YEARS_MESSAGE)
        period_from, period_to = reports.month_of(reports.day_start(date(year, number, 1)))
    for name, day in (("from", period_from), ("to", period_to)):
        if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise ConsoleFieldError(name, YEARS_REASON, YEARS_MESSAGE)
    at = checked_instant(as_of)
    if period_from is None and period_to is None:
        period_from, period_to = reports.month_of(at)
    elif period_to is None:
        assert period_from is not None
        period_to = reports.month_of(reports.day_start(period_from))[1]
    elif period_from is None:
        period_from = period_to.replace(day=1)
    query = ReportQuery(
        period_from=period_from,
        period_to=period_to,
        office=office,
        as_of=at,
        current=as_of is None,
    )
    if query.period_from > query.period_to:
        raise ConsoleFieldError(
            "from",
            f"the period starts after it ends ({query.period_to})",
            f"晚于截止日期（{query.period_to}）",
        )
    return query


READS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No staff token (or session), or not a valid one"},
    403: {"description": "An office-scoped role asked about another office (names `office`)"},
}


async def scoped_report_query(
    staff: CurrentStaff, query: Annotated[ReportQuery, Depends(report_query)]
) -> ReportQuery:
    """The report's parameters with ``office`` limited to what ``staff`` may see."""
    return replace(query, office=office_scope(staff, query.office))


async def scoped_page_query(
    staff: PageStaff, query: Annotated[ReportQuery, Depends(report_query)]
) -> ReportQuery:
    """The same for a page (a browser without a session goes to the login first)."""
    return replace(query, office=office_scope(staff, query.office))


ReportParams = Annotated[ReportQuery, Depends(scoped_report_query)]
PageParams = Annotated[ReportQuery, Depends(scoped_page_query)]
FigureKey = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        description="The count to list. For the report: a key of `monthly.FIGURES` (e.g. "
        "`valid`, `category.environment`, `direct.valid`, `major`, `overdue`, `overdue.base`), "
        "`accountability` or `preventive_measures` (records: one complaint per record), or a "
        "main problem's `problem.<category>.<id>` / `assist_topic.<id>` (the report's "
        "`figure` of it). For the dashboard: `open`, `open.<status>`, `major`, `overdue`, "
        "`due_soon`, `today`, `today.<channel>` or a hot spot's `hot.<unit|building|topic>."
        "<key>` (with its `office`)",
    ),
]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page, from 1")]
PageSize = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="Complaints per page (default 50)")
]

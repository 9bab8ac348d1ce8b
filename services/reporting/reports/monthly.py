"""The monthly report as of an instant, read in one snapshot (its earlier periods on
connections of their own in that snapshot), and the complaints behind one of its figures."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any, TypeVar

import asyncpg

from services.reporting import store
from services.reporting.document import DocumentSettings
from services.reporting.monthly import (
    RECORD_FIGURES,
    MonthlyReport,
    PeriodHeadline,
    ReportRow,
    build_from_parts,
    figure_rows,
    period_headline,
    record_complaints,
    with_comparisons,
)
from services.reporting.reports.periods import (
    previous_period,
    previous_year,
)
from services.reporting.reports.rows import (
    ReportPeriod,
    listed_complaints,
    period_counted,
    period_groups,
    period_parts,
    period_quoted,
    period_rows,
)


async def _headline(conn: asyncpg.Connection, period: ReportPeriod) -> PeriodHeadline:
    """An earlier period as a report compares with it: its headline figures only, counted
    over its complaints grouped by what those read (``period_groups``: no complaint
    listed, no description opened, no other figure built)."""
    return period_headline(
        await period_groups(conn, period),
        await period_quoted(conn, period),
        period_from=period.period_from,
        period_to=period.period_to,
        office=period.office,
    )


async def _in_snapshot(
    pool: asyncpg.Pool,
    snapshot: str,
    read: Callable[[asyncpg.Connection, ReportPeriod], Awaitable[_Read]],
    period: ReportPeriod,
) -> _Read:
    """``read(connection, period)`` on a connection of its own, in the transaction snapshot
    ``snapshot`` (``pg_export_snapshot`` of the report's transaction): it reads exactly what
    that transaction reads, while that transaction goes on with another read."""
    async with (
        pool.acquire() as other,
        other.transaction(isolation="repeatable_read", readonly=True),
    ):
        await store.import_snapshot(other, snapshot)
        await store.report_settings(other)
        return await read(other, period)


_Read = TypeVar("_Read")


async def monthly_report(
    conn: asyncpg.Connection,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
    offices: Sequence[str],
    document: DocumentSettings | None = None,
    pool: asyncpg.Pool | None = None,
    current: bool = False,
) -> MonthlyReport:
    """The monthly report of ``period_from``–``period_to`` as the log stood at ``as_of``, with
    every headline figure beside the previous period's (环比) and the same period a year
    before (同比), both as the log stood at ``as_of`` too.

    ``offices`` is the company's office list (configuration); offices seen in the data by
    ``as_of`` follow it, so an office that had no complaint in the period is still named.
    The report's ``generated_at`` is ``as_of``: the same question gets the same answer.
    ``document``: the header and footer text (default: ``document.yaml``'s defaults).
    The two earlier periods are read for their headline figures alone (``_headline``).
    ``pool``: they are read on connections of their own, in the snapshot of ``conn``'s
    transaction, while this period's rows are made (PostgreSQL folds them on the other core).
    ``current``: the report "now", read from each complaint's state as every event applied
    has it (``complaint_current``) instead of folded as of ``as_of`` (still its
    ``generated_at``).
    """
    document = document or DocumentSettings()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        reading = await store.reading(conn, now=current)
        await store.report_settings(conn)
        period = ReportPeriod(period_from, period_to, office, as_of, reading)
        earlier_periods = [
            replace(period, period_from=start, period_to=end)
            for start, end in (
                previous_period(period_from, period_to),
                previous_year(period_from, period_to),
            )
        ]
        beside: list[asyncio.Task[PeriodHeadline]] = []
        counted: asyncio.Task[list[tuple[ReportRow, int]]] | None = None
        if pool is not None:  # on connections of their own, in this transaction's snapshot
            snapshot = await store.export_snapshot(conn)
            beside = [
                asyncio.create_task(_in_snapshot(pool, snapshot, _headline, p))
                for p in earlier_periods
            ]
            counted = asyncio.create_task(_in_snapshot(pool, snapshot, period_counted, period))
        try:
            seen = await store.offices_seen(conn, as_of)
            parts = await period_parts(conn, period, counted=counted)
            report = build_from_parts(
                parts,
                period_from=period_from,
                period_to=period_to,
                office=office,
                offices=list(dict.fromkeys([*offices, *seen])),
                generated_at=as_of,
                quoted=await period_quoted(conn, period),
                document=document.text_for(period_from, period_to),
            )
            earlier = (
                [await task for task in beside]
                if beside
                else [await _headline(conn, p) for p in earlier_periods]
            )
        finally:
            tasks = [*beside, *([counted] if counted else [])]
            for task in tasks:  # the snapshot ends with this transaction
                if not task.done():
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return with_comparisons(report, *earlier)


async def monthly_figure(
    conn: asyncpg.Connection,
    *,
    key: str,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
    page: int,
    page_size: int,
    current: bool = False,
) -> tuple[int, list[dict[str, Any]]]:
    """How many the monthly report's count ``key`` counts, and one page of its complaints
    (``listed_complaints``), in one snapshot: for a count of complaints the same rows
    (``store.report_rows``, opened as the report opens them) and the same test
    (``monthly.figure_rows``) as the report's count; for a count of records
    (``monthly.RECORD_FIGURES``) the same quoted events (``store.quoted_events``) and the
    complaint of each record (``monthly.record_complaints``).
    ``KeyError`` for a key that names no count (``monthly.find_figure``). ``current``: as
    ``monthly_report``'s."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        period = ReportPeriod(
            period_from, period_to, office, as_of, await store.reading(conn, now=current)
        )
        if key in RECORD_FIGURES:
            ids = record_complaints(
                await period_quoted(conn, period),
                key,
                period_from=period_from,
                period_to=period_to,
                office=office,
            )
        else:
            ids = [
                row.complaint_id
                for row in figure_rows(
                    await period_rows(conn, period),
                    key,
                    period_from=period_from,
                    period_to=period_to,
                    office=office,
                )
            ]
        return len(ids), await listed_complaints(
            conn, ids[(page - 1) * page_size : page * page_size], as_of
        )

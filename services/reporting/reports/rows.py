"""The store's rows as the report counts them: a period's, each description and complainant
opened from the vault as it is read (never stored opened)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from services.reporting import store
from services.reporting.domain import ServiceLevelFacts, service_levels
from services.reporting.monthly import (
    EXCLUDED_STATUSES,
    FIGURES,
    PROBLEM_TYPES,
    QuotedEvent,
    ReportParts,
    ReportRow,
    described_first,
    described_latest,
)
from services.reporting.reports.periods import day_start
from services.reporting.store import PeriodRead, Reading
from services.runtime import vault
from services.runtime.auth import masked_complainant


@dataclass(frozen=True)
class ReportPeriod:
    """What one of a report's reads reads: the complaints that occurred in the days
    ``period_from``–``period_to`` (China time), counting for ``office`` (``None``: the whole
    company), as of ``as_of``, read as ``reading`` says (``store.reading``: once per report)."""

    period_from: date
    period_to: date
    office: str | None
    as_of: datetime
    reading: Reading

    @property
    def read(self) -> PeriodRead:
        """The store's read of it: the instants its days begin and end."""
        return PeriodRead(
            occurred_from=day_start(self.period_from),
            occurred_before=day_start(self.period_to + timedelta(days=1)),
            office=self.office,
            as_of=self.as_of,
            reading=self.reading,
        )


async def period_rows(conn: asyncpg.Connection, period: ReportPeriod) -> list[ReportRow]:
    """The complaints of the period as the report counts them (opened): the one read the
    report and every drill-down list make, so a list is the rows its count counted."""
    records = await store.report_rows(conn, period.read)
    return await opened_report_rows(
        conn, records, period.period_from, period.period_to, period.office
    )


async def period_groups(
    conn: asyncpg.Connection, period: ReportPeriod
) -> list[tuple[ReportRow, int]]:
    """The complaints of the period grouped by what the headline figures read
    (``store.report_groups``): one row for each group, with how many complaints it stands
    for. A row of a group names no complaint (a nil id, no subject, no description) and says
    nothing of what the headline does not read, so it serves the headline counts alone
    (``monthly.period_headline``), the same as over ``period_rows``."""
    groups = await store.report_groups(conn, period.read)
    return [(report_row(g, "", unnamed=True), g["n"]) for g in groups]


async def period_counted(
    conn: asyncpg.Connection, period: ReportPeriod
) -> list[tuple[ReportRow, int]]:
    """The complaints of the period the report counts (merged and withdrawn ones left out),
    grouped by every column a count reads (``store.report_counted``): one row for each group,
    which names no complaint, with how many complaints it stands for."""
    groups = await store.report_counted(conn, period.read)
    return [
        (report_row(g, "", unnamed=True), g["n"])
        for g in groups
        if g["status"] not in EXCLUDED_STATUSES
    ]


async def period_parts(
    conn: asyncpg.Connection,
    period: ReportPeriod,
    counted: Awaitable[list[tuple[ReportRow, int]]] | None = None,
) -> ReportParts:
    """The period's complaints as the report is made of them (``monthly.ReportParts``) without
    a row for each: the counts over groups (``period_counted``; ``counted``: those, being read
    on another connection meanwhile), the complaints it names one by one and the latest of
    each problem (``store.report_named``), with the descriptions the report reads opened. The
    same report as ``monthly.report_parts`` of ``period_rows`` (the tests hold it)."""
    records = await store.report_named(conn, period.read)
    parts: dict[str, list[asyncpg.Record]] = {"named": [], "latest": []}
    for record in records:
        parts[record["part"]].append(record)
    listed = [report_row(r, "") for r in parts["named"]]
    await _open_descriptions(
        conn, parts["named"], listed, [n for n, row in enumerate(listed) if described_first(row)]
    )
    latest = [report_row(r, "") for r in parts["latest"]]
    await _open_descriptions(conn, parts["latest"], latest, range(len(latest)))
    named = [row for row in listed if row.status not in EXCLUDED_STATUSES]
    return ReportParts(
        counted=await (counted if counted is not None else period_counted(conn, period)),
        excluded=[row for row in listed if row.status in EXCLUDED_STATUSES],
        direct=[row for row in named if FIGURES["direct"].test(row)],
        problems=[
            *((row, r["n"]) for row, r in zip(latest, parts["latest"], strict=True)),
            *((row, 1) for row in named if row.validity in PROBLEM_TYPES and not row.subject),
        ],
    )


async def period_quoted(conn: asyncpg.Connection, period: ReportPeriod) -> list[QuotedEvent]:
    """The events of the period whose texts the report quotes (records, measures): the one
    read of the report and of the drill-down lists of its record counts."""
    return [quoted_event(q) for q in await store.quoted_events(conn, period.read)]


async def opened_report_rows(
    conn: asyncpg.Connection,
    records: Sequence[asyncpg.Record],
    period_from: date,
    period_to: date,
    office: str | None,
) -> list[ReportRow]:
    """``store.report_rows`` as the report on ``period_from``–``period_to`` for ``office``
    counts them, with the descriptions it reads opened (``monthly.described_first``: the ones
    with no subject, which the main problems group by, and the directly received ones it
    writes up; then ``monthly.described_latest``: the latest of each problem). Every other
    row's description is left empty: a company-wide month has 42,000 complaints, and opening
    each took 0.8 s. Opened as the report is made, never stored opened: an erasure shows in
    the next report."""
    rows = [report_row(r, "") for r in records]
    first = [n for n, row in enumerate(rows) if described_first(row)]
    await _open_descriptions(conn, records, rows, first)
    latest = described_latest(rows, period_from=period_from, period_to=period_to, office=office)
    then = [
        n for n, row in enumerate(rows) if row.complaint_id in latest and not described_first(row)
    ]
    await _open_descriptions(conn, records, rows, then)
    return rows


async def _open_descriptions(
    conn: asyncpg.Connection,
    records: Sequence[asyncpg.Record],
    rows: list[ReportRow],
    at: Sequence[int],
) -> None:
    """Open the descriptions of ``rows[n]`` for each ``n`` in ``at`` (in place)."""
    descriptions = await vault.open_descriptions(
        conn, [orjson.loads(records[n]["personal"]) for n in at]
    )
    for n, description in zip(at, descriptions, strict=True):
        rows[n] = rows[n].model_copy(update={"description": description})


def report_row(row: Mapping[str, Any], description: str, *, unnamed: bool = False) -> ReportRow:
    """One complaint of the store as the monthly report needs it (``description`` opened from
    its sealed form: ``已删除`` once the complainant is erased); ``unnamed``: a group of
    complaints (``store.report_groups``), which names none: a nil id, no subject, summary or
    merge, the columns a count never reads.

    The report counts a complaint in the period it occurred in (``received_at`` of the row is
    the complaint's ``occurred_at``, 投诉时间).
    """
    levels = service_levels(
        ServiceLevelFacts(
            acknowledged=row["acknowledged"],
            first_response_breached=row["first_response_breached"],
            replied=row["replied"],
            reply_breached=row["reply_breached"],
            reply_hard_breached=row["reply_hard_breached"],
        )
    )
    # Validated from the columns' own values (the enums from their text) by pydantic-core:
    # half the cost of ``model_construct`` (3.6 µs vs 6.8 µs a row; ``model_construct`` is
    # Python), and the row is checked again for free. 42,000 rows a company-wide month.
    return ReportRow.model_validate(
        {
            "complaint_id": _NIL if unnamed else row["complaint_id"],
            "office": row["office"],
            "channel": row["channel"],
            "validity": row["validity"],
            "category": row["category"],
            "received_at": row["occurred_at"],
            "first_response_within_30min": levels.first_response_within_30min,
            "replied_within_1_day": levels.replied_within_1_day,
            "replied_within_3_days": levels.replied_within_3_days,
            "overdue": row["overdue"],
            "revisit_satisfied": row["revisit_satisfied"],
            "subject": "" if unnamed else row["subject"],
            "description": description,
            "status": row["status"],
            "priority": row["priority"],
            "major": row["major"],
            "resolved_on_the_spot": row["resolved_on_the_spot"],
            "suspended": row["suspended"],
            "rejudged": row["rejudged"],
            "close_outcome": row["close_outcome"],
            "close_summary": "" if unnamed else row["close_summary"] or "",
            "merged_into": None if unnamed else row["merged_into"],
        }
    )


_NIL = UUID(int=0)


def quoted_event(row: Mapping[str, Any]) -> QuotedEvent:
    """An accountability record or preventive measure of the store as the report quotes it."""
    return QuotedEvent(
        complaint_id=row["complaint_id"],
        office=row["office"],
        type=row["type"],
        occurred_at=row["occurred_at"],
        detail=orjson.loads(row["detail"]),
        subject=row["subject"],
    )


async def known_offices(
    conn: asyncpg.Connection, offices: Sequence[str], as_of: datetime
) -> list[str]:
    """The offices a reader may pick: the company's list, then every office seen by T."""
    return list(dict.fromkeys([*offices, *await store.offices_seen(conn, as_of)]))


async def listed_complaints(
    conn: asyncpg.Connection, complaint_ids: list[UUID], as_of: datetime
) -> list[dict[str, Any]]:
    """``store.listed_complaints`` with each complainant opened (``已删除`` once erased) and
    masked, as reporting shows every complainant: opened at read time, never stored opened."""
    rows = await store.listed_complaints(conn, complaint_ids, as_of)
    opened = await vault.open_many(conn, [orjson.loads(r["personal"]) for r in rows])
    return [
        {**dict(r), "complainant": masked_complainant(o.complainant())}
        for r, o in zip(rows, opened, strict=True)
    ]

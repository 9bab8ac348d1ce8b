"""Reporting's use cases: the monthly report and the dashboard as of an instant.

Each function reads the store inside one transaction (one consistent snapshot of the
projection) and hands the rows to the pure builders (``monthly.build_monthly_report``,
``dashboard.build_dashboard``). The HTTP layer only parses parameters and picks a format.

Times: a period is whole days in China Standard Time, counted by when a complaint occurred
(投诉时间, ``occurred_at``); "as of T" keeps what the platform had recorded by T
(``recorded_at <= T``). A naive ``as_of`` is read as China Standard Time.
"""

from __future__ import annotations

import asyncio
import calendar
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from contracts.timezone import CHINA
from services.reporting import store
from services.reporting.dashboard import BoardFigure, Dashboard, build_dashboard
from services.reporting.document import DocumentSettings
from services.reporting.domain import ServiceLevelFacts, service_levels, status_label, timer_label
from services.reporting.domain import ServiceLevels as ComplaintLevels
from services.reporting.monthly import (
    RECORD_FIGURES,
    MonthlyReport,
    QuotedEvent,
    ReportRow,
    build_monthly_report,
    figure_rows,
    record_complaints,
    with_comparisons,
)
from services.runtime import vault
from services.runtime.auth import masked_complainant


def instant(as_of: datetime | None, now: datetime) -> datetime:
    """The instant a question is asked about: ``as_of`` (naive → China time), else ``now``."""
    if as_of is None:
        return now
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        return as_of.replace(tzinfo=CHINA)
    return as_of


def month_of(at: datetime) -> tuple[date, date]:
    """The first and last day of the month (China time) that ``at`` falls in."""
    day = at.astimezone(CHINA).date()
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in China Standard Time."""
    return datetime.combine(day, time.min, CHINA)


async def period_rows(
    conn: asyncpg.Connection,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
) -> list[ReportRow]:
    """The complaints of the period as the report counts them (opened): the one read the
    report and every drill-down list make, so a list is the rows its count counted."""
    records = await store.report_rows(conn, **_period(period_from, period_to, office, as_of))
    return await opened_report_rows(conn, records)


async def period_quoted(
    conn: asyncpg.Connection,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
) -> list[QuotedEvent]:
    """The events of the period whose texts the report quotes (records, measures): the one
    read of the report and of the drill-down lists of its record counts."""
    quoted = await store.quoted_events(conn, **_period(period_from, period_to, office, as_of))
    return [quoted_event(q) for q in quoted]


def _period(
    period_from: date, period_to: date, office: str | None, as_of: datetime
) -> dict[str, Any]:
    """The store's arguments for the days ``period_from``–``period_to`` (China time)."""
    return {
        "occurred_from": day_start(period_from),
        "occurred_before": day_start(period_to + timedelta(days=1)),
        "office": office,
        "as_of": as_of,
    }


async def opened_report_rows(
    conn: asyncpg.Connection, records: Sequence[asyncpg.Record]
) -> list[ReportRow]:
    """``store.report_rows`` as the report counts them, each description opened (the main
    problems group by it when a complaint names no subject). Opened as the report is made,
    never stored opened: an erasure shows in the next report."""
    opened = await vault.open_many(conn, [orjson.loads(r["personal"]) for r in records])
    return [report_row(r, o.description) for r, o in zip(records, opened, strict=True)]


def report_row(row: Mapping[str, Any], description: str) -> ReportRow:
    """One complaint of the store as the monthly report needs it (``description`` opened from
    its sealed form: ``已删除`` once the complainant is erased).

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
            "complaint_id": row["complaint_id"],
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
            "subject": row["subject"],
            "description": description,
            "status": row["status"],
            "priority": row["priority"],
            "major": row["major"],
            "resolved_on_the_spot": row["resolved_on_the_spot"],
            "suspended": row["suspended"],
            "rejudged": row["rejudged"],
            "close_outcome": row["close_outcome"],
            "close_summary": row["close_summary"] or "",
            "merged_into": row["merged_into"],
        }
    )


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


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _whole_months(period_from: date, period_to: date) -> int | None:
    """How many whole months the period is (None: not whole months)."""
    if period_from.day != 1 or (period_to + timedelta(days=1)).day != 1:
        return None
    return (period_to.year - period_from.year) * 12 + period_to.month - period_from.month + 1


def _shifted(period_from: date, period_to: date, months: int) -> tuple[date, date]:
    start = _shift_months(period_from, months)
    if _whole_months(period_from, period_to) is None:
        return start, _shift_months(period_to, months)
    end = _shift_months(period_to.replace(day=1), months)
    return start, end.replace(day=calendar.monthrange(end.year, end.month)[1])


def previous_period(period_from: date, period_to: date) -> tuple[date, date]:
    """The period before (环比): the months before a period of whole months, else as many days
    ending the day before ``period_from``."""
    months = _whole_months(period_from, period_to)
    if months is not None:
        return _shifted(period_from, period_to, -months)
    length = period_to - period_from
    end = period_from - timedelta(days=1)
    return end - length, end


def previous_year(period_from: date, period_to: date) -> tuple[date, date]:
    """The same period a year before (同比); 29 February becomes the 28th."""
    return _shifted(period_from, period_to, -12)


Fetched = tuple[list[ReportRow], list[QuotedEvent]]
"""A period as the report reads it: its complaints (``period_rows``) and its quoted events
(``period_quoted``)."""


async def _fetch_period(
    conn: asyncpg.Connection,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
) -> Fetched:
    return (
        await period_rows(conn, period_from, period_to, office, as_of),
        await period_quoted(conn, period_from, period_to, office, as_of),
    )


_SNAPSHOT = re.compile(r"^[0-9A-Fa-f-]+$")


async def _fetch_in_snapshot(
    pool: asyncpg.Pool,
    snapshot: str,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
) -> Fetched:
    """``_fetch_period`` on a connection of its own, in the transaction snapshot ``snapshot``
    (``pg_export_snapshot`` of the report's transaction): it reads exactly what that
    transaction reads, while that transaction goes on with another period."""
    if not _SNAPSHOT.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    async with (
        pool.acquire() as other,
        other.transaction(isolation="repeatable_read", readonly=True),
    ):
        await other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        return await _fetch_period(other, period_from, period_to, office, as_of)


def _report_of(
    fetched: Fetched,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
    offices: Sequence[str],
    document: DocumentSettings,
) -> MonthlyReport:
    rows, quoted = fetched
    return build_monthly_report(
        rows,
        period_from=period_from,
        period_to=period_to,
        office=office,
        offices=offices,
        generated_at=as_of,
        quoted=quoted,
        document=document.text_for(period_from, period_to),
    )


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
) -> MonthlyReport:
    """The monthly report of ``period_from``–``period_to`` as the log stood at ``as_of``, with
    every headline figure beside the previous period's (环比) and the same period a year
    before (同比), both as the log stood at ``as_of`` too.

    ``offices`` is the company's office list (configuration); offices seen in the data by
    ``as_of`` follow it, so an office that had no complaint in the period is still named.
    The report's ``generated_at`` is ``as_of``: the same question gets the same answer.
    ``document``: the header and footer text (default: ``document.yaml``'s defaults).
    ``pool``: the two earlier periods are read on connections of their own, in the snapshot of
    ``conn``'s transaction, while this period's rows are made (PostgreSQL folds them on the
    other core: a company-wide report over a million complaints, 6.5 s one after the other).
    """
    document = document or DocumentSettings()
    periods = [
        (period_from, period_to),
        previous_period(period_from, period_to),
        previous_year(period_from, period_to),
    ]
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        earlier: list[asyncio.Task[Fetched]] = []
        if pool is not None:
            snapshot = await store.export_snapshot(conn)
            earlier = [
                asyncio.create_task(_fetch_in_snapshot(pool, snapshot, *p, office, as_of))
                for p in periods[1:]
            ]
        try:
            seen = await store.offices_seen(conn, as_of)
            listed = list(dict.fromkeys([*offices, *seen]))
            reports = [
                _report_of(
                    await earlier[n - 1]
                    if n and earlier
                    else await _fetch_period(conn, start, end, office, as_of),
                    period_from=start,
                    period_to=end,
                    office=office,
                    as_of=as_of,
                    offices=listed,
                    document=document,
                )
                for n, (start, end) in enumerate(periods)
            ]
        finally:
            for task in earlier:  # the snapshot ends with this transaction
                if not task.done():
                    task.cancel()
            await asyncio.gather(*earlier, return_exceptions=True)
    return with_comparisons(*reports)


async def dashboard(
    conn: asyncpg.Connection,
    *,
    office: str | None,
    as_of: datetime,
    hotspot_days: int,
    hotspot_min: int,
) -> Dashboard:
    """The dashboard as the log stood at ``as_of``, for ``office`` or the whole company."""
    today = day_start(as_of.astimezone(CHINA).date())
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        open_rows = await store.open_complaints(conn, office=office, as_of=as_of)
        alert_rows = await store.timer_alerts(conn, office=office, as_of=as_of)
        intake = await store.intake_by_channel(
            conn,
            occurred_from=today,
            occurred_before=today + timedelta(days=1),
            office=office,
            as_of=as_of,
        )
        hot_rows = await store.hot_spots(
            conn,
            occurred_after=as_of - timedelta(days=hotspot_days),
            office=office,
            as_of=as_of,
            min_count=hotspot_min,
        )
    return build_dashboard(
        as_of=as_of,
        office=office,
        open_rows=open_rows,
        alert_rows=alert_rows,
        intake=intake,
        hot_rows=hot_rows,
        days=hotspot_days,
        min_count=hotspot_min,
    )


async def complaint(
    conn: asyncpg.Connection, complaint_id: UUID, as_of: datetime
) -> dict[str, Any] | None:
    """One complaint as reporting knew it at ``as_of`` (personal data masked; ``已删除`` once
    the complainant is erased, whatever ``as_of``: the key is gone now), with its state, its
    service levels and its open SLA alerts; ``None`` if not recorded by then."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        found = await store.complaint(conn, complaint_id, as_of)
    if found is None:
        return None
    opened = await vault.open_one(conn, orjson.loads(found.pop("personal")))
    state = found.pop("state")
    alerts = found.pop("alerts")
    levels = service_levels(
        ServiceLevelFacts(
            acknowledged=state["acknowledged_at"] is not None,
            first_response_breached=state["first_response_breached"],
            replied=state["replied_at"] is not None,
            reply_breached=state["reply_breached"],
            reply_hard_breached=state["reply_hard_breached"],
        )
    )
    # Reporting masks every complainant, whoever reads (analysts read it).
    found["complainant"] = masked_complainant(opened.complainant())
    found["description"], found["demand"] = opened.description, opened.demand
    return {**found, "as_of": as_of, "state": _complaint_state(found, state, alerts, levels)}


def _complaint_state(
    found: Mapping[str, Any],
    state: Mapping[str, Any],
    alerts: list[dict[str, Any]],
    levels: ComplaintLevels,
) -> dict[str, Any]:
    """A complaint's state as ``GET /v1/complaints/{id}`` shows it: where it stands, when each
    step was taken, its service levels and its open alerts."""
    return {
        "status": state["status"],
        "status_label": status_label(state["status"]),
        "open": state["status"] not in ("closed", "withdrawn", "merged"),
        **{
            key: state[key]
            for key in (
                "validity",
                "category",
                "major",
                "major_rule",
                "priority",
                "received_office",
                "rejudged",
                "resolved_on_the_spot",
                "suspended",
                "close_outcome",
                "merged_into",
                "revisit_satisfied",
                "events",
            )
        },
        "steps": {
            "received_at": found["occurred_at"],
            **{
                key: state[key]
                for key in (
                    "acknowledged_at",
                    "judged_at",
                    "assigned_at",
                    "implemented_at",
                    "replied_at",
                    "answered_at",
                    "revisited_at",
                    "ended_at",
                    "major_at",
                )
            },
        },
        "service_levels": {
            "first_response_within_30min": levels.first_response_within_30min,
            "replied_within_1_day": levels.replied_within_1_day,
            "replied_within_3_days": levels.replied_within_3_days,
            "overdue": any(a["overdue"] for a in alerts),
        },
        "alerts": [
            {**a, "timer_label": timer_label(a["timer"]), "kind": _alert_kind(a)} for a in alerts
        ],
    }


def _alert_kind(alert: Mapping[str, Any]) -> str:
    if not alert["overdue"]:
        return "due_soon"
    return "hard_breached" if alert["hard"] else "overdue"


async def known_offices(
    conn: asyncpg.Connection, offices: Sequence[str], as_of: datetime
) -> list[str]:
    """The offices a reader may pick: the company's list, then every office seen by T."""
    return list(dict.fromkeys([*offices, *await store.offices_seen(conn, as_of)]))


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
) -> tuple[int, list[dict[str, Any]]]:
    """How many the monthly report's count ``key`` counts, and one page of its complaints
    (``listed_complaints``), in one snapshot: for a count of complaints the same rows
    (``store.report_rows``, opened as the report opens them) and the same test
    (``monthly.figure_rows``) as the report's count; for a count of records
    (``monthly.RECORD_FIGURES``) the same quoted events (``store.quoted_events``) and the
    complaint of each record (``monthly.record_complaints``).
    ``KeyError`` for a key that names no count (``monthly.find_figure``)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if key in RECORD_FIGURES:
            ids = record_complaints(
                await period_quoted(conn, period_from, period_to, office, as_of),
                key,
                period_from=period_from,
                period_to=period_to,
                office=office,
            )
        else:
            ids = [
                row.complaint_id
                for row in figure_rows(
                    await period_rows(conn, period_from, period_to, office, as_of),
                    key,
                    period_from=period_from,
                    period_to=period_to,
                    office=office,
                )
            ]
        return len(ids), await listed_complaints(
            conn, ids[(page - 1) * page_size : page * page_size], as_of
        )


async def board_figure(
    conn: asyncpg.Connection,
    *,
    figure: BoardFigure,
    office: str | None,
    as_of: datetime,
    page: int,
    page_size: int,
    hotspot_days: int,
    hotspot_min: int,
) -> tuple[int, list[dict[str, Any]]]:
    """How many the dashboard's count ``figure`` counts, and one page of the complaints: the
    rows the dashboard counts (the same store reads, hot spots with the same window and
    minimum) that ``figure`` accepts (``BoardFigure.complaints``; timer alerts grouped per
    complaint as the dashboard groups them, each with ``timers``, its clocks' labels)."""
    today = day_start(as_of.astimezone(CHINA).date())
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        if figure.source == "open":
            rows = await store.open_complaints(conn, office=office, as_of=as_of)
        elif figure.source == "alerts":
            rows = await store.timer_alerts(conn, office=office, as_of=as_of)
        elif figure.source == "hot":
            rows = await store.hot_spots(
                conn,
                occurred_after=as_of - timedelta(days=hotspot_days),
                office=office,
                as_of=as_of,
                min_count=hotspot_min,
            )
        else:
            rows = await store.intake_complaints(
                conn,
                occurred_from=today,
                occurred_before=today + timedelta(days=1),
                office=office,
                as_of=as_of,
            )
        ids = figure.complaints(rows)
        found = await listed_complaints(conn, ids[(page - 1) * page_size : page * page_size], as_of)
    if figure.source == "alerts":  # each complaint once, with the clocks that put it there
        clocks = {
            row["complaint_id"]: tuple(timer_label(c["timer"]) for c in row["clocks"])
            for row in figure.rows(rows)
        }
        found = [{**row, "timers": clocks[row["complaint_id"]]} for row in found]
    return len(ids), found


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

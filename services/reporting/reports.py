"""Reporting's use cases: the monthly report and the dashboard as of an instant.

Each function reads the store inside one transaction (one consistent snapshot of the
projection) and hands the rows to the pure builders (``monthly.build_monthly_report``,
``dashboard.build_dashboard``). The HTTP layer only parses parameters and picks a format.

Times: a period is whole days in China Standard Time, counted by when a complaint occurred
(投诉时间, ``occurred_at``); "as of T" keeps what the platform had recorded by T
(``recorded_at <= T``). A naive ``as_of`` is read as China Standard Time.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts.enums import Channel, ServiceCategory, Validity
from services.reporting import store
from services.reporting.dashboard import Dashboard, build_dashboard
from services.reporting.domain import ServiceLevelFacts, service_levels, status_label, timer_label
from services.reporting.monthly import (
    REPORT_TIMEZONE,
    MonthlyReport,
    ReportRow,
    build_monthly_report,
)


def instant(as_of: datetime | None, now: datetime) -> datetime:
    """The instant a question is asked about: ``as_of`` (naive → China time), else ``now``."""
    if as_of is None:
        return now
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        return as_of.replace(tzinfo=REPORT_TIMEZONE)
    return as_of


def month_of(at: datetime) -> tuple[date, date]:
    """The first and last day of the month (China time) that ``at`` falls in."""
    day = at.astimezone(REPORT_TIMEZONE).date()
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in China Standard Time."""
    return datetime.combine(day, time.min, REPORT_TIMEZONE)


def report_row(row: Mapping[str, Any]) -> ReportRow:
    """One complaint of the store as the monthly report needs it.

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
    # model_construct: every value comes from the projection's own columns, already typed;
    # validating 40,000 of them again was a third of a company-wide report's time.
    return ReportRow.model_construct(
        complaint_id=row["complaint_id"],
        office=row["office"],
        channel=Channel(row["channel"]),
        validity=Validity(row["validity"]) if row["validity"] is not None else None,
        category=ServiceCategory(row["category"]) if row["category"] is not None else None,
        received_at=row["occurred_at"],
        first_response_within_30min=levels.first_response_within_30min,
        replied_within_1_day=levels.replied_within_1_day,
        replied_within_3_days=levels.replied_within_3_days,
        overdue=row["overdue"],
        revisit_satisfied=row["revisit_satisfied"],
        subject=row["subject"],
        description=row["description"],
    )


async def monthly_report(
    conn: asyncpg.Connection,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    as_of: datetime,
    offices: Sequence[str],
) -> MonthlyReport:
    """The monthly report of ``period_from``–``period_to`` as the log stood at ``as_of``.

    ``offices`` is the company's office list (configuration); offices seen in the data by
    ``as_of`` follow it, so an office that had no complaint in the period is still named.
    The report's ``generated_at`` is ``as_of``: the same question gets the same answer.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        records = await store.report_rows(
            conn,
            occurred_from=day_start(period_from),
            occurred_before=day_start(period_to + timedelta(days=1)),
            office=office,
            as_of=as_of,
        )
        seen = await store.offices_seen(conn, as_of)
    return build_monthly_report(
        [report_row(r) for r in records],
        period_from=period_from,
        period_to=period_to,
        office=office,
        offices=list(dict.fromkeys([*offices, *seen])),
        generated_at=as_of,
    )


async def dashboard(
    conn: asyncpg.Connection,
    *,
    office: str | None,
    as_of: datetime,
    hotspot_days: int,
    hotspot_min: int,
) -> Dashboard:
    """The dashboard as the log stood at ``as_of``, for ``office`` or the whole company."""
    today = day_start(as_of.astimezone(REPORT_TIMEZONE).date())
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
    """One complaint as reporting knew it at ``as_of`` (personal data masked), with its state,
    its service levels and its open SLA alerts; ``None`` if not recorded by then."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        found = await store.complaint(conn, complaint_id, as_of)
    if found is None:
        return None
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
    found["complainant"] = {
        "name": found.pop("complainant_name"),
        "phone": found.pop("complainant_phone"),
    }
    return {
        **found,
        "as_of": as_of,
        "state": {
            "status": state["status"],
            "status_label": status_label(state["status"]),
            "open": state["status"] not in ("closed", "withdrawn", "merged"),
            "validity": state["validity"],
            "category": state["category"],
            "major": state["major"],
            "major_rule": state["major_rule"],
            "revisit_satisfied": state["revisit_satisfied"],
            "events": state["events"],
            "steps": {
                "received_at": found["occurred_at"],
                "acknowledged_at": state["acknowledged_at"],
                "judged_at": state["judged_at"],
                "assigned_at": state["assigned_at"],
                "implemented_at": state["implemented_at"],
                "replied_at": state["replied_at"],
                "answered_at": state["answered_at"],
                "revisited_at": state["revisited_at"],
                "ended_at": state["ended_at"],
                "major_at": state["major_at"],
            },
            "service_levels": {
                "first_response_within_30min": levels.first_response_within_30min,
                "replied_within_1_day": levels.replied_within_1_day,
                "replied_within_3_days": levels.replied_within_3_days,
                "overdue": any(a["overdue"] for a in alerts),
            },
            "alerts": [
                {**a, "timer_label": timer_label(a["timer"]), "kind": _alert_kind(a)}
                for a in alerts
            ],
        },
    }


def _alert_kind(alert: Mapping[str, Any]) -> str:
    if not alert["overdue"]:
        return "due_soon"
    return "hard_breached" if alert["hard"] else "overdue"

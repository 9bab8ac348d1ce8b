"""The dashboard as of an instant, and the complaints behind one of its figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from contracts.timezone import CHINA
from services.reporting import store
from services.reporting.dashboard import BoardFigure, Dashboard, build_dashboard
from services.reporting.domain import timer_label
from services.reporting.reports.periods import day_start
from services.reporting.reports.rows import listed_complaints


async def dashboard(
    conn: asyncpg.Connection,
    *,
    office: str | None,
    as_of: datetime,
    hotspot_days: int,
    hotspot_min: int,
    current: bool = False,
) -> Dashboard:
    """The dashboard as the log stood at ``as_of``, for ``office`` or the whole company;
    ``current``: its open complaints as every event applied has them (``complaint_current``),
    not folded as of ``as_of``."""
    today = day_start(as_of.astimezone(CHINA).date())
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        current = current and await store.kept_current(conn)
        open_rows = await store.open_complaints(conn, office=office, as_of=as_of, current=current)
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
    current: bool = False,
) -> tuple[int, list[dict[str, Any]]]:
    """How many the dashboard's count ``figure`` counts, and one page of the complaints: the
    rows the dashboard counts (the same store reads, hot spots with the same window and
    minimum) that ``figure`` accepts (``BoardFigure.complaints``; timer alerts grouped per
    complaint as the dashboard groups them, each with ``timers``, its clocks' labels).
    ``current``: as ``dashboard``'s."""
    today = day_start(as_of.astimezone(CHINA).date())
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        current = current and await store.kept_current(conn)
        if figure.source == "open":
            rows = await store.open_complaints(conn, office=office, as_of=as_of, current=current)
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

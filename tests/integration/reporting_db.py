"""A database with reporting's projection installed as the service installs it."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services import reporting
from services.runtime import vault
from services.runtime.generations import Generations
from services.runtime.store import consumer_tables_sql

HERE = Path(reporting.__file__).parent


async def install_reporting(url: str) -> str:
    """Make generation 1 of reporting's projection live in the database at ``url`` (its
    tables, the stable views and functions over them); the generation's schema."""
    generations = Generations(
        schema="reporting",
        version="test",
        tables=[HERE / "schema.sql"],
        functions=[HERE / "functions.sql"],
    )
    conn = await asyncpg.connect(url)
    try:
        await vault.migrate(conn)  # reads open personal data through it, as the service's do
        async with conn.transaction():
            live = await generations.prepare(conn, consumer_tables_sql)
    finally:
        await conn.close()
    return generations.schema_of(live.gen)


async def assert_current_is_the_fold(conn: asyncpg.Connection) -> None:
    """``complaint_current`` holds each complaint exactly as ``complaint_states`` and
    ``timer_alerts`` fold it from every event (nothing more, nothing less)."""
    folded = """SELECT s.*, coalesce(a.overdue, false) AS overdue
                 FROM reporting.complaint_states('infinity') s
                 LEFT JOIN LATERAL (
                     SELECT bool_or(t.overdue) AS overdue
                     FROM reporting.timer_alerts('infinity') t
                     WHERE t.complaint_id = s.complaint_id) a ON true"""
    kept = "SELECT * FROM reporting.complaint_current"
    assert await conn.fetch(f"({kept}) EXCEPT ({folded})") == []
    assert await conn.fetch(f"({folded}) EXCEPT ({kept})") == []
    await assert_counts_are_current(conn)


async def assert_counts_are_current(conn: asyncpg.Connection) -> None:
    """``current_counts`` holds, for each month (China time) and every combination of the
    columns a report counts, how many complaints of ``complaint_current`` have it (no more, no
    fewer; a combination none has now is absent or 0)."""
    counted = await conn.fetch("SELECT * FROM reporting.current_counts WHERE n > 0")
    grouped = await conn.fetch(
        """SELECT date_trunc('month', occurred_at AT TIME ZONE 'Asia/Shanghai')::date AS month,
                  office, channel, validity, category, acknowledged_at IS NOT NULL AS acknowledged,
                  replied_at IS NOT NULL AS replied, first_response_breached, reply_breached,
                  reply_hard_breached, revisit_satisfied, overdue, status, priority, major,
                  resolved_on_the_spot, suspended, rejudged, close_outcome, count(*) AS n
           FROM reporting.complaint_current
           GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19"""
    )
    assert sorted(map(tuple, counted), key=repr) == sorted(map(tuple, grouped), key=repr)

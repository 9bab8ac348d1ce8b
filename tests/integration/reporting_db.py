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

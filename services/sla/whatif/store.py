"""The scratch schema of a what-if: made, leased, read and dropped — its SQL, all of it.

A session advisory lock on the scratch schema's name is held while a what-if uses it (a lease,
as the builder's): the schema of a what-if whose process died (SIGKILL, a lost connection) has
a free lock, and the next what-if drops it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

import asyncpg

from contracts import EventData, decode_event
from contracts.sla import AlertKind
from services.runtime.store import consumer_tables_sql, lock, try_lock, unlock
from services.sla.whatif.judging import Alert
from services.sla.whatif.projection import PUBLISHED_SQL

log = logging.getLogger(__name__)

SCHEMA_SQL = Path(__file__).parents[1] / "schema.sql"
SCRATCH_PREFIX = "sla_whatif_"


@dataclass(frozen=True)
class Replayed:
    """What the scratch projection held, read before it was dropped."""

    complaints: list[tuple[UUID, str, datetime, list[tuple[EventData, datetime]]]]
    published: dict[UUID, list[tuple[Alert, datetime]]]
    events: int
    dead_letters: int
    read_at: datetime


@asynccontextmanager
async def leased(lease: asyncpg.Connection, scratch: str) -> AsyncIterator[None]:
    """Hold the lease of ``scratch`` on ``lease`` meanwhile; drop the schema afterwards,
    whatever happens."""
    await lock(lease, scratch)
    try:
        yield
    finally:
        await lease.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
        await unlock(lease, scratch)


async def drop_abandoned(lease: asyncpg.Connection) -> None:
    """Drop the scratch schemas nobody holds the lease of (their what-if died)."""
    rows = await lease.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
        SCRATCH_PREFIX.replace("_", "\\_") + "%",
    )
    for row in rows:
        name = row["nspname"]
        if not await try_lock(lease, name):
            continue  # a what-if is running in it
        try:
            log.warning("dropping %s, left by a what-if that did not finish", name)
            await lease.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await unlock(lease, name)


async def create_scratch(conn: asyncpg.Connection, scratch: str) -> None:
    """The scratch schema with the consumer's bookkeeping, SLA's tables and the published
    alerts, in the caller's transaction."""
    await conn.execute(consumer_tables_sql(scratch))  # creates the schema too
    await conn.execute(f"SET LOCAL search_path TO {scratch}")
    await conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
    await conn.execute(PUBLISHED_SQL)


async def read_scratch(
    conn: asyncpg.Connection, scratch: str, events: int, read_at: datetime
) -> Replayed:
    """Every complaint the scratch projection followed, with its history; the alerts
    published for them; how many records were dead-lettered."""
    rows = await conn.fetch(
        f"""SELECT c.complaint_id, c.office, c.occurred_at, h.envelope
            FROM {scratch}.complaints c JOIN {scratch}.history h USING (complaint_id)
            ORDER BY c.occurred_at, c.complaint_id, h.seq"""
    )
    complaints: dict[UUID, tuple[UUID, str, datetime, list[tuple[EventData, datetime]]]] = {}
    for row in rows:
        cid = row["complaint_id"]
        entry = complaints.setdefault(cid, (cid, row["office"], row["occurred_at"], []))
        envelope, data = decode_event(row["envelope"])
        entry[3].append((data, envelope.occurred_at))
    published: dict[UUID, list[tuple[Alert, datetime]]] = defaultdict(list)
    for row in await conn.fetch(
        f"SELECT complaint_id, timer, kind, due_at FROM {scratch}.published_alerts"
    ):
        published[row["complaint_id"]].append(
            ((row["timer"], AlertKind(row["kind"])), row["due_at"])
        )
    dead = await conn.fetchval(f"SELECT count(*) FROM {scratch}.dead_letters")
    return Replayed(list(complaints.values()), dict(published), events, int(dead), read_at)

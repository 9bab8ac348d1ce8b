"""SQL of the workflow schema (parameters always)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, decode_event
from services.workflow.domain import State, replay

SCHEMA = "workflow"


async def insert_complaint(
    conn: asyncpg.Connection, envelope: Envelope, data: ComplaintReceived
) -> bool:
    """Create a complaint's row from its ``ComplaintReceived``; ``False`` if it exists."""
    inserted = await conn.fetchval(
        """INSERT INTO complaints
             (complaint_id, office, unit, channel, owner_phone, occurred_at, status,
              escalation_level, version)
           VALUES ($1, $2, $3, $4, $5, $6, 'new', 'staff', 0)
           ON CONFLICT (complaint_id) DO NOTHING
           RETURNING true""",
        envelope.complaint_id,
        data.office,
        data.unit,
        data.channel.value,
        data.complainant.phone,
        data.occurred_at,
    )
    return bool(inserted)


async def lock_complaint(conn: asyncpg.Connection, complaint_id: UUID) -> asyncpg.Record | None:
    """The complaint's row, locked until the transaction ends (commands on it queue up)."""
    return await conn.fetchrow(
        "SELECT * FROM complaints WHERE complaint_id = $1 FOR UPDATE", complaint_id
    )


async def history(conn: asyncpg.Connection, complaint_id: UUID) -> list[str]:
    """Every event of a complaint as stored (envelope JSON), oldest first."""
    rows = await conn.fetch(
        "SELECT envelope FROM history WHERE complaint_id = $1 ORDER BY seq",
        complaint_id,
    )
    return [r["envelope"] for r in rows]


async def load_state(conn: asyncpg.Connection, complaint_id: UUID) -> State:
    """The complaint's state folded from its history."""
    return replay(decode_event(raw)[1] for raw in await history(conn, complaint_id))


async def has_event(conn: asyncpg.Connection, event_id: UUID) -> bool:
    """Whether the history already holds this event."""
    return bool(await conn.fetchval("SELECT true FROM history WHERE event_id = $1", event_id))


async def add_history(conn: asyncpg.Connection, envelope: Envelope, seq: int) -> None:
    """Append one event to the complaint's history at position ``seq``."""
    await conn.execute(
        """INSERT INTO history (complaint_id, seq, event_id, type, envelope)
           VALUES ($1, $2, $3, $4, $5::jsonb)""",
        envelope.complaint_id,
        seq,
        envelope.event_id,
        envelope.type,
        envelope.model_dump_json(),
    )


async def save_summary(
    conn: asyncpg.Connection,
    complaint_id: UUID,
    state: State,
    next_deadline: tuple[str, datetime] | None,
) -> None:
    """Write the columns staff list and filter by."""
    kind, at = next_deadline if next_deadline else (None, None)
    await conn.execute(
        """UPDATE complaints
           SET status = $2, major = $3, escalation_level = $4, version = $5,
               next_deadline = $6, next_deadline_kind = $7, updated_at = now()
           WHERE complaint_id = $1""",
        complaint_id,
        state.status.value,
        state.major,
        state.escalation_level.value,
        state.version,
        at,
        kind,
    )


async def prior_complaints(
    conn: asyncpg.Connection, received: ComplaintReceived, complaint_id: UUID, window: timedelta
) -> list[tuple[datetime, str, str, str]]:
    """Other complaints of the same owner or unit within ``window`` of this one."""
    rows = await conn.fetch(
        """SELECT occurred_at, owner_phone, unit, office FROM complaints
           WHERE complaint_id <> $1
             AND (owner_phone = $2 OR (office = $3 AND unit = $4))
             AND occurred_at BETWEEN $5 AND $6""",
        complaint_id,
        received.complainant.phone,
        received.office,
        received.unit,
        received.occurred_at - window,
        received.occurred_at + window,
    )
    return [(r["occurred_at"], r["owner_phone"], r["unit"], r["office"]) for r in rows]


async def summary(conn: asyncpg.Connection, complaint_id: UUID) -> dict[str, Any] | None:
    """The complaint's row as a dict, or ``None``."""
    row = await conn.fetchrow("SELECT * FROM complaints WHERE complaint_id = $1", complaint_id)
    return dict(row) if row else None

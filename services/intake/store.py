"""Intake's SQL: the caller directory, the rejected submissions, and record decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts import Channel, Envelope
from contracts.submissions import RecordRef, SubmissionRejected
from services.intake.adapters import Caller

PROJECTION_TABLES = ["callers", "rejected_submissions"]
"""Tables rebuilt from the log when ``schema.sql`` changes (the decisions are kept)."""


async def find_caller(conn: asyncpg.Connection, phone: str) -> Caller | None:
    """The directory's entry for a phone number, if any complaint was made from it."""
    row = await conn.fetchrow("SELECT name, office, unit FROM callers WHERE phone = $1", phone)
    return Caller(name=row["name"], office=row["office"], unit=row["unit"]) if row else None


async def remember_caller(
    conn: asyncpg.Connection, phone: str, caller: Caller, seen_at: datetime, complaint_id: UUID
) -> None:
    """Record who called from ``phone``; the latest complaint (by its time) wins.

    Two complaints of one number at the same instant are told apart by their ids: the
    complaints of one number may sit in different partitions, read in another interleaving
    by a rebuild, and the directory must come out the same whatever the order.
    """
    await remember_callers(conn, [(phone, caller, seen_at, complaint_id)])


async def remember_callers(
    conn: asyncpg.Connection, seen: Sequence[tuple[str, Caller, datetime, UUID]]
) -> None:
    """``remember_caller`` for many complaints with one statement: the latest of each number
    in ``seen`` (by time, then id) is offered, and wins over the stored one only if later."""
    latest: dict[str, tuple[str, Caller, datetime, UUID]] = {}
    for entry in seen:
        phone, _, at, cid = entry
        held = latest.get(phone)
        if held is None or (held[2], held[3]) <= (at, cid):
            latest[phone] = entry
    if not latest:
        return
    rows = list(latest.values())
    await conn.execute(
        """INSERT INTO callers (phone, name, office, unit, last_seen_at, complaint_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                $5::timestamptz[], $6::uuid[])
           ON CONFLICT (phone) DO UPDATE
           SET name = EXCLUDED.name, office = EXCLUDED.office, unit = EXCLUDED.unit,
               last_seen_at = EXCLUDED.last_seen_at, complaint_id = EXCLUDED.complaint_id
           WHERE (callers.last_seen_at, callers.complaint_id)
                 <= (EXCLUDED.last_seen_at, EXCLUDED.complaint_id)""",
        [r[0] for r in rows],
        [r[1].name for r in rows],
        [r[1].office for r in rows],
        [r[1].unit for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
    )


async def add_rejection(
    conn: asyncpg.Connection, envelope: Envelope, data: SubmissionRejected
) -> None:
    """Add a rejection to the list (a second copy of the same event changes nothing)."""
    await conn.execute(
        """INSERT INTO rejected_submissions
             (rejection_id, channel, submission_id, format, reasons, topic, partition, "offset",
              submitted_at, rejected_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)
           ON CONFLICT (rejection_id) DO NOTHING""",
        envelope.event_id,
        data.channel.value if data.channel else None,
        data.submission_id,
        data.format,
        json.dumps([r.model_dump() for r in data.reasons], ensure_ascii=False),
        data.record.topic,
        data.record.partition,
        data.record.offset,
        envelope.occurred_at,
        envelope.recorded_at,
    )


async def rejections(
    conn: asyncpg.Connection,
    *,
    channel: Channel | None,
    since: datetime | None,
    limit: int,
) -> tuple[int, list[dict[str, Any]]]:
    """How many rejections match, and the newest ``limit`` of them."""
    where = "($1::text IS NULL OR channel = $1) AND ($2::timestamptz IS NULL OR rejected_at >= $2)"
    args = (channel.value if channel else None, since)
    total = await conn.fetchval(f"SELECT count(*) FROM rejected_submissions WHERE {where}", *args)
    rows = await conn.fetch(
        f"""SELECT rejection_id, channel, submission_id, format, reasons, topic, partition,
                   "offset", submitted_at, rejected_at
            FROM rejected_submissions WHERE {where}
            ORDER BY rejected_at DESC, rejection_id LIMIT $3""",
        *args,
        limit,
    )
    items = [
        {
            "rejection_id": str(r["rejection_id"]),
            "channel": r["channel"],
            "submission_id": r["submission_id"],
            "format": r["format"],
            "reasons": json.loads(r["reasons"]),
            "record": {"topic": r["topic"], "partition": r["partition"], "offset": r["offset"]},
            "submitted_at": r["submitted_at"].isoformat(),
            "rejected_at": r["rejected_at"].isoformat(),
        }
        for r in rows
    ]
    return int(total), items


async def decision_of(conn: asyncpg.Connection, ref: RecordRef) -> UUID | None:
    """The event a submissions-topic record already became, if it was decided before."""
    found: UUID | None = await conn.fetchval(
        """SELECT event_id FROM intake.submission_decisions
           WHERE topic = $1 AND partition = $2 AND "offset" = $3""",
        ref.topic,
        ref.partition,
        ref.offset,
    )
    return found


async def record_decision(
    conn: asyncpg.Connection, ref: RecordRef, event_id: UUID, *, accepted: bool
) -> None:
    """Remember what a record became (in the transaction that enqueued the event)."""
    await conn.execute(
        """INSERT INTO intake.submission_decisions (topic, partition, "offset", event_id, accepted)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        ref.topic,
        ref.partition,
        ref.offset,
        event_id,
        accepted,
    )

"""Intake's SQL: the caller directory, the rejected submissions, and record decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from contracts import Channel, Envelope
from contracts.submissions import RecordRef, SubmissionRejected
from services.intake.adapters import Caller
from services.runtime import vault

PROJECTION_TABLES = ["callers", "rejected_submissions"]
"""Tables rebuilt from the log when ``schema.sql`` changes (the decisions are kept)."""


async def find_caller(conn: asyncpg.Connection, pepper: bytes, phone: str) -> Caller | None:
    """The directory's entry for a phone number, if any complaint was made from it and the
    complainant is not erased (an erased complainant is forgotten: the agent asks again)."""
    try:
        ref = vault.complainant_ref(pepper, phone)
    except ValueError:
        return None  # not a valid number: the submission's own validation names it
    row = await conn.fetchrow(
        "SELECT personal, office, unit FROM callers WHERE complainant_ref = $1", ref
    )
    if row is None:
        return None
    opened = await vault.open_one(conn, orjson.loads(row["personal"]))
    if opened.erased:
        return None
    return Caller(name=opened.name, office=row["office"], unit=row["unit"])


Seen = tuple[dict[str, Any], str, str, datetime, UUID]
"""(personal as ``vault.personal_of`` keeps it, office, unit, complaint time, complaint id)."""


async def remember_callers(conn: asyncpg.Connection, seen: Sequence[Seen]) -> None:
    """Record who complained from each number, with one statement: the latest of each
    complainant in ``seen`` (by time, then id) is offered, and wins over the stored one only if
    later. Two complaints of one number at the same instant are told apart by their ids: the
    complaints of one number may sit in different partitions, read in another interleaving by
    a rebuild, and the directory must come out the same whatever the order."""
    latest: dict[str, Seen] = {}
    for entry in seen:
        ref, at, cid = entry[0]["ref"], entry[3], entry[4]
        held = latest.get(ref)
        if held is None or (held[3], held[4]) <= (at, cid):
            latest[ref] = entry
    if not latest:
        return
    rows = list(latest.values())
    await conn.execute(
        """INSERT INTO callers (complainant_ref, personal, office, unit, last_seen_at,
                                complaint_id)
           SELECT * FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::text[],
                                $5::timestamptz[], $6::uuid[])
           ON CONFLICT (complainant_ref) DO UPDATE
           SET personal = EXCLUDED.personal, office = EXCLUDED.office, unit = EXCLUDED.unit,
               last_seen_at = EXCLUDED.last_seen_at, complaint_id = EXCLUDED.complaint_id
           WHERE (callers.last_seen_at, callers.complaint_id)
                 <= (EXCLUDED.last_seen_at, EXCLUDED.complaint_id)""",
        [r[0]["ref"] for r in rows],
        # only the complainant: the directory has no use for the complaint's text
        [orjson.dumps({**r[0], "description": "", "demand": ""}).decode() for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [r[4] for r in rows],
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

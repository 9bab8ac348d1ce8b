"""The outbox: events decided in a transaction, published after it."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

DECIDING = "complaints.deciding"
"""The transaction-local setting a deciding transaction sets (``begin_deciding``)."""

_DECIDED = f"(coalesce(current_setting('{DECIDING}', true), '') = 'on')"


async def begin_deciding(conn: asyncpg.Connection, lock: str) -> None:
    """Share the writer lock named ``lock`` until the transaction ends (deciding transactions
    never wait for each other, only for the relay's exclusive hold), and mark the
    transaction deciding: the outbox rows it writes are ``decided``."""
    await conn.execute(
        f"SELECT pg_advisory_xact_lock_shared(hashtext($1)), set_config('{DECIDING}', 'on', true)",
        lock,
    )


def outbox_table_sql(schema: str) -> str:
    """DDL of the outbox in ``schema``. ``decided``: written by a transaction that took the
    writer lock before stamping its events (``outbox.deciding``), the events a watermark
    speaks of."""
    return f"""
    CREATE TABLE IF NOT EXISTS {schema}.outbox (
        seq          bigserial PRIMARY KEY,
        event_id     uuid NOT NULL UNIQUE,
        complaint_id uuid NOT NULL,
        topic        text NOT NULL,
        payload      bytea NOT NULL,
        headers      jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
    );
    ALTER TABLE {schema}.outbox
        ADD COLUMN IF NOT EXISTS decided boolean NOT NULL DEFAULT {_DECIDED};
    CREATE INDEX IF NOT EXISTS outbox_unpublished ON {schema}.outbox (seq)
        WHERE published_at IS NULL;
    """


async def in_outbox(conn: asyncpg.Connection, schema: str, event_ids: Sequence[UUID]) -> set[UUID]:
    """Which of these events ``schema``'s outbox holds already (decided before)."""
    if not event_ids:
        return set()
    rows = await conn.fetch(
        f"SELECT event_id FROM {schema}.outbox WHERE event_id = ANY($1::uuid[])", event_ids
    )
    return {r["event_id"] for r in rows}


async def insert_outbox(
    conn: asyncpg.Connection,
    schema: str,
    topic: str,
    *,
    event_ids: Sequence[UUID],
    complaint_ids: Sequence[UUID],
    payloads: Sequence[bytes],
    headers: Sequence[str],
) -> set[UUID]:
    """Add events to ``schema``'s outbox in their order, with one statement; the ids of those
    written (an id already there, decided before, is skipped)."""
    rows = await conn.fetch(
        f"""INSERT INTO {schema}.outbox (event_id, complaint_id, topic, payload, headers)
            SELECT e.event_id, e.complaint_id, $3, e.payload, e.headers::jsonb
            FROM unnest($1::uuid[], $2::uuid[], $4::bytea[], $5::text[])
                 WITH ORDINALITY AS e(event_id, complaint_id, payload, headers, n)
            ORDER BY e.n
            ON CONFLICT (event_id) DO NOTHING
            RETURNING event_id""",
        event_ids,
        complaint_ids,
        topic,
        payloads,
        headers,
    )
    return {r["event_id"] for r in rows}


async def unpublished(conn: asyncpg.Connection, schema: str, limit: int) -> list[asyncpg.Record]:
    """Up to ``limit`` events not yet published, in decision order."""
    rows: list[asyncpg.Record] = await conn.fetch(
        f"""SELECT seq, event_id, complaint_id, topic, payload, headers, decided
            FROM {schema}.outbox WHERE published_at IS NULL
            ORDER BY seq LIMIT $1""",
        limit,
    )
    return rows


async def outbox_backlog(conn: asyncpg.Connection, schema: str, *, topic: str | None = None) -> int:
    """How many events the outbox holds not yet published (for ``topic`` only, if given)."""
    return int(
        await conn.fetchval(
            f"SELECT count(*) FROM {schema}.outbox "
            "WHERE published_at IS NULL AND ($1::text IS NULL OR topic = $1)",
            topic,
        )
    )


async def mark_published(conn: asyncpg.Connection, schema: str, seqs: Sequence[int]) -> None:
    """Mark the outbox rows ``seqs`` published (the broker acknowledged them)."""
    await conn.execute(
        f"UPDATE {schema}.outbox SET published_at = now() WHERE seq = ANY($1)", list(seqs)
    )

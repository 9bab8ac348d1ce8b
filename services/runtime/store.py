"""The runtime's own tables, and every statement on them: one owner.

A consuming service keeps, beside its projections, the bookkeeping of its consumers — the
stored offsets (with each partition's time watermark), the processed event ids, the dead
letters — and its outbox. The consumer, the outbox relay, the builder, the monitor, the
service and the CLI read and write these tables only through the functions here, each taking
the connection (so the caller's transaction) and the schema the tables are in: the service's
own, or a projection generation's (``services.runtime.generations``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def checked(schema: str) -> str:
    """``schema``, if it is a plain lower-case identifier (it is interpolated into SQL)."""
    if not _IDENT.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return schema


# -- consumer bookkeeping: stored offsets, processed events, dead letters -------------------


def consumer_tables_sql(schema: str) -> str:
    """DDL of the bookkeeping tables a consumer keeps in its service's schema."""
    checked(schema)
    return f"""
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {schema}.consumer_offsets (
        consumer    text    NOT NULL,
        topic       text    NOT NULL,
        partition   integer NOT NULL,
        next_offset bigint  NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, topic, partition)
    );
    -- the latest recorded_at applied from the partition: how far in time it has been read
    ALTER TABLE {schema}.consumer_offsets ADD COLUMN IF NOT EXISTS watermark timestamptz;
    CREATE TABLE IF NOT EXISTS {schema}.processed_events (
        consumer text NOT NULL,
        event_id uuid NOT NULL,
        PRIMARY KEY (consumer, event_id)
    );
    CREATE TABLE IF NOT EXISTS {schema}.dead_letters (
        consumer    text NOT NULL,
        topic       text NOT NULL,
        partition   integer NOT NULL,
        "offset"    bigint NOT NULL,
        error       text NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, topic, partition, "offset")
    );
    """


async def stored_offsets(
    conn: asyncpg.Connection, schema: str, consumer: str, topic: str
) -> dict[int, int]:
    """Partition → next offset to apply, as ``consumer`` stored it with its rows."""
    rows = await conn.fetch(
        f"SELECT partition, next_offset FROM {schema}.consumer_offsets "
        "WHERE consumer = $1 AND topic = $2",
        consumer,
        topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}


async def stored_positions(
    conn: asyncpg.Connection, schema: str, consumer: str, topic: str
) -> dict[int, asyncpg.Record]:
    """Partition → its stored row (``next_offset`` and ``watermark``: the latest
    ``recorded_at`` applied from it)."""
    rows = await conn.fetch(
        "SELECT partition, next_offset, watermark "
        f"FROM {schema}.consumer_offsets WHERE consumer = $1 AND topic = $2",
        consumer,
        topic,
    )
    return {r["partition"]: r for r in rows}


async def store_offsets(
    conn: asyncpg.Connection,
    schema: str,
    consumer: str,
    topic: str,
    next_offsets: Mapping[int, int],
    watermarks: Mapping[int, datetime],
) -> None:
    """Store each partition's next offset and watermark, never moving either back (a copy
    that lost the partition may still finish an older batch)."""
    await conn.executemany(
        f"""INSERT INTO {schema}.consumer_offsets AS o
                (consumer, topic, partition, next_offset, watermark)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (consumer, topic, partition) DO UPDATE
            SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset),
                watermark = GREATEST(o.watermark, EXCLUDED.watermark),
                updated_at = now()""",
        [(consumer, topic, p, o, watermarks.get(p)) for p, o in next_offsets.items()],
    )


async def claim(
    conn: asyncpg.Connection, schema: str, consumer: str, event_ids: Sequence[UUID]
) -> set[UUID]:
    """Mark ``event_ids`` processed by ``consumer`` with one statement; the ones not marked
    before (each once, even when the batch holds it twice)."""
    rows = await conn.fetch(
        f"INSERT INTO {schema}.processed_events (consumer, event_id) "
        "SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        event_ids,
    )
    return {r["event_id"] for r in rows}


async def unclaim(conn: asyncpg.Connection, schema: str, consumer: str, event_id: UUID) -> None:
    """Forget that ``consumer`` processed ``event_id`` (it was dead-lettered after all:
    replaying the dead letter after a fix must apply it)."""
    await conn.execute(
        f"DELETE FROM {schema}.processed_events WHERE consumer = $1 AND event_id = $2",
        consumer,
        event_id,
    )


async def mark_applied(conn: asyncpg.Connection, consumer: str, event_id: UUID) -> None:
    """Record, in the caller's transaction, that ``consumer`` has applied ``event_id``.

    For a service that applies an event it decided itself before publishing it (through its
    outbox): when the event comes back from the log, the consumer skips it. The caller's
    transaction writes a generation (``ConsumingService.write``): the mark goes to that
    generation's ``processed_events``, found through the ``search_path``.
    """
    await conn.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        consumer,
        event_id,
    )


async def mark_applied_many(
    conn: asyncpg.Connection, consumer: str, event_ids: Sequence[UUID]
) -> None:
    """``mark_applied`` for many events, with one statement."""
    if event_ids:
        await conn.execute(
            "INSERT INTO processed_events (consumer, event_id) "
            "SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING",
            consumer,
            event_ids,
        )


async def group_offsets(
    conn: asyncpg.Connection, schema: str, consumer: str, topic: str
) -> dict[int, tuple[int, datetime]]:
    """Partition → (next offset, when stored) of ``consumer``, wherever its offsets are: a
    durable consumer's in the service's schema, a projection's in its live generation."""
    rows = await conn.fetch(
        f"""SELECT partition, next_offset, updated_at FROM {schema}.consumer_offsets
            WHERE consumer = $1 AND topic = $2
            UNION ALL
            SELECT partition, next_offset, updated_at
            FROM {schema}.live_consumer_offsets
            WHERE consumer = $1 AND topic = $2""",
        consumer,
        topic,
    )
    return {r["partition"]: (r["next_offset"], r["updated_at"]) for r in rows}


async def group_applied(
    conn: asyncpg.Connection, schema: str, consumer: str, event_id: UUID | str
) -> bool:
    """Whether ``consumer`` (durable, or a projection's live generation) applied ``event_id``."""
    return bool(
        await conn.fetchval(
            f"""SELECT true FROM {schema}.processed_events
                WHERE consumer = $1 AND event_id = $2
                UNION ALL
                SELECT true FROM {schema}.live_processed_events
                WHERE consumer = $1 AND event_id = $2""",
            consumer,
            event_id,
        )
    )


async def dead_letters_recorded(conn: asyncpg.Connection, schema: str, consumer: str) -> int:
    """How many dead letters ``consumer`` has recorded."""
    return int(
        await conn.fetchval(
            f"SELECT count(*) FROM {schema}.dead_letters WHERE consumer = $1", consumer
        )
    )


async def forget_consumers(conn: asyncpg.Connection, schema: str, consumers: Sequence[str]) -> None:
    """Drop ``consumers``' offsets, processed ids and dead letters from ``schema`` (an earlier
    release kept a projection's there; its tables are gone)."""
    for table in ("consumer_offsets", "processed_events", "dead_letters"):
        await conn.execute(
            f"DELETE FROM {schema}.{table} WHERE consumer = ANY($1::text[])", list(consumers)
        )


async def record_dead_letter(
    conn: asyncpg.Connection,
    schema: str,
    consumer: str,
    topic: str,
    partition: int,
    offset: int,
    error: str,
) -> None:
    """Record a dead letter for operators (once per record)."""
    await conn.execute(
        f"""INSERT INTO {schema}.dead_letters (consumer, topic, partition, "offset", error)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        consumer,
        topic,
        partition,
        offset,
        error,
    )


async def set_local_search_path(conn: asyncpg.Connection, *schemas: str) -> None:
    """Resolve unqualified names in ``schemas`` until the transaction ends."""
    await conn.execute(f"SET LOCAL search_path TO {', '.join(checked(s) for s in schemas)}")


async def reset_local_search_path(conn: asyncpg.Connection) -> None:
    """Resolve unqualified names as the connection does by default, until the transaction
    ends."""
    await conn.execute("SET LOCAL search_path TO DEFAULT")


# -- the outbox ----------------------------------------------------------------------------


def outbox_table_sql(schema: str) -> str:
    """DDL of the outbox in ``schema``."""
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
        f"""SELECT seq, event_id, complaint_id, topic, payload, headers
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


# -- locks and probes ----------------------------------------------------------------------


async def try_lock(conn: asyncpg.Connection, key: str) -> bool:
    """Take the session advisory lock named ``key`` if it is free (held until ``unlock`` or
    the connection ends): one leader among copies."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key))


async def unlock(conn: asyncpg.Connection, key: str) -> None:
    """Release the session advisory lock named ``key``."""
    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)


async def lock_for_transaction(conn: asyncpg.Connection, key: str) -> None:
    """Wait for the advisory lock named ``key``, held until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)


async def ping(conn: asyncpg.Connection) -> bool:
    """Whether the connection still answers (a lost one raises)."""
    return bool(await conn.fetchval("SELECT true"))


async def run_script(conn: asyncpg.Connection, sql: str) -> None:
    """Run DDL statements (a migration file, a table's definition)."""
    await conn.execute(sql)


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    """Whether the table ``schema.table`` named ``name`` exists."""
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))

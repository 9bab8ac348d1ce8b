"""Consumer bookkeeping: stored offsets (with each partition's time watermark), processed
event ids, dead letters; and the transaction's search path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from services.runtime.store.names import checked


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


def _store_offsets_sql(schema: str) -> str:
    """Upsert ``$1`` (consumer), ``$2`` (topic) and the partitions, offsets and watermarks
    ``$3``–``$5`` (``_offset_columns``), never moving an offset or a watermark back (a copy
    that lost the partition may still finish an older batch)."""
    return f"""INSERT INTO {schema}.consumer_offsets AS o
                (consumer, topic, partition, next_offset, watermark)
            SELECT $1, $2, s.partition, s.next_offset, s.watermark
            FROM unnest($3::int[], $4::bigint[], $5::timestamptz[])
                AS s(partition, next_offset, watermark)
            ON CONFLICT (consumer, topic, partition) DO UPDATE
            SET next_offset = GREATEST(o.next_offset, EXCLUDED.next_offset),
                watermark = GREATEST(o.watermark, EXCLUDED.watermark),
                updated_at = now()"""


def _offset_columns(
    next_offsets: Mapping[int, int], watermarks: Mapping[int, datetime]
) -> tuple[list[int], list[int], list[datetime | None]]:
    """The partitions (in order: copies lock their rows in one order), their next offsets
    and their watermarks, as columns."""
    partitions = sorted(next_offsets)
    return (
        partitions,
        [next_offsets[p] for p in partitions],
        [watermarks.get(p) for p in partitions],
    )


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
    if next_offsets:
        await conn.execute(
            _store_offsets_sql(schema),
            consumer,
            topic,
            *_offset_columns(next_offsets, watermarks),
        )


async def claim(
    conn: asyncpg.Connection,
    schema: str,
    consumer: str,
    event_ids: Sequence[UUID],
    *,
    topic: str,
    next_offsets: Mapping[int, int],
    watermarks: Mapping[int, datetime],
) -> set[UUID]:
    """Mark ``event_ids`` processed by ``consumer``, and store where each partition of
    ``topic`` goes on from (as ``store_offsets``), with one statement: the ids not marked
    before (each once, even when the batch holds it twice).

    One round trip for both (each costs 1–3 ms on a busy machine): a batch's offsets are
    stored in its transaction, so storing them before its events are applied commits the
    same as storing them after."""
    rows = await conn.fetch(
        f"WITH stored AS ({_store_offsets_sql(schema)}) "
        f"INSERT INTO {schema}.processed_events (consumer, event_id) "
        "SELECT $1, unnest($6::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        topic,
        *_offset_columns(next_offsets, watermarks),
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


GENERIC_PLANS = "SET LOCAL plan_cache_mode TO force_generic_plan"
"""Plan the transaction's statements generically, whatever the connection's mode."""


async def set_local_search_path(
    conn: asyncpg.Connection, *schemas: str, plan_generic: bool = False
) -> None:
    """Resolve unqualified names in ``schemas`` until the transaction ends; ``plan_generic``:
    plan its statements generically too (``GENERIC_PLANS``), in the same round trip."""
    generic = f"; {GENERIC_PLANS}" if plan_generic else ""
    await conn.execute(
        f"SET LOCAL search_path TO {', '.join(checked(s) for s in schemas)}{generic}"
    )


async def reset_local_search_path(conn: asyncpg.Connection) -> None:
    """Resolve unqualified names as the connection does by default, until the transaction
    ends."""
    await conn.execute("SET LOCAL search_path TO DEFAULT")

"""The registry of projection generations and the stable names over the live one: every
statement (``services.runtime.generations`` decides when each runs).

``schema`` is always the service's own schema (checked: it is written into the statements);
a generation's schema is ``<schema>_g<N>``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from services.runtime.store.names import checked

ENTER_LIVE = "enter_live_v1"
"""The function a live writer's transaction enters the live generation with (``enter_live``).
Its body never changes under this name: a changed body takes a new name, so copies of the
older code go on calling theirs through a rolling upgrade, and no start replaces a function
another session is running."""


def registry_sql(schema: str) -> str:
    """DDL of the registry of generations and of its ``ENTER_LIVE`` function (durable: never
    dropped)."""
    checked(schema)
    return f"""
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {schema}.generations (
        gen          integer PRIMARY KEY,
        version      text NOT NULL,
        state        text NOT NULL
                     CHECK (state IN ('building', 'live', 'retired', 'failed')),
        reason       text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        started_at   timestamptz,
        swapped_at   timestamptz,
        finished_at  timestamptz,
        events_total bigint,
        events_done  bigint,
        rate         double precision,
        lag          bigint,
        builder      text,
        error        text,
        updated_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX IF NOT EXISTS generations_one_live
        ON {schema}.generations ((true)) WHERE state = 'live';
    CREATE UNIQUE INDEX IF NOT EXISTS generations_one_building
        ON {schema}.generations ((true)) WHERE state = 'building';
    DO $do$ BEGIN
        IF to_regprocedure('{schema}.{ENTER_LIVE}(text)') IS NULL THEN
            CREATE FUNCTION {schema}.{ENTER_LIVE}(lock_key text)
                RETURNS TABLE (gen integer, version text)
                LANGUAGE plpgsql VOLATILE
            AS $fn$
            DECLARE
                live record;
            BEGIN
                PERFORM pg_advisory_xact_lock_shared(hashtext(lock_key));
                -- A query of its own, so a snapshot of its own, taken once the lock is held
                -- (a VOLATILE function's every query takes one): after any swap committed.
                SELECT g.gen, g.version INTO live
                FROM {schema}.generations g WHERE g.state = 'live';
                IF FOUND THEN
                    PERFORM set_config('search_path', '{schema}_g' || live.gen || ', {schema}',
                                       true);
                    gen := live.gen;
                    version := live.version;
                    RETURN NEXT;
                END IF;
            END
            $fn$;
        END IF;
    EXCEPTION WHEN duplicate_function OR unique_violation THEN
        NULL;  -- another copy starting at the same instant made it
    END $do$;
    """


# -- the registry ------------------------------------------------------------------------


async def install_registry(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(registry_sql(schema))


async def all_rows(conn: asyncpg.Connection, schema: str) -> list[dict[str, Any]]:
    """Every generation's row, newest first."""
    rows = await conn.fetch(f"SELECT * FROM {checked(schema)}.generations ORDER BY gen DESC")
    return [dict(r) for r in rows]


async def row_in_state(conn: asyncpg.Connection, schema: str, state: str) -> dict[str, Any] | None:
    """The row of the generation in ``state`` (``live`` or ``building``: one at most)."""
    row = await conn.fetchrow(
        f"SELECT * FROM {checked(schema)}.generations WHERE state = $1", state
    )
    return dict(row) if row else None


async def row_of(conn: asyncpg.Connection, schema: str, gen: int) -> dict[str, Any]:
    row = await conn.fetchrow(f"SELECT * FROM {checked(schema)}.generations WHERE gen = $1", gen)
    assert row is not None, f"{schema}: no generation {gen}"
    return dict(row)


async def insert(
    conn: asyncpg.Connection, schema: str, version: str, state: str, reason: str
) -> int:
    """A new generation after the newest; its number."""
    gen: int = await conn.fetchval(
        f"""INSERT INTO {checked(schema)}.generations (gen, version, state, reason)
            SELECT coalesce(max(gen), 0) + 1, $1, $2, $3 FROM {schema}.generations
            RETURNING gen""",
        version,
        state,
        reason,
    )
    return gen


async def notify(conn: asyncpg.Connection, channel: str, payload: str) -> None:
    """Announce on ``channel`` (delivered when the caller's transaction commits)."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


async def mark_swapped_now(conn: asyncpg.Connection, schema: str, gen: int) -> None:
    await conn.execute(
        f"UPDATE {checked(schema)}.generations SET swapped_at = now() WHERE gen = $1", gen
    )


async def record_progress(
    conn: asyncpg.Connection,
    schema: str,
    gen: int,
    *,
    done: int,
    total: int,
    rate: float,
    lag: int,
    builder: str,
) -> None:
    await conn.execute(
        f"""UPDATE {checked(schema)}.generations
            SET events_done = $2, events_total = $3, rate = $4, lag = $5, builder = $6,
                started_at = coalesce(started_at, now()), updated_at = now()
            WHERE gen = $1""",
        gen,
        done,
        total,
        rate,
        lag,
        builder,
    )


async def mark_failed(conn: asyncpg.Connection, schema: str, gen: int, error: str) -> None:
    """``gen`` failed (only while it was building)."""
    await conn.execute(
        f"""UPDATE {checked(schema)}.generations
            SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
            WHERE gen = $1 AND state = 'building'""",
        gen,
        error[:4000],
    )


async def make_live(conn: asyncpg.Connection, schema: str, gen: int) -> None:
    """Retire the live generation and make ``gen`` live (the caller holds the live lock)."""
    await conn.execute(
        f"""UPDATE {checked(schema)}.generations
            SET state = 'retired', finished_at = now(), updated_at = now()
            WHERE state = 'live'"""
    )
    await conn.execute(
        f"""UPDATE {schema}.generations
            SET state = 'live', swapped_at = now(), lag = 0, updated_at = now()
            WHERE gen = $1""",
        gen,
    )


async def enter_live(
    conn: asyncpg.Connection, schema: str, lock_key: str, *, plan_generic: bool = False
) -> dict[str, Any] | None:
    """Take the live lock (shared) for the caller's transaction, then aim its unqualified
    names at the live generation; that generation's number and version. ``plan_generic``:
    the transaction's statements are planned generically (``plan_cache_mode``), set by the
    same statement.

    One round trip (``ENTER_LIVE``, in ``registry_sql``). A statement's snapshot is taken
    before a lock it waits for, so a plain statement could read the generation a swap it
    waited for had just retired: the function reads it in a query of its own, after the lock.
    """
    generic = ", set_config('plan_cache_mode', 'force_generic_plan', true)" if plan_generic else ""
    row = await conn.fetchrow(
        f"SELECT gen, version{generic} FROM {checked(schema)}.{ENTER_LIVE}($1)", lock_key
    )
    return dict(row) if row else None


# -- a generation's schema -----------------------------------------------------------------


async def create_schema(
    conn: asyncpg.Connection, target: str, bookkeeping_sql: str, table_files: Sequence[Path]
) -> None:
    """Schema ``target`` with its consumer bookkeeping and the projection's tables (their
    files run with ``search_path`` set to it), in the caller's transaction."""
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {checked(target)}")
    await conn.execute(bookkeeping_sql)
    await conn.execute(f"SET LOCAL search_path TO {target}")
    try:
        for path in table_files:
            await conn.execute(path.read_text(encoding="utf-8"))
    finally:
        await conn.execute("SET LOCAL search_path TO DEFAULT")


async def drop_schema(conn: asyncpg.Connection, target: str) -> None:
    await conn.execute(f"DROP SCHEMA IF EXISTS {checked(target)} CASCADE")


async def table_names(conn: asyncpg.Connection, target: str) -> list[str]:
    """The tables of schema ``target``, by name."""
    rows = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", target
    )
    return [checked(r["tablename"]) for r in rows]


# -- the stable names ----------------------------------------------------------------------


async def set_lock_timeout(conn: asyncpg.Connection, timeout_s: float | None) -> None:
    """From here to the end of the caller's transaction, a statement waits at most
    ``timeout_s`` for a lock (``LockNotAvailableError``); ``None``: as long as it must."""
    if timeout_s is None:
        await conn.execute("SET LOCAL lock_timeout TO DEFAULT")
    else:
        await conn.execute(f"SET LOCAL lock_timeout = '{max(1, round(timeout_s * 1000))}ms'")


async def relkind(conn: asyncpg.Connection, schema: str, name: str) -> str | None:
    """What ``<schema>.<name>`` is: ``r`` a table, ``v`` a view, ``None`` nothing."""
    kind: str | None = await conn.fetchval(
        "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relname = $2",
        schema,
        name,
    )
    return kind


async def drop_table(conn: asyncpg.Connection, schema: str, table: str) -> None:
    await conn.execute(f"DROP TABLE {checked(schema)}.{checked(table)} CASCADE")


async def point_view(conn: asyncpg.Connection, schema: str, view: str, source: str) -> bool:
    """Make ``<schema>.<view>`` show ``source``, keeping the view (and what depends on it)
    when the columns are the same; replacing it when the shape changed (``True``: what
    depended on it is gone too)."""
    name = f"{checked(schema)}.{checked(view)}"
    definition = f"SELECT * FROM {source}"
    try:
        async with conn.transaction():  # a savepoint: a changed shape falls back below
            await conn.execute(f"CREATE OR REPLACE VIEW {name} AS {definition}")
        return False
    except (asyncpg.InvalidTableDefinitionError, asyncpg.WrongObjectTypeError):
        await conn.execute(f"DROP VIEW IF EXISTS {name} CASCADE")
        await conn.execute(f"CREATE VIEW {name} AS {definition}")
        return True


async def run_stable_sql(
    conn: asyncpg.Connection, schema: str, files: Sequence[Path], *, force: bool = False
) -> None:
    """Run the SQL files of the stable objects, only when they changed since the last run
    (their digest is kept in ``<schema>.stable_sql``) or ``force``."""
    if not files:
        return
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    await conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {checked(schema)}.stable_sql (
                id boolean PRIMARY KEY DEFAULT true CHECK (id), digest text NOT NULL)"""
    )
    if not force and await conn.fetchval(f"SELECT digest FROM {schema}.stable_sql") == digest:
        return
    for path in files:
        await conn.execute(path.read_text(encoding="utf-8"))
    await conn.execute(
        f"""INSERT INTO {schema}.stable_sql (digest) VALUES ($1)
            ON CONFLICT (id) DO UPDATE SET digest = EXCLUDED.digest""",
        digest,
    )

"""Advisory locks, probes and scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg


def _note_session_state(conn: asyncpg.Connection) -> None:
    """Say that ``conn`` (pooled or not) takes a session advisory lock or other state that
    outlives a transaction, so that its pool resets it in full when it is released
    (``services.runtime.db.Connection``). Said before the statement: a lock taken by a
    statement cut off by a cancellation is let go all the same."""
    note = getattr(conn, "note_session_state", None)
    if note is not None:
        note()


async def try_lock(conn: asyncpg.Connection, key: str) -> bool:
    """Take the session advisory lock named ``key`` if it is free (held until ``unlock`` or
    the connection ends): one leader among copies."""
    _note_session_state(conn)
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", key))


async def lock(conn: asyncpg.Connection, key: str) -> None:
    """Wait for the session advisory lock named ``key`` (held until ``unlock`` or the
    connection ends)."""
    _note_session_state(conn)
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", key)


async def unlock(conn: asyncpg.Connection, key: str) -> None:
    """Release the session advisory lock named ``key``."""
    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", key)


async def lock_for_transaction(conn: asyncpg.Connection, key: str) -> None:
    """Wait for the advisory lock named ``key``, held until the transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", key)


@asynccontextmanager
async def migrating(conn: asyncpg.Connection, key: str) -> AsyncIterator[None]:
    """A transaction that begins once this connection holds the advisory lock named ``key``
    (copies starting together: one migrates, the others wait and find it done).

    The lock is taken before the transaction begins, never inside it: PostgreSQL reads what
    other transactions did to its catalog when a transaction begins, so the DDL of one that
    began before it waited for the lock does not see what the holder committed meanwhile.
    Two copies making a new schema together failed so (``CREATE SCHEMA IF NOT EXISTS``: the
    schema "already exists", ``tests/integration/test_migrate_together.py``)."""
    await lock(conn, key)
    try:
        async with conn.transaction():
            yield
    finally:
        await unlock(conn, key)


async def fence(conn: asyncpg.Connection, key: str) -> bool:
    """Whether nobody held the advisory lock named ``key``, shared or not, when this looked:
    it is taken exclusively and let go by the statement's own transaction (``conn`` must be
    outside a transaction), never waited for; ``False`` at once if it is held."""
    assert not conn.is_in_transaction(), "a fence inside a transaction would hold the lock"
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext($1))", key))


async def ping(conn: asyncpg.Connection) -> bool:
    """Whether the connection still answers (a lost one raises)."""
    return bool(await conn.fetchval("SELECT true"))


async def run_script(conn: asyncpg.Connection, sql: str) -> None:
    """Run DDL statements (a migration file, a table's definition)."""
    await conn.execute(sql)


async def table_exists(conn: asyncpg.Connection, name: str) -> bool:
    """Whether the table ``schema.table`` named ``name`` exists."""
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", name))

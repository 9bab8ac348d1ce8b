"""The services' pool resets a connection it gets back only where session state was taken.

asyncpg's default reset (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) is a
round trip after every borrow. ``services.runtime.db.create_pool`` skips it, except for a
connection that took a session advisory lock (``store.try_lock``, the what-if's lease): a
lock left behind there would make its connection a silent leader for whoever borrows it
next."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.runtime import store
from services.runtime.db import create_pool
from services.sla.whatif.store import leased

pytestmark = pytest.mark.infra


@pytest.fixture
async def pool(own_database: str) -> AsyncIterator[asyncpg.Pool]:
    """The services' pool, of one connection: each borrow gets the same session back."""
    pool = await create_pool(own_database, size=1)
    yield pool
    await pool.close()


async def _held_elsewhere(url: str, key: str) -> bool:
    """Whether another session holds the advisory lock ``key`` now."""
    other = await asyncpg.connect(url)
    try:
        free = await store.try_lock(other, key)
        if free:
            await store.unlock(other, key)
        return not free
    finally:
        await other.close()


async def test_a_borrow_without_session_state_is_not_reset(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        await conn.execute("SELECT set_config('application_name', 'left-behind', false)")
    async with pool.acquire() as conn:
        # the same connection (a pool of one), its session as it was left: no RESET ALL
        assert await conn.fetchval("SELECT pg_backend_pid()") == backend
        assert await conn.fetchval("SHOW application_name") == "left-behind"


async def test_a_session_lock_left_on_a_borrowed_connection_goes_with_its_release(
    own_database: str, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as conn:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        assert await store.try_lock(conn, "leader")
        await conn.execute("SELECT set_config('application_name', 'left-behind', false)")
        assert await _held_elsewhere(own_database, "leader")
        # released without ``unlock``: a task cancelled between its lock and its finally
    assert not await _held_elsewhere(own_database, "leader")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT pg_backend_pid()") == backend
        # reset in full (RESET ALL too), and then no longer marked
        assert await conn.fetchval("SHOW application_name") != "left-behind"
        await conn.execute("SELECT set_config('application_name', 'again', false)")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW application_name") == "again"


async def test_the_what_if_lease_is_let_go_with_its_connection(
    own_database: str, pool: asyncpg.Pool
) -> None:
    async with pool.acquire() as lease:
        # the lease's own exit lets go; here the lock is taken by ``leased`` and the
        # connection released while it still holds it (its finally not reached yet)
        context = leased(lease, "complaints_whatif_pooltest")
        await context.__aenter__()
        assert await _held_elsewhere(own_database, "complaints_whatif_pooltest")
    assert not await _held_elsewhere(own_database, "complaints_whatif_pooltest")
    # its own exit, now that its connection is back in the pool, cannot run there
    with contextlib.suppress(asyncpg.InterfaceError):
        await context.__aexit__(None, None, None)

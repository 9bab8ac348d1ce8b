"""A copy stopped inside a transaction (a hung process, a paused machine) keeps its row
locks while its connection stays open: PostgreSQL ends the session once it has idled inside
the transaction for ``db_idle_in_transaction_s``, so the complaint it locked is free again,
and the copy, when it wakes, gets an error it retries on a new connection."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.runtime.db import TRANSIENT_DB_ERRORS, create_pool
from services.runtime.settings import Settings

pytestmark = pytest.mark.infra


async def test_a_session_stopped_inside_a_transaction_lets_its_row_go(own_database: str) -> None:
    other = await asyncpg.connect(own_database)
    pool = await create_pool(own_database, size=1, idle_in_transaction_s=0.3)
    try:
        await other.execute("CREATE TABLE rows (id int PRIMARY KEY); INSERT INTO rows VALUES (1)")
        async with pool.acquire() as stopped:
            assert await stopped.fetchval("SHOW idle_in_transaction_session_timeout") == "300ms"
            transaction = stopped.transaction()
            await transaction.start()
            await stopped.execute("SELECT id FROM rows WHERE id = 1 FOR UPDATE")
            # ... and the process holding it stops here. Another writer of the row waits only
            # until PostgreSQL ends the stopped session (a guard against hanging the suite,
            # not a measure of speed).
            async with other.transaction():
                locked = other.fetchval("SELECT id FROM rows WHERE id = 1 FOR UPDATE")
                assert await asyncio.wait_for(locked, timeout=60) == 1
            with pytest.raises(TRANSIENT_DB_ERRORS):  # the copy wakes: retried, as any outage
                await stopped.execute("SELECT 1")
    finally:
        await pool.close()
        await other.close()


def test_services_end_such_sessions_by_default_and_refuse_a_negative_timeout() -> None:
    assert Settings().db_idle_in_transaction_s > 0
    problems = Settings(db_idle_in_transaction_s=-1).kafka_problems()
    assert [p.variable for p in problems] == ["COMPLAINTS_DB_IDLE_IN_TRANSACTION_S"]

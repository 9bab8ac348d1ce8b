"""The fault tests' own instruments, shown to fail when they should: a check that cannot fail
proves nothing."""

from __future__ import annotations

import asyncpg
import pytest

from tests.faults.burst import counting_applications, doubled_or_missing

pytestmark = pytest.mark.infra


async def test_counting_applications_sees_a_double_the_primary_key_hides(
    test_database: str,
) -> None:
    conn = await asyncpg.connect(test_database)
    try:
        await conn.execute(
            "CREATE SCHEMA IF NOT EXISTS fault_check; "
            "CREATE TABLE fault_check.rows (id text PRIMARY KEY)"
        )
        async with counting_applications(test_database, "fault_check.rows", "id") as applied:
            insert = "INSERT INTO fault_check.rows VALUES ($1) ON CONFLICT DO NOTHING"
            await conn.execute(insert, "once")
            await conn.execute(insert, "twice")
            await conn.execute(insert, "twice")  # a doubled apply: the table still has 1 row
            try:
                async with conn.transaction():
                    await conn.execute(insert, "rolled-back")
                    raise RuntimeError("the batch dies before its commit")
            except RuntimeError:
                pass
            rows = await conn.fetchval("SELECT count(*) FROM fault_check.rows")
            counts = await applied()
        assert rows == 2  # what a row count or a primary key would report: no double
        assert doubled_or_missing(counts, {"once", "twice"}) == {"twice": 2}
        assert doubled_or_missing(counts, {"once", "missing"}) == {"missing": 0}
        assert counts["rolled-back"] == 0  # a batch rolled back takes its counts with it
        # the trigger is gone afterwards: nothing of the instrument stays in the database
        triggers = await conn.fetchval(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'fault_check.rows'::regclass "
            "AND NOT tgisinternal"
        )
        assert triggers == 0
    finally:
        await conn.execute("DROP SCHEMA IF EXISTS fault_check CASCADE")
        await conn.close()

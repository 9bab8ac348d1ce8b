"""The registry of generations against a real PostgreSQL: the upgrade from the layout before
generations, a swap that re-points the stable names, and a swap that gives way to a reader
instead of waiting on it for good."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from services.runtime import store
from services.runtime.generations import Generation, Generations, LiveGate, live_lock_key
from services.runtime.store import consumer_tables_sql
from tests.integration.reporting_db import HERE

pytestmark = pytest.mark.infra


@pytest.fixture
async def conn(own_database: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(own_database)
    yield connection
    await connection.close()


def reporting(version: str) -> Generations:
    return Generations(
        schema="reporting",
        version=version,
        tables=[HERE / "schema.sql"],
        functions=[HERE / "functions.sql"],
        legacy_tables=["complaints", "daily_intake", "events", "timer_events"],
    )


async def kind(conn: asyncpg.Connection, name: str) -> str | None:
    value: str | None = await conn.fetchval(
        "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'reporting' AND c.relname = $1",
        name,
    )
    return value


async def test_the_first_generation_replaces_the_tables_of_the_layout_before_it(
    conn: asyncpg.Connection,
) -> None:
    await conn.execute(
        "CREATE SCHEMA reporting; CREATE TABLE reporting.complaints (complaint_id uuid);"
        "CREATE TABLE reporting.events (seq bigint)"
    )
    async with conn.transaction():
        live = await reporting("v1").prepare(conn, consumer_tables_sql)
    assert live.gen == 1 and live.state == "live"
    assert await kind(conn, "complaints") == "v" and await kind(conn, "events") == "v"
    assert await conn.fetchval("SELECT count(*) FROM reporting.current_states") == 0


async def one_live_and_one_built(conn: asyncpg.Connection) -> tuple[Generations, Generation]:
    """Generation 1 live (empty); generation 2 built beside it, with a day's intake of 3."""
    gens = reporting("v1")
    async with conn.transaction():
        await gens.prepare(conn, consumer_tables_sql)
    async with conn.transaction():
        building = await gens.request(conn, "test")
    async with conn.transaction():
        await gens.create_tables(conn, building.gen, consumer_tables_sql)
    await conn.execute(
        f"INSERT INTO reporting_g{building.gen}.daily_intake VALUES ('2026-11-01', 'Y园', 'app', 3)"
    )
    return gens, building


async def test_a_swap_points_the_stable_names_at_the_new_generation_and_replaces_a_stray_table(
    conn: asyncpg.Connection,
) -> None:
    gens, building = await one_live_and_one_built(conn)
    # A table of the old layout holding a stable name (a half-upgraded database).
    await conn.execute(
        "DROP VIEW reporting.daily_intake; CREATE TABLE reporting.daily_intake (x int)"
    )
    async with conn.transaction():
        retired = await gens.swap(conn, building.gen)
    assert retired == 1
    assert await kind(conn, "daily_intake") == "v"
    assert await conn.fetchval("SELECT sum(received) FROM reporting.daily_intake") == 3
    assert (await gens.live(conn)).gen == building.gen  # type: ignore[union-attr]


async def test_a_swap_gives_way_to_a_reader_whose_two_connections_it_stands_between(
    conn: asyncpg.Connection, own_database: str
) -> None:
    """A reader's transaction holds one stable view and waits for a query on a connection of
    its own (as the monthly report reads its earlier periods in its snapshot) that reads
    another. A swap that took the second view and waited for the first would stand between
    them: PostgreSQL sees no cycle (the reader waits in the application), so all three would
    wait for good, and every writer behind the swap's live lock with them. The swap gives
    way instead; the reader gets its answer; the next try swaps."""
    gens, building = await one_live_and_one_built(conn)

    reader, other = await asyncpg.connect(own_database), await asyncpg.connect(own_database)
    try:
        async with reader.transaction(isolation="repeatable_read", readonly=True):
            # The reader holds ``events`` (after ``daily_intake`` in the swap's order) ...
            await reader.fetchval("SELECT count(*) FROM reporting.events")
            swapping = asyncio.create_task(swap(conn, gens, building.gen, lock_timeout_s=0.3))
            await until_waiting(other)  # (not in a transaction: it sees the activity now)
            # ... and, before it ends, waits for a read of ``daily_intake`` elsewhere.
            other_read = other.fetchval("SELECT count(*) FROM reporting.daily_intake")
            # A guard against hanging the suite, not a measure of speed: without the swap's
            # timeout this read never returns.
            assert await asyncio.wait_for(other_read, timeout=60) == 0  # the old generation
            with pytest.raises(asyncpg.LockNotAvailableError):
                await swapping
        assert (await gens.live(conn)).gen == 1  # type: ignore[union-attr]  # nothing changed

        assert await swap(conn, gens, building.gen, lock_timeout_s=0.3) == 1  # the next try
        assert await other.fetchval("SELECT sum(received) FROM reporting.daily_intake") == 3
        assert (await gens.live(conn)).gen == building.gen  # type: ignore[union-attr]
    finally:
        await reader.close()
        await other.close()


async def test_a_writer_that_waited_for_a_swap_writes_to_the_generation_it_made_live(
    conn: asyncpg.Connection, own_database: str
) -> None:
    """The live gate takes the live lock and reads the live generation in one round trip. A
    statement's snapshot is taken before a lock it waits for: read in the same query as the
    lock, the generation would be the one the swap it waited for had just retired, and the
    writer would write to a retired generation."""
    gens, building = await one_live_and_one_built(conn)
    writer, probe = await asyncpg.connect(own_database), await asyncpg.connect(own_database)
    try:
        async with conn.transaction():  # the swap, as the builder makes it
            await store.lock_for_transaction(conn, live_lock_key("reporting"))
            await gens.swap(conn, building.gen)

            async def write() -> tuple[int, str]:
                async with writer.transaction():
                    target = await LiveGate(gens).enter(writer)
                    return target.gen, await writer.fetchval("SHOW search_path")

            entering = asyncio.create_task(write())
            await until_waiting(probe)  # the writer waits for the swap's lock
        gen, search_path = await asyncio.wait_for(entering, timeout=60)  # a guard, not a measure
        assert gen == building.gen
        assert search_path.startswith(f"reporting_g{building.gen},")
    finally:
        await writer.close()
        await probe.close()


async def swap(
    conn: asyncpg.Connection, gens: Generations, gen: int, lock_timeout_s: float
) -> int | None:
    async with conn.transaction():
        return await gens.swap(conn, gen, lock_timeout_s=lock_timeout_s)


async def until_waiting(probe: asyncpg.Connection) -> None:
    """Until a session of this database waits for a lock."""
    for _ in range(600):
        waiting = await probe.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no session came to wait for a lock")


async def test_a_writer_that_plans_generically_says_so_as_it_enters_in_the_same_round_trip(
    conn: asyncpg.Connection,
) -> None:
    """A projection whose writes plan the same for any rows (reporting's) has its
    transaction plan them generically, whatever the pool's ``plan_each_query``: set by the
    statement that enters the live generation (or a builder's), not by one of its own. Only
    for that transaction, and only when asked."""
    gens, building = await one_live_and_one_built(conn)
    await conn.execute("SET plan_cache_mode TO force_custom_plan")  # plan_each_query's pool
    sent: list[str] = []
    conn.add_query_logger(lambda record: sent.append(record.query))

    async def within(enter: Callable[[], Awaitable[object]]) -> tuple[str, str]:
        async with conn.transaction():
            await enter()
            return (
                await conn.fetchval("SHOW plan_cache_mode"),
                await conn.fetchval("SHOW search_path"),
            )

    gate = LiveGate(gens)
    assert await within(lambda: gate.enter(conn, plan_generic=True)) == (
        "force_generic_plan",
        "reporting_g1, reporting",
    )
    assert await within(lambda: gate.enter(conn)) == (
        "force_custom_plan",
        "reporting_g1, reporting",
    )
    builder_path = gens.schema_of(building.gen)
    assert await within(
        lambda: store.set_local_search_path(conn, builder_path, "reporting", plan_generic=True)
    ) == ("force_generic_plan", f"{builder_path}, reporting")
    assert await within(lambda: store.set_local_search_path(conn, builder_path, "reporting")) == (
        "force_custom_plan",
        f"{builder_path}, reporting",
    )
    assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"  # after them
    setting = [q for q in sent if "plan_cache_mode" in q and "SHOW" not in q]
    assert len(setting) == 2  # the two that asked, each the statement that enters: none apart
    assert all("search_path" in q or "enter_live" in q for q in setting)

"""The registry of generations against a real PostgreSQL: the upgrade from the layout before
generations, and a swap that re-points the stable names."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from deploy.local import sandbox
from services.runtime.generations import Generations
from services.runtime.store import consumer_tables_sql
from tests.conftest import RUN, Infra
from tests.integration.reporting_db import HERE

pytestmark = pytest.mark.infra


@pytest.fixture
async def conn(real_infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    name = f"complaints_test_{RUN}_generations"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    connection = await asyncpg.connect(url)
    yield connection
    await connection.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


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


async def test_a_swap_points_the_stable_names_at_the_new_generation_and_replaces_a_stray_table(
    conn: asyncpg.Connection,
) -> None:
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

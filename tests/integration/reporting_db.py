"""A database with reporting's projection installed as the service installs it."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from services import reporting
from services.runtime import vault
from services.runtime.generations import Generations
from services.runtime.store import consumer_tables_sql

HERE = Path(reporting.__file__).parent


async def install_reporting(url: str) -> str:
    """Make generation 1 of reporting's projection live in the database at ``url`` (its
    tables, the stable views and functions over them); the generation's schema."""
    generations = Generations(
        schema="reporting",
        version="test",
        tables=[HERE / "schema.sql"],
        functions=[HERE / "functions.sql"],
    )
    conn = await asyncpg.connect(url)
    try:
        await vault.migrate(conn)  # reads open personal data through it, as the service's do
        async with conn.transaction():
            live = await generations.prepare(conn, consumer_tables_sql)
    finally:
        await conn.close()
    return generations.schema_of(live.gen)

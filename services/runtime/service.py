"""The lifespan every consuming service shares: pool, migrations, topics, broker, consumers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.runtime.consumer import (
    Decoder,
    Projection,
    ProjectionConsumer,
    consumer_tables_sql,
)
from services.runtime.db import create_pool, ping
from services.runtime.http import ReadinessCheck
from services.runtime.kafka import ensure_topics, make_broker
from services.runtime.monitor import Monitor
from services.runtime.outbox import OutboxRelay, outbox_table_sql
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


class ConsumingService:
    """A service that owns one PostgreSQL schema and feeds projections from the log.

    ``projection_tables`` are the tables its ``migrations`` create and its consumers fill.
    When the migration files change, those tables are dropped and the consumers start again
    from offset 0: a projection change ships as a new projection version that rebuilds itself.
    """

    def __init__(
        self,
        *,
        name: str,
        settings: Settings,
        schema: str,
        migrations: list[Path],
        projection_tables: list[str],
    ):
        self.name = name
        self.settings = settings
        self.schema = schema
        self.migrations = migrations
        self.projection_tables = projection_tables
        self.broker = make_broker(settings, client_id=name)
        self.consumers: list[ProjectionConsumer] = []
        self.relay: OutboxRelay | None = None
        self._pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self.monitor = Monitor(self)  # consumer lag, rebuild progress, backlogs (metrics)
        self.migrated = False
        self.rebuilding = False  # replaying the log from offset 0 since this start

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's connection pool (available once the lifespan has started)."""
        if self._pool is None:
            raise RuntimeError(f"{self.name}: the database pool is not open yet")
        return self._pool

    def add_projection(
        self,
        name: str,
        projection: Projection,
        *,
        topic: str | None = None,
        decode: Decoder | None = None,
    ) -> ProjectionConsumer:
        """Feed ``projection`` from the events topic as consumer group ``<service>.<name>``.

        ``topic`` (created at start if missing) and ``decode`` serve a consumer of another
        topic, whose records may not even be event envelopes (intake's submissions).
        """
        consumer = ProjectionConsumer(
            name=f"{self.name}.{name}",
            schema=self.schema,
            projection=projection,
            topic=topic or self.settings.topic_events,
            deadletter_topic=self.settings.topic_deadletter,
            pool=lambda: self.pool,
            decode=decode,
        )
        consumer.attach(self.broker)
        self.consumers.append(consumer)
        return consumer

    def add_task(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``run()`` in the background while the service runs (started after the broker)."""
        self._background.append((name, run))

    def add_outbox(self) -> OutboxRelay:
        """Give the service an outbox and a relay that publishes it to the log."""
        self.relay = OutboxRelay(schema=self.schema, pool=lambda: self.pool, broker=self.broker)
        return self.relay

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        """Open the pool, migrate, make sure topics exist, start consuming; undo on exit."""
        self._pool = await create_pool(self.settings.database_url, size=self.settings.db_pool_size)
        await self.migrate()
        await ensure_topics(self.settings, extra=[c.topic for c in self.consumers])
        await self.broker.start()
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        for name, run in self._background:
            self._tasks.append(asyncio.create_task(run(), name=f"{self.name}-{name}"))
        self._tasks.append(asyncio.create_task(self.monitor.run(), name=f"{self.name}-monitor"))
        log.info("%s started", self.name)
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
            await self.broker.stop()
            await self._pool.close()
            self._pool = None

    def projection_version(self) -> str:
        """A digest of the migration files: it changes whenever the projection's shape does."""
        digest = hashlib.sha256()
        for path in self.migrations:
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    async def migrate(self) -> None:
        """Create the schema; on a new projection version, drop the old tables to rebuild."""
        version = self.projection_version()
        async with self.pool.acquire() as conn, conn.transaction():
            # Copies starting together: one migrates, the others wait and find it done.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", self.schema)
            await conn.execute(consumer_tables_sql(self.schema))
            await conn.execute(outbox_table_sql(self.schema))
            await conn.execute(
                f"""CREATE TABLE IF NOT EXISTS {self.schema}.projection_version (
                        service text PRIMARY KEY, version text NOT NULL,
                        migrated_at timestamptz NOT NULL DEFAULT now())"""
            )
            stored = await conn.fetchval(
                f"SELECT version FROM {self.schema}.projection_version WHERE service = $1",
                self.name,
            )
            self.rebuilding = stored != version  # a first start builds from offset 0 too
            if stored is not None and stored != version:
                log.warning(
                    "%s: projection changed (%s → %s): rebuilding from offset 0",
                    self.name,
                    stored,
                    version,
                )
                for table in self.projection_tables:
                    await conn.execute(f"DROP TABLE IF EXISTS {self.schema}.{table} CASCADE")
                for table in ("consumer_offsets", "processed_events", "dead_letters"):
                    await conn.execute(
                        f"DELETE FROM {self.schema}.{table} WHERE consumer LIKE $1",
                        f"{self.name}.%",
                    )
            for path in self.migrations:
                await conn.execute(path.read_text(encoding="utf-8"))
            await conn.execute(
                f"""INSERT INTO {self.schema}.projection_version (service, version)
                    VALUES ($1, $2) ON CONFLICT (service)
                    DO UPDATE SET version = EXCLUDED.version, migrated_at = now()""",
                self.name,
                version,
            )
        self.migrated = True

    def readiness(self) -> dict[str, ReadinessCheck]:
        """Checks for ``/readyz``: migrations done, database, broker, consumers assigned once."""

        async def migrations() -> bool:
            return self.migrated

        async def database() -> bool:
            return self._pool is not None and await ping(self._pool)

        async def kafka() -> bool:
            return bool(await self.broker.ping(timeout=2))

        async def consumers() -> bool:
            return all(c.has_been_assigned for c in self.consumers)

        return {
            "migrations": migrations,
            "database": database,
            "kafka": kafka,
            "consumers": consumers,
        }

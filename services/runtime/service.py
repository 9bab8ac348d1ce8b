"""The lifespan every consuming service shares: pool, migrations, topics, broker, consumers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from fastapi import FastAPI

from services.runtime.consumer import Projection, ProjectionConsumer, consumer_tables_sql
from services.runtime.db import create_pool, migrate, ping
from services.runtime.http import ReadinessCheck
from services.runtime.kafka import ensure_topics, make_broker
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


class ConsumingService:
    """A service that owns one PostgreSQL schema and feeds projections from the log."""

    def __init__(self, *, name: str, settings: Settings, schema: str, migrations: list[Path]):
        self.name = name
        self.settings = settings
        self.schema = schema
        self.migrations = migrations
        self.broker = make_broker(settings, client_id=name)
        self.consumers: list[ProjectionConsumer] = []
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        """The service's connection pool (available once the lifespan has started)."""
        if self._pool is None:
            raise RuntimeError(f"{self.name}: the database pool is not open yet")
        return self._pool

    def add_projection(self, name: str, projection: Projection) -> ProjectionConsumer:
        """Feed ``projection`` from the events topic as consumer group ``<service>.<name>``."""
        consumer = ProjectionConsumer(
            name=f"{self.name}.{name}",
            schema=self.schema,
            projection=projection,
            topic=self.settings.topic_events,
            deadletter_topic=self.settings.topic_deadletter,
            pool=lambda: self.pool,
        )
        consumer.attach(self.broker)
        self.consumers.append(consumer)
        return consumer

    @asynccontextmanager
    async def lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        """Open the pool, migrate, make sure topics exist, start consuming; undo on exit."""
        self._pool = await create_pool(self.settings.database_url, size=self.settings.db_pool_size)
        async with self._pool.acquire() as conn:
            await conn.execute(consumer_tables_sql(self.schema))
        await migrate(self._pool, *self.migrations)
        await ensure_topics(self.settings)
        await self.broker.start()
        log.info("%s started", self.name)
        try:
            yield
        finally:
            await self.broker.stop()
            await self._pool.close()
            self._pool = None

    def readiness(self) -> dict[str, ReadinessCheck]:
        """Checks for ``/readyz``: database, broker, every consumer assigned at least once."""

        async def database() -> bool:
            return self._pool is not None and await ping(self._pool)

        async def kafka() -> bool:
            return bool(await self.broker.ping(timeout=2))

        async def consumers() -> bool:
            return all(c.has_been_assigned for c in self.consumers)

        return {"database": database, "kafka": kafka, "consumers": consumers}

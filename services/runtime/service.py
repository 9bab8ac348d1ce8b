"""The lifespan every consuming service shares: pool, migrations, topics, broker, consumers."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI

from services.runtime import store, vault
from services.runtime.builder import Builder
from services.runtime.consumer import Decoder, Projection, ProjectionConsumer
from services.runtime.consumer.base import LogConsumer
from services.runtime.consumer.processor import Processor, ProcessorConsumer
from services.runtime.db import create_pool, ping
from services.runtime.generations import Generations, LiveGate, Rebuilding
from services.runtime.http import ReadinessCheck
from services.runtime.kafka import end_offsets, ensure_topics, make_broker
from services.runtime.monitor import Monitor, loop_lag
from services.runtime.outbox import OutboxRelay, Watermarking
from services.runtime.settings import Settings
from services.runtime.store import consumer_tables_sql, outbox_table_sql

log = logging.getLogger(__name__)


class ConsumingService:
    """A service that owns one PostgreSQL schema and feeds projections from the log.

    ``migrations`` create the projection's tables, with unqualified names: they run in a
    generation's schema (``services.runtime.generations``). ``functions`` are the stable
    objects over the service's views (SQL functions, derived views), ``durable`` the SQL of
    tables that are not projections (never dropped, in the service's own schema).
    ``projection_tables`` name the tables an earlier release kept in the service's schema
    itself (dropped once, when the first generation is made). When the migration files
    change, a new generation is built beside the live one and swapped in when it caught up.
    """

    def __init__(
        self,
        *,
        name: str,
        settings: Settings,
        schema: str,
        migrations: list[Path],
        projection_tables: list[str],
        functions: list[Path] | None = None,
        durable: list[Path] | None = None,
        plan_each_query: bool = False,
    ):
        self.name = name
        # Its reads take optional filters (``$3 IS NULL OR office = $3``): a plan made for one
        # office must not serve the whole company (``create_pool``'s ``plan_each_query``).
        self.plan_each_query = plan_each_query
        self.settings = settings
        self.schema = schema
        self.migrations = migrations
        self.projection_tables = projection_tables
        self.durable_sql = durable or []
        self.generations = Generations(
            schema=schema,
            version=self.projection_version(),
            tables=migrations,
            functions=functions or [],
            legacy_tables=projection_tables,
        )
        self.gate = LiveGate(self.generations)
        self.broker = make_broker(settings, client_id=name)
        # A copy of role ``http`` knows its consumers (their tables, stored offsets and
        # gauges) but runs none of them, nor the rebuilds, the relay or the background tasks.
        self.consumes = settings.role == "all"
        self.consumers: list[LogConsumer] = []
        self.relay: OutboxRelay | None = None
        self._pool: asyncpg.Pool | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self.monitor = Monitor(self)  # consumer lag, rebuild progress, backlogs (metrics)
        self.builder = Builder(self)
        self.migrated = False
        # The spec this service was built from, when it was built from the spec and its
        # settings alone (``build_app``): a rebuild's lane processes build it again from them.
        self.spec_name: str | None = None

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
        durable: bool = False,
        deadletter_topic: str | None = None,
    ) -> ProjectionConsumer:
        """Feed ``projection`` from the events topic as consumer group ``<service>.<name>``.

        ``topic``: another topic of events (created at start if missing); ``decode``: how its
        records are read. ``durable``: its effects are decisions, not rebuildable rows (the
        SLA's notifier): it is never rebuilt, and keeps its offsets in the service's own
        schema.
        """
        consumer = ProjectionConsumer(
            name=f"{self.name}.{name}",
            schema=self.schema,
            projection=projection,
            topic=topic or self.settings.topic_events,
            deadletter_topic=deadletter_topic or self.settings.topic_deadletter,
            pool=lambda: self.pool,
            decode=decode,
            durable=durable,
        )
        if not durable:
            consumer.gate = self.gate
        self._attach(consumer)
        return consumer

    def add_processor(
        self, name: str, processor: Processor, *, topic: str, deadletter_topic: str
    ) -> ProcessorConsumer:
        """Feed ``processor`` the records of ``topic`` (created at start if missing) as
        consumer group ``<service>.<name>``. Never rebuilt: its offsets and claims are kept
        in the service's own schema."""
        consumer = ProcessorConsumer(
            name=f"{self.name}.{name}",
            schema=self.schema,
            processor=processor,
            topic=topic,
            deadletter_topic=deadletter_topic,
            pool=lambda: self.pool,
        )
        self._attach(consumer)
        return consumer

    def _attach(self, consumer: LogConsumer) -> None:
        self.consumers.append(consumer)
        if self.consumes:
            consumer.attach(self.broker)

    def add_task(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``run()`` in the background while the service runs (started after the broker)."""
        self._background.append((name, run))

    def add_outbox(self, *, watermarks: Callable[[], datetime] | None = None) -> OutboxRelay:
        """Give the service an outbox and a relay that publishes it to the log; with
        ``watermarks`` (the clock its decisions are stamped with), the relay also says how far
        they are in the log (``services.runtime.outbox``, "Watermarks")."""
        self.relay = OutboxRelay(
            schema=self.schema,
            pool=lambda: self.pool,
            broker=self.broker,
            watermarking=None
            if watermarks is None
            else Watermarking(
                topic=self.settings.topic_watermarks,
                producer=self.name,
                events_topic=self.settings.topic_events,
                ends=partial(end_offsets, self.settings, self.settings.topic_events),
                now=watermarks,
                interval_s=self.settings.watermark_interval_s,
            ),
        )
        return self.relay

    async def open_pool(self, size: int) -> None:
        """The service's connection pool, as every process of it opens one (the service, and
        each rebuild lane in a process of its own)."""
        # Readers' unqualified names are the stable views of the service's schema.
        self._pool = await create_pool(
            self.settings.database_url,
            size=size,
            search_path=self.schema,
            plan_each_query=self.plan_each_query,
            idle_in_transaction_s=self.settings.db_idle_in_transaction_s,
        )

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Open the pool, migrate, make sure topics exist, start consuming; undo on exit."""
        await self.open_pool(self.settings.db_pool_size)
        await self.migrate()
        await ensure_topics(self.settings, extra=[c.topic for c in self.consumers])
        await self.broker.start()
        self._tasks.append(asyncio.create_task(self.monitor.run(), name=f"{self.name}-monitor"))
        self._tasks.append(asyncio.create_task(loop_lag(), name=f"{self.name}-loop-lag"))
        if self.consumes:
            self._start_consuming()
        log.info("%s started (role %s)", self.name, self.settings.role)
        try:
            yield
        finally:
            exit_within = getattr(app.state, "exit_within_s", None)
            if exit_within is not None:  # a service process (``serve``), never a test's app
                _exit_after(exit_within, self.name)
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._tasks.clear()
            await self._stop_within()
            self._pool = None

    def _start_consuming(self) -> None:
        """The relay, the background tasks and the builder (the consumers start with the
        broker they are attached to)."""
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-relay"))
        for name, run in self._background:
            self._tasks.append(asyncio.create_task(run(), name=f"{self.name}-{name}"))
        if self.projections:
            self._tasks.append(asyncio.create_task(self.builder.run(), name=f"{self.name}-builder"))

    async def _stop_within(self, broker_s: float = 5.0, pool_s: float = 3.0) -> None:
        """Stop the broker's consumers and producer, then close the pool, each within a bound.

        A SIGTERM must end the process: once, after the broker had been killed and restarted
        under load, one consumer never finished stopping and the service hung in its shutdown
        (CI, ``test_intake_broker_down``). Giving up is safe by design: offsets are stored
        with the data, a 202 and an outbox row's ``published_at`` only follow the broker's
        acknowledgement, so what is cut short is read or sent again by the next start."""
        # asyncio.wait, not wait_for: a stop that ignores its cancellation must not hold
        # the shutdown either.
        stopping = asyncio.ensure_future(self.broker.stop())
        if not (await asyncio.wait({stopping}, timeout=broker_s))[0]:
            log.error("%s: the broker did not stop in %.0f s; exiting anyway", self.name, broker_s)
        pool = self._pool
        if pool is None:
            return
        closing = asyncio.ensure_future(pool.close())
        if not (await asyncio.wait({closing}, timeout=pool_s))[0]:
            log.error("%s: connections still busy after %.0f s; closing them", self.name, pool_s)
            pool.terminate()

    @property
    def projections(self) -> list[ProjectionConsumer]:
        """The consumers whose rows are a projection (rebuilt by generations)."""
        return [c for c in self.consumers if isinstance(c, ProjectionConsumer) and not c.durable]

    def projection_version(self) -> str:
        """A digest of the migration files: it changes whenever the projection's shape does."""
        digest = hashlib.sha256()
        for path in self.migrations:
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    async def migrate(self) -> None:
        """Create the schema and the durable tables; find (or make) the live generation."""
        async with self.pool.acquire() as conn:
            await vault.migrate(conn)  # shared by every service, never a projection
        async with self.pool.acquire() as conn, store.migrating(conn, self.schema):
            await store.run_script(conn, consumer_tables_sql(self.schema))
            await store.run_script(conn, outbox_table_sql(self.schema))
            for path in self.durable_sql:
                await store.run_script(conn, path.read_text(encoding="utf-8"))
            first = await self.generations.live(conn) if await self._has_registry(conn) else None
            live = await self.generations.prepare(conn, consumer_tables_sql)
            if first is None:
                # Offsets an earlier release stored for its projections in the service's own
                # schema belong to tables that are gone now.
                await store.forget_consumers(conn, self.schema, [c.name for c in self.projections])
        for consumer in self.projections:
            consumer.write_to(live.gen, self.generations.schema_of(live.gen))
        self.migrated = True

    async def _has_registry(self, conn: asyncpg.Connection) -> bool:
        return await store.table_exists(conn, f"{self.schema}.generations")

    @asynccontextmanager
    async def write(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction that writes the live generation (a command, the scheduler).

        Unqualified table names are the live generation's tables; a swap waits until it
        ends. Raises ``Rebuilding`` when this copy's projection version is not the live one
        (a new version is being built and swapped in: retry shortly).
        """
        async with self.pool.acquire() as conn, conn.transaction():
            live = await self.gate.enter(conn)
            if live.version != self.gate.version:
                raise Rebuilding(
                    f"{self.name}: a new projection version is being built; retry shortly"
                )
            yield conn

    def readiness(self) -> dict[str, ReadinessCheck]:
        """Checks for ``/readyz``: migrations done, database, broker, consumers assigned once,
        and the warm-up done (``Builder.warm``: a copy still importing its lanes' fork server
        would answer the first load slowly)."""

        async def migrations() -> bool:
            return self.migrated

        async def database() -> bool:
            return self._pool is not None and await ping(self._pool)

        async def kafka() -> bool:
            return bool(await self.broker.ping(timeout=2))

        async def consumers() -> bool:
            return not self.consumes or all(c.has_been_assigned for c in self.consumers)

        async def warm() -> bool:
            return not self.consumes or self.builder.warm

        return {
            "migrations": migrations,
            "database": database,
            "kafka": kafka,
            "consumers": consumers,
            "warm": warm,
        }


def _exit_after(seconds: float, name: str) -> None:
    """End the process ``seconds`` from now if its shutdown has not ended it by then.

    The bounds of ``_stop_within`` do not cover a task that ignores its cancellation, which
    ``asyncio.run`` would then wait for forever. What is cut short is safe (see there)."""

    def exit_now() -> None:
        log.error("%s: shutdown still running after %.0f s; exiting", name, seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True  # a process that ends by itself does not wait for it
    timer.start()

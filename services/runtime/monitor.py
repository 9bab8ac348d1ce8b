"""Gauges a scrape cannot read from memory: consumer lag, rebuild progress, backlogs.

Every consuming service runs one ``Monitor`` in the background. Every
``COMPLAINTS_METRICS_INTERVAL_S`` it asks Kafka for the end offset of each partition, reads
the offsets stored in PostgreSQL, and sets

- ``complaints_consumer_lag{consumer, topic, partition}`` = end offset − stored next offset,
- ``complaints_consumer_progress_ratio{consumer}`` = applied / written over all partitions,
- ``complaints_consumer_assigned_partitions{consumer}`` = partitions Kafka gave this copy,
- ``complaints_projection_rebuilding{service}`` = 1 while a new generation is being built
  beside the live one, with its progress: ``complaints_rebuild_events_done``,
  ``…_events_total``, ``…_events_per_second`` and ``…_lag`` (from the registry of
  generations, so every copy exports what the building copy reports), and
  ``complaints_projection_generation{service}``, the live generation,
- ``complaints_dead_letters_recorded{consumer}`` and ``complaints_outbox_backlog{schema}``,

plus whatever a service adds (the SLA service's timers). Failures are logged and retried at
the next round: a monitor never stops a service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import asyncpg

from services.runtime import store
from services.runtime.metrics import (
    CONSUMER_ASSIGNED,
    CONSUMER_LAG,
    CONSUMER_PROGRESS,
    DEAD_LETTERS_RECORDED,
    EVENT_LOOP_LAG_SECONDS,
    GENERATION,
    OUTBOX_BACKLOG,
    REBUILD_DONE,
    REBUILD_LAG,
    REBUILD_RATE,
    REBUILD_TOTAL,
    REBUILDING,
)

if TYPE_CHECKING:
    from services.runtime.consumer.base import LogConsumer
    from services.runtime.service import ConsumingService

log = logging.getLogger(__name__)

GaugeRefresh = Callable[[asyncpg.Connection], Awaitable[None]]


class Monitor:
    """Refreshes a consuming service's computed gauges in the background."""

    def __init__(self, service: ConsumingService) -> None:
        self.service = service
        self._extra: list[tuple[str, GaugeRefresh]] = []
        self._started = time.monotonic()
        self._failing = False

    def add(self, name: str, refresh: GaugeRefresh) -> None:
        """Also run ``refresh(conn)`` every round (it sets the service's own gauges)."""
        self._extra.append((name, refresh))

    async def run(self) -> None:
        """Refresh forever, every ``metrics_interval_s``."""
        interval = self.service.settings.metrics_interval_s
        while True:
            try:
                await self.refresh()
                if self._failing:
                    log.info("%s: metrics refresh works again", self.service.name)
                self._failing = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # report, never stop the service
                if not self._failing:
                    log.warning(
                        "%s: metrics refresh failed (%s: %s); retrying",
                        self.service.name,
                        type(exc).__name__,
                        exc,
                    )
                self._failing = True
            await asyncio.sleep(interval)

    async def refresh(self) -> None:
        """One round: every gauge, once."""
        service = self.service
        for consumer in service.consumers:
            await self._consumer_gauges(consumer)
        async with service.pool.acquire() as conn:
            live = await service.generations.live(conn)
            building = await service.generations.building(conn)
        if live is not None:
            GENERATION.labels(service.name).set(live.gen)
        REBUILDING.labels(service.name).set(1 if building is not None else 0)
        if building is not None:
            REBUILD_DONE.labels(service.name).set(building.events_done or 0)
            REBUILD_TOTAL.labels(service.name).set(building.events_total or 0)
            REBUILD_RATE.labels(service.name).set(building.rate or 0.0)
            REBUILD_LAG.labels(service.name).set(building.lag or 0)
        async with service.pool.acquire() as conn:
            for consumer in service.consumers:
                recorded = await store.dead_letters_recorded(
                    conn, consumer.book_schema, consumer.name
                )
                DEAD_LETTERS_RECORDED.labels(consumer.name).set(recorded)
            if service.relay is not None:
                backlog = await store.outbox_backlog(conn, service.schema)
                OUTBOX_BACKLOG.labels(service.schema).set(backlog)
            for _name, extra in self._extra:
                await extra(conn)

    async def _consumer_gauges(self, consumer: LogConsumer) -> None:
        """Set one consumer's gauges."""
        CONSUMER_ASSIGNED.labels(consumer.name).set(len(consumer.assigned))
        progress = await consumer.progress()
        if not progress:
            return
        applied = written = 0
        for partition, (stored, end) in progress.items():
            lag = max(end - stored, 0)
            CONSUMER_LAG.labels(consumer.name, consumer.topic, str(partition)).set(lag)
            applied += min(stored, end)
            written += end
        CONSUMER_PROGRESS.labels(consumer.name).set(applied / written if written else 1.0)


LOOP_LAG_INTERVAL_S = 0.05


async def loop_lag(interval_s: float = LOOP_LAG_INTERVAL_S) -> None:
    """Forever: sleep ``interval_s`` and observe how much later than asked the loop woke this
    task (``complaints_event_loop_lag_seconds``). A lag is CPU work that held the loop — a
    batch decoded, folds, a collection — while something else was ready."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time()
        await asyncio.sleep(interval_s)
        EVENT_LOOP_LAG_SECONDS.observe(max(loop.time() - asked - interval_s, 0.0))

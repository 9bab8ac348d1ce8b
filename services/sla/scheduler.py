"""The SLA scheduler: judges due timers and publishes warnings and breaches through the outbox.

Alerts are judged only up to the instant the whole log has been applied (minus a small
grace), so a breach is never published for a timer whose stopping event is already in the
log but not yet read — during a rebuild, for instance. Alert ids derive from (complaint, timer,
deadline, kind) and the outbox keeps every id it ever published, so a restart, a replay or two
copies of the service never publish one breach twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from uuid import UUID

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from contracts import Envelope, new_envelope
from services.runtime.consumer import ProjectionConsumer
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.generations import Rebuilding
from services.runtime.outbox import OutboxRelay, enqueue
from services.sla import store
from services.sla.calendar import BusinessCalendar
from services.sla.policy import SlaPolicy
from services.sla.timers import alert_labels, fold, next_check, owed

log = logging.getLogger(__name__)

ALERTS = Counter("complaints_sla_alerts_total", "SLA alerts published", ["timer", "kind"])
LATENESS = Histogram(
    "complaints_sla_alert_lateness_seconds",
    "Time from an alert falling due to its decision",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300, 3600),
)
OPEN_TIMERS = Gauge(
    "complaints_sla_timers_open", "Clocks not yet stopped, by state when last judged", ["state"]
)
OVERDUE_TIMERS = Gauge("complaints_sla_timers_overdue", "Running clocks past their deadline")
CHECKS_DUE = Gauge(
    "complaints_sla_checks_due", "Complaints whose timers are due to be judged now (backlog)"
)
TIMER_STATES = ("running", "paused", "breached")


async def timer_gauges(conn: asyncpg.Connection) -> None:
    """Refresh the timer gauges (run by the service's metrics monitor)."""
    rows = await conn.fetch(
        "SELECT state, count(*) AS n FROM clocks WHERE ended_at IS NULL GROUP BY state"
    )
    counts = {r["state"]: r["n"] for r in rows}
    for state in sorted({*TIMER_STATES, *counts}):
        OPEN_TIMERS.labels(state).set(counts.get(state, 0))
    OVERDUE_TIMERS.set(
        await conn.fetchval(
            "SELECT count(*) FROM clocks WHERE ended_at IS NULL AND deadline < now()"
        )
    )
    CHECKS_DUE.set(
        await conn.fetchval("SELECT count(*) FROM complaints WHERE next_check_at <= now()")
    )


Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SlaRules:
    """The policy and calendar the clocks run on."""

    policy: SlaPolicy
    calendar: BusinessCalendar

    def relevant(self, event_type: str) -> bool:
        """Whether an event can start, stop, pause, resume or end a timer."""
        return event_type in self.events

    @cached_property
    def events(self) -> frozenset[str]:
        """Every event type the policy names (offices change targets, never events)."""
        return self.policy.events


async def refresh(
    conn: asyncpg.Connection,
    *,
    rules: SlaRules,
    topic: str,
    complaint_id: UUID,
    office: str,
    until: datetime,
    now: datetime,
) -> list[Envelope]:
    """Judge one complaint's timers up to ``until``; enqueue the alerts owed; save its clocks."""
    folded = fold(
        await store.history(conn, complaint_id),
        complaint_id=complaint_id,
        office=office,
        policy=rules.policy,
        calendar=rules.calendar,
    )
    published = []
    for alert in owed(folded, complaint_id, until):
        envelope = new_envelope(
            alert.data,
            event_id=alert.event_id,
            complaint_id=complaint_id,
            occurred_at=alert.due_at,
            recorded_at=now,
            source="sla/scheduler",
            correlation_id=complaint_id,
        )
        if await enqueue(conn, store.SCHEMA, topic, envelope):
            published.append(envelope)
            ALERTS.labels(*alert_labels(alert)).inc()
            LATENESS.observe(max((now - alert.due_at).total_seconds(), 0.0))
    # The clocks count for the office the complaint belongs to now (after a transfer, the
    # new one): the overdue list and every per-office read follow it from that instant.
    await store.save_clocks(
        conn,
        complaint_id,
        folded.office_at(until),
        folded.timers,
        until,
        next_check(folded, complaint_id, until),
    )
    return published


class Scheduler:
    """Looks for complaints whose next check is due and judges them."""

    def __init__(
        self,
        *,
        rules: SlaRules,
        write: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
        consumer: ProjectionConsumer,
        relay: OutboxRelay,
        topic: str,
        grace: timedelta,
        tick: timedelta,
        clock: Clock,
        batch: int = 200,
    ) -> None:
        self.rules = rules
        self._write = write
        self._consumer = consumer
        self._relay = relay
        self._topic = topic
        self._grace = grace
        self._tick = tick.total_seconds()
        self._clock = clock
        self._batch = batch

    async def run(self) -> None:
        """Judge due complaints forever."""
        while True:
            try:
                judged = await self.run_once()
                if judged < self._batch:
                    await asyncio.sleep(self._tick)
            except asyncio.CancelledError:
                raise
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("sla scheduler: database unavailable (%s); retrying", exc)
                await asyncio.sleep(1.0)
            except Rebuilding:  # this copy's version is being built: the swap comes first
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("sla scheduler: round failed; retrying")
                await asyncio.sleep(1.0)

    async def run_once(self) -> int:
        """One round: judge every complaint due now (up to a batch); return how many."""
        now = self._clock()
        applied = await self._consumer.applied_until(now)
        if applied is None:
            return 0  # the log is being replayed from a point with nothing applied yet
        until = min(now, applied) - self._grace
        published = 0
        async with self._write() as conn:  # the live generation, never one being built
            rows = await store.due_complaints(conn, until, self._batch)
            for row in rows:
                published += len(
                    await refresh(
                        conn,
                        rules=self.rules,
                        topic=self._topic,
                        complaint_id=row["complaint_id"],
                        office=row["office"],
                        until=until,
                        now=now,
                    )
                )
        if published:
            self._relay.wake()
        return len(rows)

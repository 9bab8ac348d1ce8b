"""The notifier: alerts from the log become deliveries, and a worker sends them to the robots.

Two parts, both in the SLA service (``docs/architecture.md``, "Notifications"):

- ``AlertDeliveries``, a *durable* consumer of the events topic (consumer group
  ``sla.notifier.v1``; offsets and processed ids in the ``sla`` schema itself, never in a
  generation, so a rebuild of the clocks does not read the log again for it): it follows each
  complaint's office and, for each alert, writes one ``pending`` row per target the
  configuration names, in the batch's transaction. A delivery's id derives from the alert's
  event id and the target's name, so an alert read twice creates no second delivery.
- ``DeliveryWorker``, a background task: it claims due rows (``FOR UPDATE SKIP LOCKED``, so
  copies of the service never send one row at the same time), POSTs them signed, and records
  the answer in the same transaction: ``delivered``, or ``retrying`` with exponential backoff,
  or ``dead`` after ``max_attempts``. A row is locked while its POST is in flight; the process
  dying between a robot's answer and the commit rolls the attempt back, and the row is sent
  again: delivery is at least once, each request carrying the same ``X-Complaints-Delivery``.
  On SIGTERM the round in flight is finished and recorded before the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from prometheus_client import Counter, Gauge

from contracts import ComplaintReceived, Envelope, EventData
from contracts.lifecycle import ComplaintOfficeTransferred
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.sla.notifications import (
    ALERT_EVENTS,
    OFFICE_EVENTS,
    Notifications,
    alert_of,
    backoff_s,
    delivery_id,
    robot_error,
    signed_request,
)

log = logging.getLogger(__name__)

STATES = ("pending", "retrying", "delivered", "dead")
DELIVERIES = Gauge(
    "complaints_notification_deliveries", "Notification deliveries by state", ["state"]
)
ATTEMPTS = Counter(
    "complaints_notification_attempts_total",
    "POSTs to group robots, by target and outcome (delivered, failed, dead)",
    ["target", "outcome"],
)
SKIPPED = Counter(
    "complaints_notification_alerts_skipped_total",
    "Alerts not sent because they were older than delivery.max_age_s when first read",
    ["kind"],
)

Clock = Callable[[], datetime]

COLUMNS = """delivery_id, alert_event_id, alert_type, alert_kind, complaint_id, office, target,
             target_kind, title, state, attempts, next_attempt_at, last_error, last_attempt_at,
             delivered_at, alert_at, created_at"""


class AlertDeliveries:
    """The notifier's consumer: offices followed, one delivery per alert × target."""

    def __init__(self, config: Notifications, clock: Clock) -> None:
        self.config = config
        self._clock = clock

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Record an office, or the deliveries of an alert; ignore every other event."""
        if envelope.type in OFFICE_EVENTS:
            await _follow_office(conn, envelope, data)
            return
        if envelope.type not in ALERT_EVENTS:
            return
        office: str | None = await conn.fetchval(
            "SELECT office FROM sla.notification_offices WHERE complaint_id = $1",
            envelope.complaint_id,
        )
        alert = alert_of(envelope, data, office)
        if alert is None:
            return
        age = self._clock() - envelope.recorded_at
        if age > timedelta(seconds=self.config.delivery.max_age_s):
            SKIPPED.labels(alert.kind.value).inc()
            return
        rows = [
            (
                delivery_id(envelope.event_id, target.name),
                envelope.event_id,
                envelope.type,
                alert.kind.value,
                envelope.complaint_id,
                office,
                target.name,
                target.kind,
                alert.title,
                alert.text,
                envelope.recorded_at,
            )
            for target in self.config.targets_for(alert.kind, office, alert.level)
        ]
        await conn.executemany(
            """INSERT INTO sla.notification_deliveries
                   (delivery_id, alert_event_id, alert_type, alert_kind, complaint_id, office,
                    target, target_kind, title, content, alert_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
               ON CONFLICT DO NOTHING""",
            rows,
        )


async def _follow_office(conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
    if isinstance(data, ComplaintReceived):
        await conn.execute(
            """INSERT INTO sla.notification_offices (complaint_id, office) VALUES ($1, $2)
               ON CONFLICT (complaint_id) DO NOTHING""",
            envelope.complaint_id,
            data.office,
        )
    elif isinstance(data, ComplaintOfficeTransferred):
        await conn.execute(
            """INSERT INTO sla.notification_offices (complaint_id, office) VALUES ($1, $2)
               ON CONFLICT (complaint_id) DO UPDATE SET office = EXCLUDED.office,
                                                        updated_at = now()""",
            envelope.complaint_id,
            data.to_office,
        )


class DeliveryWorker:
    """Sends due deliveries, records each answer, retries with backoff, gives up at last."""

    def __init__(
        self,
        *,
        config: Notifications,
        pool: Callable[[], asyncpg.Pool],
        clock: Clock,
        batch: int = 20,
        poll_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._pool = pool
        self._clock = clock
        self._batch = batch
        self._poll_s = poll_s
        self._transport = transport

    async def run(self) -> None:
        """Send forever. A cancellation (the service stopping) waits for the round in flight
        to record what it sent, so a clean stop never sends anything twice."""
        timeout = httpx.Timeout(self.config.delivery.timeout_s)
        async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
            while True:
                current = asyncio.ensure_future(self.run_once(client))
                try:
                    sent = await asyncio.shield(current)
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await current
                    raise
                except TRANSIENT_DB_ERRORS as exc:
                    log.warning("sla notifier: database unavailable (%s); retrying", exc)
                    sent = 0
                    await asyncio.sleep(1.0)
                except Exception:
                    log.exception("sla notifier: round failed; retrying")
                    sent = 0
                    await asyncio.sleep(1.0)
                if sent < self._batch:
                    await asyncio.sleep(self._poll_s)

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round: send up to a batch of due deliveries at once; return how many."""
        async with self._pool().acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT delivery_id, target, title, content, attempts
                   FROM sla.notification_deliveries
                   WHERE state IN ('pending', 'retrying') AND next_attempt_at <= clock_timestamp()
                   ORDER BY next_attempt_at LIMIT $1
                   FOR UPDATE SKIP LOCKED""",
                self._batch,
            )
            if not rows:
                return 0
            errors = await asyncio.gather(*(self._send(client, row) for row in rows))
            for row, error in zip(rows, errors, strict=True):
                await self._record(conn, row, error)
        return len(rows)

    async def _send(self, client: httpx.AsyncClient, row: asyncpg.Record) -> str | None:
        """POST one delivery; ``None`` when the robot took it, else why not."""
        target = self.config.targets.get(row["target"])
        if target is None:
            return f"target {row['target']!r} is not in the notifications file (any more)"
        secret = self.config.secrets.get(target.name, "")
        if not secret:
            return f"the environment variable {target.secret_env} (the secret) is not set"
        request = signed_request(
            target,
            secret,
            row["delivery_id"],
            row["title"],
            row["content"],
            self._clock(),
        )
        try:
            resp = await client.post(request.url, content=request.body, headers=request.headers)
        except httpx.HTTPError as exc:  # a transport error's text carries no URL (nor key)
            return f"{type(exc).__name__}: {exc}"[:500]
        return robot_error(target.kind, resp.status_code, resp.content)

    async def _record(
        self, conn: asyncpg.Connection, row: asyncpg.Record, error: str | None
    ) -> None:
        attempts = row["attempts"] + 1
        target = row["target"]
        if error is None:
            ATTEMPTS.labels(target, "delivered").inc()
            await conn.execute(
                """UPDATE sla.notification_deliveries
                   SET state = 'delivered', attempts = $2, delivered_at = clock_timestamp(),
                       last_attempt_at = clock_timestamp()
                   WHERE delivery_id = $1""",
                row["delivery_id"],
                attempts,
            )
            return
        dead = attempts >= self.config.delivery.max_attempts
        ATTEMPTS.labels(target, "dead" if dead else "failed").inc()
        log.warning(
            "sla notifier: delivery %s to %s failed (attempt %d%s): %s",
            row["delivery_id"],
            target,
            attempts,
            ", dead" if dead else "",
            error,
        )
        await conn.execute(
            """UPDATE sla.notification_deliveries
               SET state = $2, attempts = $3, last_error = $4,
                   last_attempt_at = clock_timestamp(),
                   next_attempt_at = clock_timestamp() + make_interval(secs => $5)
               WHERE delivery_id = $1""",
            row["delivery_id"],
            "dead" if dead else "retrying",
            attempts,
            error,
            0.0 if dead else backoff_s(attempts, self.config.delivery),
        )


async def delivery_gauges(conn: asyncpg.Connection) -> None:
    """Refresh the deliveries-by-state gauge (run by the service's metrics monitor)."""
    rows = await conn.fetch(
        "SELECT state, count(*) AS n FROM sla.notification_deliveries GROUP BY state"
    )
    counts = {r["state"]: r["n"] for r in rows}
    for state in STATES:
        DELIVERIES.labels(state).set(counts.get(state, 0))


# -- reads and the operator's retry (the API and the CLI) ---------------------------------------


async def office_of(conn: asyncpg.Connection, complaint_id: UUID) -> str | None:
    """The complaint's office as the notifier knows it, or ``None`` for an unknown one."""
    office: str | None = await conn.fetchval(
        "SELECT office FROM sla.notification_offices WHERE complaint_id = $1", complaint_id
    )
    return office


async def deliveries(
    conn: asyncpg.Connection,
    *,
    complaint_id: UUID | None = None,
    state: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, of one complaint and/or in one state."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM sla.notification_deliveries
            WHERE ($1::uuid IS NULL OR complaint_id = $1) AND ($2::text IS NULL OR state = $2)
            ORDER BY created_at DESC, target LIMIT $3""",
        complaint_id,
        state,
        limit,
    )
    return [dict(r) for r in rows]


class NotRetryable(ValueError):
    """A retry asked for a delivery that is unknown or not dead."""


async def retry(conn: asyncpg.Connection, delivery: UUID) -> dict[str, Any]:
    """Send a dead delivery again: ``pending``, due now, with a fresh count of attempts (the
    last error stays until the next attempt). Only a dead one: a delivery still being retried
    or delivered is left alone."""
    row = await conn.fetchrow(
        f"""UPDATE sla.notification_deliveries
            SET state = 'pending', attempts = 0, next_attempt_at = now()
            WHERE delivery_id = $1 AND state = 'dead'
            RETURNING {COLUMNS}""",
        delivery,
    )
    if row is not None:
        return dict(row)
    state = await conn.fetchval(
        "SELECT state FROM sla.notification_deliveries WHERE delivery_id = $1", delivery
    )
    if state is None:
        raise NotRetryable(f"delivery_id: no delivery {delivery}")
    raise NotRetryable(f"delivery_id: delivery {delivery} is {state}, not dead")

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
  the answer in the same transaction: ``delivered``, or ``retrying`` with exponential backoff
  (at most ``backoff_max_s``), or ``dead`` once it is ``give_up_after_s`` old. Each robot is
  paced (at most ``per_minute`` POSTs in any minute) and one that throttles us (HTTP 429,
  WeCom 45009, DingTalk 130101) is left alone for ``throttle_block_s``, without counting an
  attempt. One round at a time across copies (an advisory lock), so the pacing holds for
  the service, not per copy. A row is locked while its POST is in flight; the process
  dying between a robot's answer and the commit rolls the attempt back, and the row is sent
  again: delivery is at least once, each request carrying the same ``X-Complaints-Delivery``.
  On SIGTERM the round in flight is finished and recorded before the service stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from prometheus_client import Counter, Gauge

from contracts import ComplaintReceived, Envelope, EventData
from contracts.lifecycle import ComplaintOfficeTransferred
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.spec import Now
from services.sla import deliveries_store
from services.sla.notifications import (
    ALERT_EVENTS,
    OFFICE_EVENTS,
    Notifications,
    RobotAnswer,
    alert_of,
    backoff_s,
    delivery_id,
    robot_answer,
    signed_request,
)

log = logging.getLogger(__name__)

STATES = ("pending", "retrying", "delivered", "dead")
DELIVERIES = Gauge(
    "complaints_notification_deliveries", "Notification deliveries by state", ["state"]
)
ATTEMPTS = Counter(
    "complaints_notification_attempts_total",
    "POSTs to group robots, by target and outcome (delivered, failed, throttled, dead)",
    ["target", "outcome"],
)
SKIPPED = Counter(
    "complaints_notification_alerts_skipped_total",
    "Alerts not sent: recorded more than delivery.max_age_s before the notifier first started",
    ["kind"],
)
# Different from every other advisory lock key of the project (a constant of its own).
ROUND_LOCK = 0x51A_7071F1E5
ATTEMPTS_KEPT = timedelta(hours=1)


class AlertDeliveries:
    """The notifier's consumer: offices followed, one delivery per alert × target."""

    # The other types are passed by their header, unread and unclaimed: it ignored them
    # after decoding and validating each one and claiming its id.
    reads = OFFICE_EVENTS | frozenset(ALERT_EVENTS)

    def __init__(
        self,
        config: Notifications,
        now: Now,
        *,
        timer_labels: Mapping[str, str] | None = None,
        workbench_url: str | None = None,
    ) -> None:
        self.config = config
        self._now = now
        self._timer_labels = dict(timer_labels or {})
        self._workbench_url = workbench_url
        self._watermark: datetime | None = None  # once known committed, it never changes

    async def apply_batch(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Envelope, EventData]]
    ) -> None:
        """``apply`` for each event in turn, in a few statements for the whole batch: the
        alerts' offices as they stood before it (one read), followed through the batch's
        receipts and moves in memory, so each alert names the office ``apply`` would have
        given it at its turn; then the offices written (``set_offices``, at most two) and the
        deliveries of every alert (one)."""
        alerted = {env.complaint_id for env, _ in events if env.type in ALERT_EVENTS}
        office = await deliveries_store.offices_of(conn, alerted) if alerted else {}
        changes: list[tuple[UUID, str, bool]] = []
        rows: list[tuple[Any, ...]] = []
        for envelope, data in events:
            if envelope.type in OFFICE_EVENTS:
                change = _office_change(envelope, data)
                if change is not None:
                    changes.append(change)
                    complaint_id, to_office, moved = change
                    if moved or office.get(complaint_id) is None:
                        office[complaint_id] = to_office
            elif envelope.type in ALERT_EVENTS:
                rows += await self._deliveries(
                    conn, envelope, data, office.get(envelope.complaint_id)
                )
        await deliveries_store.set_offices(conn, changes)
        await deliveries_store.insert_deliveries(conn, rows)

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Record an office, or the deliveries of an alert; ignore every other event."""
        if envelope.type in OFFICE_EVENTS:
            change = _office_change(envelope, data)
            await deliveries_store.set_offices(conn, [change] if change else [])
            return
        if envelope.type not in ALERT_EVENTS:
            return
        office = await deliveries_store.office_of(conn, envelope.complaint_id)
        await deliveries_store.insert_deliveries(
            conn, await self._deliveries(conn, envelope, data, office)
        )

    async def _deliveries(
        self, conn: asyncpg.Connection, envelope: Envelope, data: EventData, office: str | None
    ) -> list[tuple[Any, ...]]:
        """The delivery rows of an alert of ``office``: one per target the configuration names
        for it; none for an alert recorded too long before the notifier started."""
        alert = alert_of(
            envelope,
            data,
            office,
            timer_labels=self._timer_labels,
            workbench_url=self._workbench_url,
        )
        if alert is None:
            return []
        started = self._watermark
        if started is None:
            now = self._now()
            started = await deliveries_store.watermark(conn, now)
            if started != now:  # written by an earlier, committed transaction: keep it
                self._watermark = started
        history = started - timedelta(seconds=self.config.delivery.max_age_s)
        if envelope.recorded_at < history:
            SKIPPED.labels(alert.kind.value).inc()
            log.info(
                "sla notifier: alert %s (%s of %s, recorded %s) not sent: older than the "
                "notifier (started %s) by more than delivery.max_age_s",
                envelope.event_id,
                envelope.type,
                envelope.complaint_id,
                envelope.recorded_at.isoformat(),
                started.isoformat(),
            )
            return []
        return [
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


def _office_change(envelope: Envelope, data: EventData) -> tuple[UUID, str, bool] | None:
    """(complaint, office, moved) an event sets the office by; ``None`` for other events."""
    if isinstance(data, ComplaintReceived):
        return envelope.complaint_id, data.office, False
    if isinstance(data, ComplaintOfficeTransferred):
        return envelope.complaint_id, data.to_office, True
    return None


class DeliveryWorker:
    """Sends due deliveries, records each answer, retries with backoff, gives up at last."""

    def __init__(
        self,
        *,
        config: Notifications,
        pool: Callable[[], asyncpg.Pool],
        now: Now,
        batch: int = 20,
        poll_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._pool = pool
        self._now = now
        self._batch = batch
        self._poll_s = poll_s
        self._transport = transport

    async def run(self) -> None:
        """Send forever. A cancellation (the service stopping) waits for the round in flight
        to record what it sent, so a clean stop never sends anything twice."""
        await self._mark_start()
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

    async def _mark_start(self) -> None:
        """Write the start watermark the first time the notifier ever starts (no-op after);
        the consumer writes it too should it read an alert first."""
        try:
            async with self._pool().acquire() as conn:
                started = await deliveries_store.watermark(conn, self._now())
        except TRANSIENT_DB_ERRORS as exc:
            log.warning("sla notifier: start watermark not written yet (%s)", exc)
            return
        log.info("sla notifier: start watermark %s", started.isoformat())

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One round: send up to a batch of due deliveries at once; return how many.

        A round claims only what the robots may take: no delivery of a target blocked after a
        throttled answer, and of each target at most its ``per_minute`` less the POSTs it was
        sent in the last minute. One copy's round at a time (``ROUND_LOCK``): the attempts of
        a round in flight are not yet visible to another copy's count."""
        targets = sorted(self.config.targets)
        async with self._pool().acquire() as conn, conn.transaction():
            if not await deliveries_store.take_round(conn, ROUND_LOCK):
                return 0  # another copy is sending: its round decides, ours waits
            rows = await deliveries_store.claim_due(
                conn,
                limit=self._batch,
                targets=targets,
                per_minute=[self.config.per_minute(t) for t in targets],
                default_per_minute=self.config.delivery.per_minute,
            )
            if not rows:
                return 0
            answers = await asyncio.gather(*(self._send(client, row) for row in rows))
            sent = [row["target"] for row, (_, posted) in zip(rows, answers, strict=True) if posted]
            await deliveries_store.record_attempts(conn, sent)
            throttled: dict[str, str] = {}
            for row, (answer, _) in zip(rows, answers, strict=True):
                await self._record(conn, row, answer)
                if answer.throttled and answer.error is not None:
                    throttled[row["target"]] = answer.error
            for target in sorted(throttled):  # one order in every copy: no deadlock
                await deliveries_store.block_target(
                    conn, target, self.config.throttle_block_s(target), throttled[target]
                )
            await deliveries_store.forget_attempts_before(conn, ATTEMPTS_KEPT)
        return len(rows)

    async def _send(
        self, client: httpx.AsyncClient, row: asyncpg.Record
    ) -> tuple[RobotAnswer, bool]:
        """POST one delivery: the robot's answer, and whether a request went out at all."""
        target = self.config.targets.get(row["target"])
        if target is None:
            why = f"target {row['target']!r} is not in the notifications file (any more)"
            return RobotAnswer(why), False
        secret = self.config.secrets.get(target.name, "")
        if not secret:
            why = f"the environment variable {target.secret_env} (the secret) is not set"
            return RobotAnswer(why), False
        request = signed_request(
            target,
            secret,
            row["delivery_id"],
            row["title"],
            row["content"],
            self._now(),
        )
        try:
            resp = await client.post(request.url, content=request.body, headers=request.headers)
        except httpx.HTTPError as exc:  # a transport error's text carries no URL (nor key)
            return RobotAnswer(f"{type(exc).__name__}: {exc}"[:500]), True
        return robot_answer(target.kind, resp.status_code, resp.content), True

    async def _record(
        self, conn: asyncpg.Connection, row: asyncpg.Record, answer: RobotAnswer
    ) -> None:
        target = row["target"]
        error = answer.error
        if error is None:
            ATTEMPTS.labels(target, "delivered").inc()
            await deliveries_store.mark_delivered(conn, row["delivery_id"], row["attempts"] + 1)
            return
        delivery = self.config.delivery
        # A throttled answer is the robot's rate, not the message: no attempt counted, and
        # the next one after the robot's block window.
        attempts = row["attempts"] + (0 if answer.throttled else 1)
        wait = (
            self.config.throttle_block_s(target)
            if answer.throttled
            else backoff_s(attempts, delivery)
        )
        out_of_tries = (
            not answer.throttled
            and delivery.max_attempts is not None
            and attempts >= delivery.max_attempts
        )
        state = await deliveries_store.mark_failed(
            conn,
            row["delivery_id"],
            attempts=attempts,
            error=error,
            retry_in_s=wait,
            out_of_tries=out_of_tries,
            give_up_after_s=delivery.give_up_after_s,
        )
        dead = state == "dead"
        outcome = "dead" if dead else "throttled" if answer.throttled else "failed"
        ATTEMPTS.labels(target, outcome).inc()
        log.warning(
            "sla notifier: delivery %s to %s %s (attempt %d%s): %s",
            row["delivery_id"],
            target,
            "throttled" if answer.throttled else "failed",
            attempts,
            ", dead" if dead else f", next in {wait:.0f} s",
            error,
        )


async def delivery_gauges(conn: asyncpg.Connection) -> None:
    """Refresh the deliveries-by-state gauge (run by the service's metrics monitor)."""
    counts = await deliveries_store.deliveries_by_state(conn)
    for state in STATES:
        DELIVERIES.labels(state).set(counts.get(state, 0))

"""The SLA scheduler: judges due timers and publishes warnings and breaches through the outbox.

A complaint's alerts are judged only up to the instant its partition of the log has been
applied, so a breach is never published for a timer whose stopping event is already in the log
but not yet read — during a rebuild, for instance — and only up to the workflow's watermark
(``contracts.watermarks``), so that a stop decided before a deadline but still in the
workflow's outbox is read first. Without a fresh watermark, a small grace stands in for it.
Alert ids derive from (complaint, timer, deadline, kind) and the outbox keeps every id it ever
published, so a restart, a replay or two copies of the service never publish one breach twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from uuid import UUID

import asyncpg
from prometheus_client import Counter, Gauge, Histogram

from contracts import Envelope, new_envelope
from contracts.envelope import latest_version
from contracts.lifecycle import ComplaintResumed
from contracts.sla import SlaBreached, SlaWarning
from services.runtime.consumer import ProjectionConsumer
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.generations import Rebuilding
from services.runtime.kafka import partition_of
from services.runtime.outbox import OutboxRelay, enqueue_many
from services.runtime.spec import Now
from services.runtime.watermarks import Fence
from services.sla import store
from services.sla.calendar import BusinessCalendar
from services.sla.policy import SlaAlert, SlaPolicy
from services.sla.timers import alert_labels, fold, owed_and_agenda

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
JUDGED_BEHIND = Gauge(
    "complaints_sla_judged_behind_seconds",
    "How far before now due timers can be judged (the partitions applied, the workflow's "
    "watermark or else the grace), for the partition furthest behind",
)
FENCE_BEHIND = Gauge(
    "complaints_sla_watermark_behind_seconds",
    "How far before now the workflow's watermark was when due timers were last looked at "
    "(NaN while there is none: the grace)",
)
CHECKS_DUE = Gauge(
    "complaints_sla_checks_due", "Complaints whose timers are due to be judged now (backlog)"
)
TIMER_STATES = ("running", "paused", "breached")


async def timer_gauges(conn: asyncpg.Connection) -> None:
    """Refresh the timer gauges (run by the service's metrics monitor)."""
    counts = await store.open_clocks_by_state(conn)
    for state in sorted({*TIMER_STATES, *counts}):
        OPEN_TIMERS.labels(state).set(counts.get(state, 0))
    OVERDUE_TIMERS.set(await store.overdue_clocks(conn))
    CHECKS_DUE.set(await store.checks_due(conn))


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


def _alert_envelope(complaint_id: UUID, alert: SlaAlert, now: datetime) -> Envelope:
    """The alert as published. ``occurred_at`` is written in UTC: the same alert judged from a
    replay (due instants in the calendar's zone) or from the stored agenda (read back from
    PostgreSQL in UTC) is then the same bytes but for ``recorded_at``, as an alert decided
    again after a restore must be."""
    return new_envelope(
        alert.data,
        event_id=alert.event_id,
        complaint_id=complaint_id,
        occurred_at=alert.due_at.astimezone(UTC),
        recorded_at=now,
        source="sla/scheduler",
        correlation_id=complaint_id,
    )


async def _publish(
    conn: asyncpg.Connection,
    topic: str,
    alerts: Sequence[tuple[UUID, SlaAlert]],
    now: datetime,
) -> list[Envelope]:
    """Enqueue the alerts not decided before (the outbox keeps every id it ever had)."""
    envelopes = [_alert_envelope(cid, alert, now) for cid, alert in alerts]
    fresh = await enqueue_many(conn, store.SCHEMA, topic, envelopes)
    for _, alert in alerts:
        if alert.event_id in fresh:
            ALERTS.labels(*alert_labels(alert)).inc()
            LATENESS.observe(max((now - alert.due_at).total_seconds(), 0.0))
    return [e for e in envelopes if e.event_id in fresh]


async def refold(
    conn: asyncpg.Connection,
    *,
    rules: SlaRules,
    topic: str,
    complaints: Sequence[tuple[UUID, str]],
    until: datetime,
    now: datetime,
) -> list[Envelope]:
    """Fold each (locked) complaint's history and judge its timers up to ``until``: enqueue
    the alerts owed, save its clocks, and its agenda — what it will owe later if no event
    arrives, which the scheduler then judges it from (``judge_from_agenda``)."""
    if not complaints:
        return []
    histories = await store.histories(conn, [cid for cid, _ in complaints])
    alerts: list[tuple[UUID, SlaAlert]] = []
    judgments = []
    for complaint_id, office in complaints:
        await asyncio.sleep(0)  # a fold is CPU work: let due alerts through between folds
        folded = fold(
            histories[complaint_id],
            complaint_id=complaint_id,
            office=office,
            policy=rules.policy,
            calendar=rules.calendar,
        )
        owed_now, pending = owed_and_agenda(folded, complaint_id, until)
        alerts += [(complaint_id, alert) for alert in owed_now]
        # The clocks count for the office the complaint belongs to now (after a transfer,
        # the new one): the overdue list and every per-office read follow it from then.
        judgments.append(
            store.Judgment(
                complaint_id=complaint_id,
                office=folded.office_at(until),
                timers=folded.timers,
                at=until,
                agenda=[
                    (
                        complaint_id,
                        p.alert.event_id,
                        p.owed_from,
                        p.owed_until,
                        p.alert.due_at,
                        p.alert.data.event_type,
                        p.alert.data.model_dump_json(),
                    )
                    for p in pending
                ],
            )
        )
    published = await _publish(conn, topic, alerts, now)
    await store.save_judgments(conn, judgments)
    return published


async def judge_from_agenda(
    conn: asyncpg.Connection,
    *,
    topic: str,
    complaint_ids: Sequence[UUID],
    until: datetime,
    now: datetime,
) -> list[Envelope]:
    """Judge (locked) complaints no event arrived for since their fold from their stored
    agenda, up to ``until``: enqueue what is owed at ``until``, mark breached clocks, move
    each one's next check to its agenda's next instant. No history is read, nothing folded:
    the agenda says what the fold would owe (``timers.agenda``)."""
    if not complaint_ids:
        return []
    alerts: list[tuple[UUID, SlaAlert]] = []
    for row in await store.take_due_agenda(conn, complaint_ids, until):
        data = latest_version(row["event_type"]).model_validate_json(row["data"])
        assert isinstance(data, SlaWarning | SlaBreached | ComplaintResumed)
        alerts.append((row["complaint_id"], SlaAlert(row["event_id"], row["due_at"], data)))
    return await _publish(conn, topic, alerts, now)


def judgeable(
    due: Sequence[asyncpg.Record], untils: Mapping[int, datetime]
) -> dict[datetime, list[asyncpg.Record]]:
    """The due complaints (``complaint_id``, ``next_check_at``) that may be judged now, by the
    instant each may be judged up to: as far as *its own* partition is applied
    (``untils``: partition → instant). Every event about a complaint is keyed by it, so only
    its partition can hold an unread event that stops its timers; a partition behind holds
    back its own complaints, not every other's. A complaint due later than its partition
    allows is left for a later round."""
    partitions = sorted(untils)
    groups: dict[datetime, list[asyncpg.Record]] = {}
    for row in due:
        until = untils[partitions[partition_of(row["complaint_id"], len(partitions))]]
        if row["next_check_at"] <= until:
            groups.setdefault(until, []).append(row)
    return groups


class Scheduler:
    """Looks for complaints whose next check is due and judges them.

    Two loops share the work. One judges the complaints whose agenda fell due (no event since
    their fold: a few statements for up to ``batch`` of them, committed and handed to the
    relay at once); it sleeps until the next of those falls due (at most ``tick``). The other
    folds the complaints an event arrived for, ``refold_batch`` per transaction, yielding
    between folds, so a due alert never waits behind a batch of folds.
    """

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
        now: Now,
        fence: Callable[[], Fence | None] = lambda: None,
        word: Callable[[float, int | None], Awaitable[None]] | None = None,
        batch: int = 500,
        refold_batch: int = 200,
    ) -> None:
        self.rules = rules
        self._write = write
        self._consumer = consumer
        self._relay = relay
        self._topic = topic
        self._grace = grace
        self._fence = fence
        # returns at the next watermark (at once if one came after the n-th), or after the
        # seconds given
        self._word = word
        self._tick = tick.total_seconds()
        self._now = now
        self._batch = batch
        self._refold_batch = refold_batch

    async def run(self) -> None:
        """Judge due complaints forever."""
        await asyncio.gather(
            self._loop("timed", self.judge_due, refold=False),
            self._loop("refold", self.refold_due, refold=True),
        )

    async def _loop(self, name: str, judge: Callable[[], Awaitable[bool]], *, refold: bool) -> None:
        while True:
            try:
                # The watermark the round judges by (its fence is read before any await)
                fence = self._fence()
                if not await judge():
                    wait, waiting_for_word = await self._idle(refold=refold)
                    if waiting_for_word and self._word is not None:
                        # a check is due: the next watermark may allow it (one heard since
                        # the round read its fence, at once)
                        await self._word(wait, None if fence is None else fence.heard)
                    else:
                        await asyncio.sleep(wait)
            except asyncio.CancelledError:
                raise
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("sla scheduler (%s): database unavailable (%s); retrying", name, exc)
                await asyncio.sleep(1.0)
            except Rebuilding:  # this copy's version is being built: the swap comes first
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("sla scheduler (%s): round failed; retrying", name)
                await asyncio.sleep(1.0)

    async def _idle(self, *, refold: bool) -> tuple[float, bool]:
        """Seconds until the next check of the kind falls due (and its grace passed), at most
        ``tick``; and whether one is due already, yet not judged (the log not applied, or the
        watermark not past it yet)."""
        async with self._write() as conn:
            earliest = await store.earliest_check(conn, refold=refold)
        if earliest is None:
            return self._tick, False
        margin = self._grace if self._fence() is None else timedelta(0)
        wait = (earliest + margin - self._now()).total_seconds()
        if wait <= 0:  # due, yet not judged: the log is not applied that far yet
            return min(0.02, self._tick), True
        return min(wait, self._tick), False

    async def judged_until(self) -> tuple[datetime, dict[int, datetime]] | None:
        """``(now, until)``: the timers of a complaint keyed to partition ``p`` are judged up to
        ``until[p]`` (``None``: not yet).

        That is as far as the partition is applied, and before the workflow's watermark: its
        decisions stamped before the watermark are in the log below the watermark's offsets,
        so a partition applied to its end, or to its offset there, holds them. Without a
        fresh watermark, a grace before the instant the partition is applied to."""
        now = self._now()
        fence = self._fence()  # before the ends of the log are read
        applied = await self._consumer.applied_by_partition(
            now, None if fence is None else fence.offsets
        )
        if applied is None:
            return None  # the log is being replayed from a point with nothing applied yet
        FENCE_BEHIND.set(float("nan") if fence is None else (now - fence.before).total_seconds())
        if fence is None:
            untils = {p: min(now, at) - self._grace for p, at in applied.items()}
        else:
            # Only decisions stamped strictly before the fence are known to be in the log.
            before = fence.before - timedelta(microseconds=1)
            untils = {p: min(now, at, before) for p, at in applied.items()}
        if untils:
            JUDGED_BEHIND.set((now - min(untils.values())).total_seconds())
        return now, untils

    async def judge_due(self) -> bool:
        """Judge the complaints whose agenda is due (up to a batch); whether more are due."""
        return await self._round(fold_again=False)

    async def refold_due(self) -> bool:
        """Fold the complaints an event arrived for (up to a batch); whether more are due."""
        return await self._round(fold_again=True)

    async def _round(self, *, fold_again: bool) -> bool:
        """Take up to a batch of due complaints of the kind, judge each as far as its
        partition allows (``judgeable``): folded again (``fold_again``) or from its agenda."""
        instants = await self.judged_until()
        if instants is None:
            return False
        now, untils = instants
        batch = self._refold_batch if fold_again else self._batch
        async with self._write() as conn:  # the live generation, never one being built
            latest = max(untils.values())
            due = await store.due_complaints(conn, latest, batch, refold=fold_again)
            judged = judgeable(due, untils)
            published = []
            for until, rows in judged.items():
                if fold_again:
                    published += await refold(
                        conn,
                        rules=self.rules,
                        topic=self._topic,
                        complaints=[(row["complaint_id"], row["office"]) for row in rows],
                        until=until,
                        now=now,
                    )
                else:
                    published += await judge_from_agenda(
                        conn,
                        topic=self._topic,
                        complaint_ids=[row["complaint_id"] for row in rows],
                        until=until,
                        now=now,
                    )
        if published:
            self._relay.wake()
        return len(due) == batch and bool(judged)  # else: wait for the partitions

    async def run_once(self) -> bool:
        """One round of each loop (due agendas first); whether more are due."""
        more = await self.judge_due()
        return await self.refold_due() or more

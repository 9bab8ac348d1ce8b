"""Clocks (wall, working, handed over between offices) and the timers that run on them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import NamedTuple, Protocol
from uuid import UUID

import contracts  # noqa: F401  (importing registers every event the policy may name)
from contracts.lifecycle import ComplaintResumed
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from services.sla.calendar import BusinessCalendar
from services.sla.policy.spans import (
    ClockKind,
)

# --------------------------------------------------------------------------------------------
# Clocks and timers
# --------------------------------------------------------------------------------------------


class Clock(Protocol):
    """What a timer counts: wall time, or one office's working time."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of counted time after ``start``."""
        ...

    def between(self, a: datetime, b: datetime) -> timedelta:
        """The counted time from ``a`` to ``b`` (``b`` not before ``a``)."""
        ...


@dataclass(frozen=True)
class WallClock:
    """Every second counts: nights, weekends and holidays too (the 30-minute first response)."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``start + duration``, computed in UTC so offsets never matter."""
        return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)

    def between(self, a: datetime, b: datetime) -> timedelta:
        """``b - a`` as elapsed real time."""
        if b < a:
            raise ValueError("time is counted forward: b is before a")
        return b.astimezone(UTC) - a.astimezone(UTC)


@dataclass(frozen=True)
class WorkingClock:
    """Only an office's working time counts (see ``services.sla.calendar``)."""

    calendar: BusinessCalendar
    office: str

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant ``duration`` of the office's working time after ``start``."""
        return self.calendar.add_working_time(self.office, start, duration)

    def between(self, a: datetime, b: datetime) -> timedelta:
        """The office's working time from ``a`` to ``b``."""
        return self.calendar.working_time_between(self.office, a, b)


@dataclass(frozen=True)
class HandoverClock:
    """One office's clock until ``at``, another office's from ``at`` on: a complaint moved to
    another office (跨项目转办) counts the time it has left on the new office's calendar.

    Working time is time the office is open, so the time left carries over as it is (four
    working hours left at Y园 are four working hours of the new office); the new office's own
    targets apply through ``TimerPolicy.retargeted``.
    """

    before: Clock
    after: Clock
    at: datetime

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """``duration`` counted on the first clock up to ``at``, the rest on the second."""
        if start >= self.at:
            return self.after.add(start, duration)
        used = self.before.between(start, self.at)
        if duration <= used:
            return self.before.add(start, duration)
        return self.after.add(self.at, duration - used)

    def between(self, a: datetime, b: datetime) -> timedelta:
        """The time counted from ``a`` to ``b``: each side of ``at`` on its own clock."""
        if b <= self.at:
            return self.before.between(a, b)
        if a >= self.at:
            return self.after.between(a, b)
        return self.before.between(a, self.at) + self.after.between(self.at, b)


def clock_kind(clock: Clock) -> ClockKind:
    """``working`` for an office's working time (now), ``wall`` for every second."""
    if isinstance(clock, HandoverClock):
        return clock_kind(clock.after)
    return "working" if isinstance(clock, WorkingClock) else "wall"


class TimerState(StrEnum):
    """Where a timer stands at an instant."""

    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"


class SlaAlert(NamedTuple):
    """An event the SLA service owes at an instant: its deterministic id, when it became due,
    and its body (a warning or breach of a timer, or the scheduled end of a suspension)."""

    event_id: UUID
    due_at: datetime
    data: SlaWarning | SlaBreached | ComplaintResumed


Pause = tuple[datetime, datetime | None]
"""When a timer was paused, and when it resumed (``None``: still paused)."""


@dataclass(frozen=True)
class Timer:
    """One timer of one complaint: its target and the history of its starts and pauses.

    ``target`` and ``hard_limit`` are time on ``clock`` (working time for a working clock).
    """

    kind: str
    clock: Clock
    started_at: datetime
    target: timedelta
    description: str
    warning_share: float = 0.8
    hard_limit: timedelta | None = None
    pauses: tuple[Pause, ...] = field(default=())
    stopped_at: datetime | None = None
    cancelled_at: datetime | None = None

    def __post_init__(self) -> None:
        _aware(self.started_at)
        if self.target < timedelta(0):
            raise ValueError("a timer's target cannot be negative")
        if self.hard_limit is not None and self.hard_limit < self.target:
            raise ValueError("a hard limit cannot come before the target")
        if not 0 < self.warning_share < 1:
            raise ValueError("the warning share lies strictly between 0 and 1")

    @classmethod
    def start(
        cls,
        kind: str,
        clock: Clock,
        at: datetime,
        target: timedelta,
        *,
        description: str,
        warning_share: float = 0.8,
        hard_limit: timedelta | None = None,
    ) -> Timer:
        """A timer of ``kind`` running from ``at`` towards ``target`` of time on ``clock``."""
        return cls(
            kind=kind,
            clock=clock,
            started_at=at,
            target=target,
            description=description,
            warning_share=warning_share,
            hard_limit=hard_limit,
        )

    # -- changes ------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """Neither stopped nor cancelled: still counting, or paused."""
        return self.stopped_at is None and self.cancelled_at is None

    @property
    def paused(self) -> bool:
        """Whether the timer is paused now (its last pause has not resumed)."""
        return bool(self.pauses) and self.pauses[-1][1] is None

    @cached_property  # a timer never changes; ``as_of`` asks for it at every view
    def last_change(self) -> datetime:
        """The latest instant in the timer's history; changes may not go back before it."""
        moments = [self.started_at, self.stopped_at, self.cancelled_at]
        for paused, resumed in self.pauses:
            moments += [paused, resumed]
        return max(m for m in moments if m is not None)

    def pause(self, at: datetime) -> Timer:
        """The timer paused at ``at`` (waiting for the owner, say): time stops counting."""
        self._check_change(at)
        if self.paused:
            raise ValueError(f"{self.kind} is already paused")
        return replace(self, pauses=(*self.pauses, (at, None)))

    def resume(self, at: datetime) -> Timer:
        """The timer counting again from ``at``; the deadline moves by the paused time."""
        self._check_change(at)
        if not self.paused:
            raise ValueError(f"{self.kind} is not paused")
        return replace(self, pauses=(*self.pauses[:-1], (self.pauses[-1][0], at)))

    def stop(self, at: datetime) -> Timer:
        """The timer stopped at ``at`` by the event it waits for (met, or breached if late)."""
        self._check_change(at)
        return replace(self._resumed(at), stopped_at=at)

    def cancel(self, at: datetime) -> Timer:
        """The timer ended at ``at`` without its event (complaint closed, withdrawn, merged)."""
        self._check_change(at)
        return replace(self._resumed(at), cancelled_at=at)

    def retarget(
        self,
        at: datetime,
        target: timedelta,
        *,
        hard_limit: timedelta | None,
        warning_share: float,
        description: str,
    ) -> Timer:
        """The timer with another target from ``at`` on (a priority set at judgment).

        Counted from the same start, but a deadline never moves before ``at``: a complaint
        found urgent after its shorter target had passed is overdue from that instant, not
        retroactively.
        """
        self._check_change(at)
        used = self.elapsed(at)
        target = max(target, used)
        if hard_limit is not None:
            hard_limit = max(hard_limit, target)
        return replace(
            self,
            target=target,
            hard_limit=hard_limit,
            warning_share=warning_share,
            description=description,
        )

    def handed_over(self, at: datetime, clock: Clock) -> Timer:
        """The timer counting on ``clock`` from ``at`` on (the complaint changed office);
        the time counted before ``at`` stays as it was."""
        self._check_change(at)
        if clock == self.clock:
            return self
        return replace(self, clock=HandoverClock(self.clock, clock, at))

    def _resumed(self, at: datetime) -> Timer:
        # Ending while paused closes the pause at the same instant, so the history stays a
        # plain sequence of counting and paused stretches.
        return self.resume(at) if self.paused else self

    def _check_change(self, at: datetime) -> None:
        _aware(at)
        if not self.active:
            raise ValueError(f"{self.kind} has ended already")
        if at < self.last_change:
            raise ValueError(f"{self.kind} cannot change before its last change")

    # -- deadlines ----------------------------------------------------------------------------

    @cached_property  # a timer never changes: each instant is worked out once
    def deadline(self) -> datetime | None:
        """When the target is reached; ``None`` while a pause hides it (it moves on resume)."""
        return self._instant_when(self.target)

    @cached_property  # a timer never changes: each instant is worked out once
    def warning_at(self) -> datetime | None:
        """When the warning share of the target is used; ``None`` while a pause hides it."""
        return self._instant_when(self.target * self.warning_share)

    @cached_property  # a timer never changes: each instant is worked out once
    def hard_deadline(self) -> datetime | None:
        """When the hard limit is reached; ``None`` without a hard limit or while paused."""
        return None if self.hard_limit is None else self._instant_when(self.hard_limit)

    def _instant_when(self, budget: timedelta) -> datetime | None:
        # Walk the counting stretches, spending the budget; a stretch cut by a pause that is
        # still open leaves the instant unknown until the timer resumes.
        left, cursor = budget, self.started_at
        for paused, resumed in self.pauses:
            run = self.clock.between(cursor, paused)
            if run >= left:
                return self.clock.add(cursor, left)
            left -= run
            if resumed is None:
                return None
            cursor = resumed
        return self.clock.add(cursor, left)

    # -- at an instant ------------------------------------------------------------------------

    def as_of(self, now: datetime) -> Timer:
        """The timer as it stood at ``now``: changes recorded after ``now`` left out."""
        _aware(now)
        if now < self.started_at:
            raise ValueError(f"{self.kind} had not started at {now.isoformat()}")
        if now >= self.last_change:
            return self  # nothing recorded after ``now``: the timer itself (its instants known)
        pauses = tuple(
            (paused, resumed if resumed is not None and resumed <= now else None)
            for paused, resumed in self.pauses
            if paused <= now
        )
        return replace(
            self,
            pauses=pauses,
            stopped_at=_if_by(self.stopped_at, now),
            cancelled_at=_if_by(self.cancelled_at, now),
        )

    def elapsed(self, now: datetime) -> timedelta:
        """Time counted by ``now`` on the timer's clock (working time for a working clock)."""
        past = self.as_of(now)
        end = past.stopped_at or past.cancelled_at or now
        total, cursor = timedelta(0), past.started_at
        for paused, resumed in past.pauses:
            total += past.clock.between(cursor, paused)
            if resumed is None:
                return total
            cursor = resumed
        return total + past.clock.between(cursor, end)

    def remaining(self, now: datetime) -> timedelta:
        """Target minus elapsed at ``now``; negative once overdue (by that much counted time)."""
        return self.target - self.elapsed(now)

    def state_at(self, now: datetime) -> TimerState:
        """Running, paused, met, breached or cancelled at ``now``.

        Stopped at or before the deadline is met; a deadline reached while still running (or
        a stop after it) is breached, and stays breached when paused or cancelled later.
        """
        past = self.as_of(now)
        deadline = past.deadline
        if past.stopped_at is not None:
            return TimerState.MET if _within(past.stopped_at, deadline) else TimerState.BREACHED
        if past.cancelled_at is not None:
            within = _within(past.cancelled_at, deadline)
            return TimerState.CANCELLED if within else TimerState.BREACHED
        if deadline is not None and now >= deadline:
            return TimerState.BREACHED
        return TimerState.PAUSED if past.paused else TimerState.RUNNING

    def is_hard_breached(self, now: datetime) -> bool:
        """Whether the hard limit was missed by ``now`` (always False without a hard limit)."""
        past = self.as_of(now)
        hard = past.hard_deadline
        end = past.stopped_at or past.cancelled_at
        if hard is None:
            return False
        return not _within(end, hard) if end is not None else now >= hard

    def alerts_due(self, complaint_id: UUID, now: datetime) -> list[SlaAlert]:
        """The SLA events this timer owes by ``now``, each with its deterministic id.

        A warning while still running once the warning share is used; a breach once the
        deadline is missed; a hard breach once the hard limit is. Publishing them again is
        harmless: the ids repeat. A deadline moved by a pause is a new deadline with new ids.
        """
        past = self.as_of(now)
        alerts: list[SlaAlert] = []
        state = past.state_at(now)
        deadline, warning_at = past.deadline, past.warning_at
        if state is TimerState.RUNNING and warning_at is not None and now >= warning_at:
            assert deadline is not None  # running: nothing hides the deadline
            alerts.append(
                SlaAlert(
                    sla_event_id(complaint_id, self.kind, deadline, AlertKind.WARNING),
                    warning_at,
                    SlaWarning(
                        timer=self.kind,
                        deadline=deadline,
                        target=self.description,
                        share=self.warning_share,
                    ),
                )
            )
        if state is TimerState.BREACHED and deadline is not None:
            alerts.append(self._breach(complaint_id, deadline, hard=False))
        hard = past.hard_deadline
        if hard is not None and past.is_hard_breached(now):
            alerts.append(self._breach(complaint_id, hard, hard=True))
        return alerts

    def _breach(self, complaint_id: UUID, deadline: datetime, *, hard: bool) -> SlaAlert:
        kind = AlertKind.HARD_BREACHED if hard else AlertKind.BREACHED
        return SlaAlert(
            sla_event_id(complaint_id, self.kind, deadline, kind),
            deadline,
            SlaBreached(timer=self.kind, deadline=deadline, hard=hard),
        )


def _if_by(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment <= now else None


def _within(end: datetime, deadline: datetime | None) -> bool:
    # A deadline still hidden by a pause was not reached before that pause.
    return deadline is None or end <= deadline


def _aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timers take timezone-aware instants only: {at!r}")

"""SLA policy as data, and the timers it runs per complaint (时限管理).

Pure: values in, values out; time arrives as ``at``/``now``. The only I/O is ``load_policy``
reading ``policy.yaml``, kept apart from ``parse_policy``.

The policy names each **timer kind**: the events that start, stop, pause and resume it, and
its target, either a span (``30 minutes``, ``1 working day``) or a deadline carried by the
starting event (``deadline_from: deadline`` of ``DepartmentAssigned``). A span in working
hours or days runs on the office's business calendar (``services.sla.calendar``), anything
else on the wall clock; a deadline from an event is an instant a person chose, so it is kept
exactly and runs on the wall clock. A kind may carry a hard limit beyond its target, and a
warning share (0.8: warn when 80% of the target is used). Offices may override targets, hard
limits and warning shares per kind.

The timers of the shipped ``policy.yaml`` and why (DOMAIN.md):

=================  ============================  =============================================
first_response     30 minutes, wall clock        首问责任制; stops on ComplaintAcknowledged
reply              1 working day, hard limit 3   step 9; starts on ComplaintReceived (and again
                                                 on ComplaintReopened); stops on OwnerReplied
                                                 *or* TimeCommitted: a time commitment is the
                                                 answer step 9 asks for when none can be given
                                                 at once, and it starts ``promise``
assignment         1 working day                 steps 3-4: acknowledged (again on 退单
                                                 ComplaintSentBack) until DepartmentAssigned,
                                                 当场解决, or a judgment ``invalid``
conclude           2 working days                an invalid complaint (judged or re-judged so)
                                                 until closed (or a department takes it)
department         DepartmentAssigned.deadline   step 4 限期解决; stops on PlanImplemented or
                                                 退单; a re-assignment or a 转派
                                                 (ComplaintTransferred) with a deadline
                                                 restarts it, a 转派 without one keeps it
promise            TimeCommitted.promised_at     step 9 时间承诺; stops on the reply that
                                                 fulfils it; a new commitment restarts it
revisit            2 working days                step 10 回访; starts on PlanImplemented, stops
                                                 on RevisitRecorded
close              1 working day                 step 11: a revisit (or an on-the-spot
                                                 resolution not revisited) until closed, or
                                                 reopened
rework             3 working days                reopened until a plan is carried out again
                                                 (or a department is assigned anew)
=================  ============================  =============================================

Together they leave no step of an open complaint without a running (or, while suspended,
paused) clock: ``policy.yaml`` lists which covers which step. An event of ``office_from``
(ComplaintOfficeTransferred) moves the complaint to another office from its instant: running
timers count on that office's calendar (``HandoverClock``) with its targets.

``cancels_on`` (closed, withdrawn, merged) ends every running timer without a verdict.

A **timer** (``Timer``) is immutable: ``start``, then ``pause``/``resume``/``stop``/``cancel``
return new timers with the change recorded. Its deadline is recomputed from that history:
time spent paused does not count, so a pause moves the deadline later by the working (or
wall) time it would have used. A timer is *met* when stopped at or before its deadline,
*breached* once the deadline passes without the stop (also when stopped later); a breach
stays a breach whatever happens afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, NamedTuple, Protocol, Self
from uuid import UUID

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

import contracts  # noqa: F401  (importing registers every event the policy may name)
from contracts.enums import Priority
from contracts.envelope import EventData, latest_version, registered_events
from contracts.lifecycle import ComplaintResumed
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from services.sla.calendar import BusinessCalendar

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yaml")

ClockKind = Literal["wall", "working"]
SpanUnit = Literal["minutes", "hours", "working_hours", "working_days"]

_SPAN = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>minutes?|hours?|working hours?|working days?)\s*$"
)
_SPAN_LABELS = {
    "minutes": "分钟",
    "hours": "小时",
    "working_hours": "个工作小时",
    "working_days": "个工作日",
}


# --------------------------------------------------------------------------------------------
# Spans of time, as the policy writes them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A length of time as the policy states it: ``30 minutes``, ``1 working day``."""

    amount: float
    unit: SpanUnit

    @classmethod
    def parse(cls, text: str) -> Span:
        """``"3 working days"`` → ``Span(3, "working_days")``; minutes, hours, working hours too."""
        match = _SPAN.match(text)
        if match is None:
            raise ValueError(
                f"not a span of time: {text!r} (write e.g. '30 minutes', '4 hours', "
                "'4 working hours', '1 working day')"
            )
        amount = float(match["amount"])
        if amount <= 0:
            raise ValueError(f"a span of time must be positive: {text!r}")
        unit = match["unit"].replace(" ", "_")
        return cls(amount, _unit(unit if unit.endswith("s") else unit + "s"))

    @property
    def clock(self) -> ClockKind:
        """``working`` for working hours and days, ``wall`` for minutes and hours."""
        return "working" if self.unit.startswith("working") else "wall"

    def duration(self, working_day: timedelta) -> timedelta:
        """The span as time on its clock, given the office's working-day length."""
        if self.unit == "minutes":
            return timedelta(minutes=self.amount)
        if self.unit in ("hours", "working_hours"):
            return timedelta(hours=self.amount)
        return working_day * self.amount

    @property
    def label(self) -> str:
        """The span in zh-CN words: ``1个工作日``, ``30分钟``."""
        amount = f"{self.amount:g}"
        return f"{amount}{_SPAN_LABELS[self.unit]}"


def _unit(text: str) -> SpanUnit:
    for unit in ("minutes", "hours", "working_hours", "working_days"):
        if text == unit:
            return unit
    raise ValueError(f"unknown unit {text!r}")  # pragma: no cover  (the regex allows no other)


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

    @property
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


# --------------------------------------------------------------------------------------------
# The policy file
# --------------------------------------------------------------------------------------------

Share = Annotated[float, Field(gt=0, lt=1)]
EventNames = Annotated[list[str], Field(default_factory=list)]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _OfficeTimerDoc(_Doc):
    target: str | None = None
    hard_limit: str | None = None
    warning_share: Share | None = None


class _TimerDoc(_Doc):
    label: Annotated[str, Field(min_length=1, max_length=50)]
    starts_on: Annotated[list[str], Field(min_length=1)]
    stops_on: Annotated[list[str], Field(min_length=1)]
    pauses_on: EventNames
    resumes_on: EventNames
    where: dict[str, dict[str, bool | str | int]] = Field(default_factory=dict)
    target: str | None = None
    deadline_from: str | None = None
    hard_limit: str | None = None
    warning_share: Share | None = None
    since: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.target is None) == (self.deadline_from is None):
            raise ValueError("give a timer exactly one of `target` and `deadline_from`")
        if self.hard_limit is not None and self.deadline_from is not None:
            raise ValueError("a deadline from an event has no hard limit")
        if bool(self.pauses_on) != bool(self.resumes_on):
            raise ValueError("a timer that pauses needs events that resume it, and back")
        return self


class _PolicyDoc(_Doc):
    warning_share: Share = 0.8
    cancels_on: EventNames
    priority_from: EventNames
    office_from: EventNames
    timers: dict[str, _TimerDoc]
    priorities: dict[Priority, dict[str, _OfficeTimerDoc]] = Field(default_factory=dict)
    offices: dict[str, dict[str, _OfficeTimerDoc]] = Field(default_factory=dict)


@dataclass(frozen=True)
class OfficeChange:
    """What one office changes in one timer kind; ``None`` keeps the company's value."""

    target: Span | None = None
    hard_limit: Span | None = None
    warning_share: float | None = None


@dataclass(frozen=True)
class TimerPolicy:
    """One timer kind as one office runs it: its events, target, hard limit, warning share."""

    kind: str
    label: str
    starts_on: frozenset[str]
    stops_on: frozenset[str]
    pauses_on: frozenset[str]
    resumes_on: frozenset[str]
    target: Span | None
    deadline_from: str | None
    hard_limit: Span | None
    warning_share: float
    where: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    since: datetime | None = None

    def starts_at(self, at: datetime) -> bool:
        """Whether a timer of this kind starts at ``at``: not before the kind's ``since``.

        A kind added to a running system would otherwise start, in every open complaint's
        history, at events long past — and breach at once on the rollout. The instant is data
        (the policy's), so a rebuild folds exactly as the live service did.
        """
        return self.since is None or at >= self.since

    def counts(self, event: EventData) -> bool:
        """Whether ``event`` counts for this timer: it does unless ``where`` asks its fields
        for values it does not have (a reply that does not fulfil a promise, say)."""
        wanted = self.where.get(event.event_type, {})
        return all(getattr(event, name, None) == value for name, value in wanted.items())

    def retargeted(
        self, timer: Timer, at: datetime, *, calendar: BusinessCalendar, office: str
    ) -> Timer:
        """A running ``timer`` of this kind given this policy's target from ``at`` on."""
        if self.target is None or not timer.active:
            return timer
        day = calendar.working_day_length(office)
        target = self.target.duration(day)
        hard = self.hard_limit.duration(day) if self.hard_limit else None
        description = f"{self.label}：{self.target.label}"
        if (target, hard, description) == (timer.target, timer.hard_limit, timer.description):
            return timer
        return timer.retarget(
            max(at, timer.last_change),
            target,
            hard_limit=hard,
            warning_share=self.warning_share,
            description=description,
        )

    @property
    def clock(self) -> ClockKind:
        """``working`` when the target is in working hours or days, else ``wall``."""
        return self.target.clock if self.target is not None else "wall"

    def start(
        self,
        at: datetime,
        *,
        office: str,
        calendar: BusinessCalendar,
        event: EventData | None = None,
    ) -> Timer:
        """A timer of this kind started at ``at`` for ``office`` by ``event``.

        ``event`` is needed when the deadline comes from it (``deadline_from``). A deadline
        already past at ``at`` gives a timer breached from its start; it is then counted as
        started at that deadline with nothing left, so the breach reports the very deadline
        the person set.
        """
        if self.target is None:
            deadline = getattr(event, self.deadline_from or "", None)
            if not isinstance(deadline, datetime):
                raise ValueError(f"{self.kind} takes its deadline from the event that starts it")
            local = deadline.astimezone(calendar.zone)
            start = min(at, deadline)
            return Timer.start(
                self.kind,
                WallClock(),
                start,
                deadline.astimezone(UTC) - start.astimezone(UTC),
                description=f"{self.label}：{local:%Y-%m-%d %H:%M}前",
                warning_share=self.warning_share,
            )
        clock: Clock = WorkingClock(calendar, office) if self.clock == "working" else WallClock()
        day = calendar.working_day_length(office)
        return Timer.start(
            self.kind,
            clock,
            at,
            self.target.duration(day),
            description=f"{self.label}：{self.target.label}",
            warning_share=self.warning_share,
            hard_limit=self.hard_limit.duration(day) if self.hard_limit else None,
        )


class SlaPolicy:
    """Every timer kind, company-wide, with what each office changes."""

    def __init__(
        self,
        timers: Mapping[str, TimerPolicy],
        *,
        cancels_on: Iterable[str] = (),
        offices: Mapping[str, Mapping[str, OfficeChange]] | None = None,
        priority_from: Iterable[str] = (),
        priorities: Mapping[Priority, Mapping[str, OfficeChange]] | None = None,
        office_from: Iterable[str] = (),
    ) -> None:
        """A policy from its parts; ``parse_policy`` builds one from YAML text."""
        self._timers = dict(timers)
        self.cancels_on = frozenset(cancels_on)
        self._offices = {name: dict(kinds) for name, kinds in (offices or {}).items()}
        self.priority_from = frozenset(priority_from)
        self.office_from = frozenset(office_from)
        self._priorities = {p: dict(kinds) for p, kinds in (priorities or {}).items()}

    @property
    def events(self) -> frozenset[str]:
        """Every event type the policy reacts to (offices and priorities change targets only)."""
        names = {"ComplaintReceived", *self.cancels_on, *self.priority_from, *self.office_from}
        for rules in self._timers.values():
            names |= rules.starts_on | rules.stops_on | rules.pauses_on | rules.resumes_on
        return frozenset(names)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The timer kinds, in the order the policy lists them."""
        return tuple(self._timers)

    def timer(self, kind: str, office: str, priority: Priority | None = None) -> TimerPolicy:
        """Timer ``kind`` as ``office`` runs it for a complaint of ``priority``: the company's,
        with the office's changes, then the priority's (an urgent complaint's shorter target
        applies in every office)."""
        rules = self._timers[kind]
        for change, where in (
            (self._offices.get(office, {}).get(kind), f"offices.{office}.{kind}"),
            (
                self._priorities.get(priority, {}).get(kind) if priority else None,
                f"priorities.{priority}.{kind}",
            ),
        ):
            if change is not None:
                rules = _changed(rules, change, where)
        return rules


def _changed(base: TimerPolicy, change: OfficeChange, where: str) -> TimerPolicy:
    return _checked(
        replace(
            base,
            target=change.target or base.target,
            hard_limit=change.hard_limit or base.hard_limit,
            warning_share=change.warning_share or base.warning_share,
        ),
        where=where,
    )


def _checked(policy: TimerPolicy, *, where: str) -> TimerPolicy:
    # One clock per timer: its target and hard limit must both be working time or both wall.
    if policy.target is not None and policy.hard_limit is not None:
        if policy.target.clock != policy.hard_limit.clock:
            raise ValueError(f"{where}: target and hard limit must count the same clock")
        same_unit = policy.target.unit == policy.hard_limit.unit
        if same_unit and policy.hard_limit.amount < policy.target.amount:
            raise ValueError(f"{where}: the hard limit comes before the target")
    return policy


def parse_policy(text: str) -> SlaPolicy:
    """An SLA policy from the text of a policy YAML file (see ``policy.yaml``).

    Refuses event names no contract registers (a typo would leave a timer never stopped),
    a ``deadline_from`` field the starting events lack, and office changes to unknown kinds.
    """
    doc = _PolicyDoc.model_validate(yaml.safe_load(text))
    known = {event_type for event_type, _ in registered_events()}
    _known_events(doc.cancels_on, known, "cancels_on")
    _known_events(doc.priority_from, known, "priority_from")
    lacking = [t for t in doc.priority_from if "priority" not in _fields_of(t)]
    if lacking:
        raise ValueError(f"priority_from: {', '.join(lacking)} has no field 'priority'")
    _known_events(doc.office_from, known, "office_from")
    lacking = [t for t in doc.office_from if "to_office" not in _fields_of(t)]
    if lacking:
        raise ValueError(f"office_from: {', '.join(lacking)} has no field 'to_office'")
    timers = {
        kind: _timer_policy(kind, item, known, doc.warning_share)
        for kind, item in doc.timers.items()
    }
    offices: dict[str, dict[str, OfficeChange]] = {}
    for office, kinds in doc.offices.items():
        for kind, change in kinds.items():
            if kind not in timers:
                raise ValueError(f"offices.{office}: no timer kind {kind!r}")
            if timers[kind].deadline_from is not None and (change.target or change.hard_limit):
                raise ValueError(f"offices.{office}.{kind}: its deadline comes from the event")
            offices.setdefault(office, {})[kind] = _change(change)
    priorities: dict[Priority, dict[str, OfficeChange]] = {}
    for priority, kinds in doc.priorities.items():
        for kind, change in kinds.items():
            where = f"priorities.{priority.value}.{kind}"
            if kind not in timers:
                raise ValueError(f"{where}: no timer kind {kind!r}")
            if timers[kind].deadline_from is not None:
                raise ValueError(f"{where}: its deadline comes from the event")
            priorities.setdefault(priority, {})[kind] = _change(change)
    if priorities and not doc.priority_from:
        raise ValueError("priorities: name the events that carry the priority (priority_from)")
    policy = SlaPolicy(
        timers,
        cancels_on=doc.cancels_on,
        offices=offices,
        priority_from=doc.priority_from,
        priorities=priorities,
        office_from=doc.office_from,
    )
    for office in [*offices, ""]:
        for kind in timers:
            for level in [None, *priorities]:
                policy.timer(kind, office, level)  # raises when a change is inconsistent
    return policy


def _timer_policy(kind: str, item: _TimerDoc, known: set[str], warning_share: float) -> TimerPolicy:
    """One timer kind of the file, its events and fields checked against the contracts."""
    for name in ("starts_on", "stops_on", "pauses_on", "resumes_on"):
        _known_events(getattr(item, name), known, f"timers.{kind}.{name}")
    if item.deadline_from is not None:
        lacking = [t for t in item.starts_on if item.deadline_from not in _fields_of(t)]
        if lacking:
            raise ValueError(
                f"timers.{kind}: {', '.join(lacking)} has no field {item.deadline_from!r}"
            )
    named = set(item.starts_on + item.stops_on + item.pauses_on + item.resumes_on)
    for event_type, wanted in item.where.items():
        if event_type not in named:
            raise ValueError(f"timers.{kind}.where: {event_type} is not one of its events")
        missing = sorted(set(wanted) - _fields_of(event_type))
        if missing:
            raise ValueError(
                f"timers.{kind}.where: {event_type} has no field(s) {', '.join(missing)}"
            )
    return _checked(
        TimerPolicy(
            kind=kind,
            label=item.label,
            starts_on=frozenset(item.starts_on),
            stops_on=frozenset(item.stops_on),
            pauses_on=frozenset(item.pauses_on),
            resumes_on=frozenset(item.resumes_on),
            target=Span.parse(item.target) if item.target else None,
            deadline_from=item.deadline_from,
            hard_limit=Span.parse(item.hard_limit) if item.hard_limit else None,
            warning_share=item.warning_share or warning_share,
            where={t: dict(w) for t, w in item.where.items()},
            since=item.since,
        ),
        where=f"timers.{kind}",
    )


def _change(change: _OfficeTimerDoc) -> OfficeChange:
    """An office's or a priority's change to a timer kind's targets."""
    return OfficeChange(
        target=Span.parse(change.target) if change.target else None,
        hard_limit=Span.parse(change.hard_limit) if change.hard_limit else None,
        warning_share=change.warning_share,
    )


def _fields_of(event_type: str) -> set[str]:
    """The fields of the newest version of an event type (what the policy sees of it)."""
    return set(latest_version(event_type).model_fields)


def _known_events(names: Iterable[str], known: set[str], where: str) -> None:
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"{where}: unknown event type(s) {', '.join(unknown)}")


def load_policy(path: Path = DEFAULT_POLICY_FILE) -> SlaPolicy:
    """Read and parse a policy YAML file: the one I/O of this module."""
    return parse_policy(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# Timers driven by events
# --------------------------------------------------------------------------------------------


def office_after(event: EventData, office: str, policy: SlaPolicy) -> str:
    """The complaint's office after ``event``: its ``to_office`` for an event of the policy's
    ``office_from`` (跨项目转办), else ``office`` as it was."""
    if event.event_type in policy.office_from:
        return str(getattr(event, "to_office", None) or office)
    return office


def apply_event(  # long on purpose: the documented order of one event's effects, in one place
    timers: Mapping[str, Timer],
    event: EventData,
    *,
    at: datetime,
    office: str,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    priority: Priority | None = None,
) -> dict[str, Timer]:
    """A complaint's timers (by kind) after ``event`` happened at ``at`` at ``office``.

    In this order: each active timer whose kind stops on the event stops (an event counts
    only where its fields match the kind's ``where``), even when the event also ends the
    complaint — the ``close`` timer is *met* by the close; otherwise ``cancels_on`` ends it;
    otherwise it pauses or resumes as its kind says; an event of ``priority_from`` gives the
    running timers the targets of its priority; an event of ``office_from`` (the complaint
    moved to another office) hands every running timer over to the new office's calendar
    from ``at`` and gives it the new office's targets. Then every kind the event starts is
    started afresh, replacing an earlier timer of that kind (a re-assignment's new deadline,
    a new promise) — except where the deadline it takes from the event is empty (a transfer
    that keeps the department's deadline keeps its timer). ``office`` and ``priority`` are the
    complaint's before this event. An event stamped before a timer's last change counts as
    happening at that change: the log's order is the truth, and a clock that refused it would
    stop counting altogether.

    A replaced or ended timer owes no further alerts, so a caller that publishes alerts
    collects ``alerts_due(complaint_id, at)`` of the timers it holds *before* applying the
    event: a breach that happened just before a re-assignment is then still reported.
    """
    event_type = event.event_type
    if event_type in policy.priority_from:
        priority = getattr(event, "priority", None) or priority
    moved_to = office_after(event, office, policy)
    result = dict(timers)
    for kind, timer in timers.items():
        if not timer.active:
            continue
        when = max(at, timer.last_change)
        known = kind in policy.kinds  # a kind dropped from the policy follows no event
        rules = policy.timer(kind, office, priority) if known else None
        if rules is not None and event_type in rules.stops_on and rules.counts(event):
            result[kind] = timer.stop(when)
        elif event_type in policy.cancels_on:
            result[kind] = timer.cancel(when)
        elif rules is None or not rules.counts(event):
            continue
        elif event_type in rules.pauses_on and not timer.paused:
            result[kind] = timer.pause(when)
        elif event_type in rules.resumes_on and timer.paused:
            result[kind] = timer.resume(when)
        elif event_type in policy.priority_from:
            result[kind] = rules.retargeted(timer, at, calendar=calendar, office=office)
        elif moved_to != office:
            moved = policy.timer(kind, moved_to, priority)
            clock = WorkingClock(calendar, moved_to) if moved.clock == "working" else WallClock()
            if moved.deadline_from is None:
                timer = timer.handed_over(when, clock)
            result[kind] = moved.retargeted(timer, when, calendar=calendar, office=moved_to)
    if event_type not in policy.cancels_on:
        for kind in policy.kinds:
            rules = policy.timer(kind, moved_to, priority)
            if event_type not in rules.starts_on or not rules.counts(event):
                continue
            if not rules.starts_at(at):
                continue  # the kind was not in force yet
            if rules.deadline_from is not None and getattr(event, rules.deadline_from) is None:
                continue  # no new deadline: the running timer (if any) keeps its own
            result[kind] = rules.start(at, office=moved_to, calendar=calendar, event=event)
    return result

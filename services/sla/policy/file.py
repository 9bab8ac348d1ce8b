"""The policy file: its shape, its checks against the contracts, and the policy it makes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

import contracts  # noqa: F401  (importing registers every event the policy may name)
from contracts.enums import Priority
from contracts.envelope import EventData, latest_version, registered_events
from services.sla.calendar import BusinessCalendar
from services.sla.policy.clocks import (
    Clock,
    Timer,
    WallClock,
    WorkingClock,
)
from services.sla.policy.spans import (
    DEFAULT_POLICY_FILE,
    ClockKind,
    Span,
)

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
        self._kinds = tuple(self._timers)
        self.pauses_on = frozenset(t for rules in self._timers.values() for t in rules.pauses_on)
        """Every event type that pauses a timer of some kind (offices and priorities change
        targets only, never what pauses)."""
        self.resumes_on = frozenset(t for rules in self._timers.values() for t in rules.resumes_on)
        """Every event type that resumes a timer of some kind."""
        # ``timer`` for each (kind, office, priority) asked: a fold asks it for every kind at
        # every event, and an office's or a priority's change was merged and checked again
        # each time (16 % of a fold's CPU). The parts above are not changed after this.
        self._resolved: dict[tuple[str, str, Priority | None], TimerPolicy] = {}

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
        return self._kinds

    def timer(self, kind: str, office: str, priority: Priority | None = None) -> TimerPolicy:
        """Timer ``kind`` as ``office`` runs it for a complaint of ``priority``: the company's,
        with the office's changes, then the priority's (an urgent complaint's shorter target
        applies in every office)."""
        key = (kind, office, priority)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._merged(kind, office, priority)
        return found

    def _merged(self, kind: str, office: str, priority: Priority | None) -> TimerPolicy:
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

"""Judging one complaint under some rules, and comparing two judgments of a period. Pure."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts import EventData
from contracts.sla import AlertKind, SlaBreached, SlaWarning
from services.sla.scheduler import SlaRules
from services.sla.timers import fold, owed

Alert = tuple[str, AlertKind]
"""(timer kind, what happened to it): ``("reply", AlertKind.BREACHED)``."""


def judged(
    history: Sequence[tuple[EventData, datetime]],
    *,
    complaint_id: UUID,
    office: str,
    rules: SlaRules,
    until: datetime,
) -> frozenset[Alert]:
    """The warnings and breaches a complaint owed by ``until`` under ``rules``.

    Only the events that happened by ``until`` are folded: the complaint as it stood then.
    Breaches are what ``timers.owed`` says at ``until``. A warning is owed while its timer
    runs past the warning share; judged only at ``until``, a timer that went on to breach
    would owe none, so each timer is also judged at its own warning instant — as the live
    scheduler, which looks at every complaint when its next alert falls due, does. (One case
    stays uncounted: the warning of a timer replaced — a re-assignment, a reopening — after
    it had already breached; its breach is counted.)
    """
    return frozenset(
        judged_in_offices(
            history, complaint_id=complaint_id, office=office, rules=rules, until=until
        )
    )


def judged_in_offices(
    history: Sequence[tuple[EventData, datetime]],
    *,
    complaint_id: UUID,
    office: str,
    rules: SlaRules,
    until: datetime,
) -> dict[Alert, str]:
    """``judged``, each alert with the office it counts for: the complaint's office at the
    alert's instant (a complaint moved to another office, 跨项目转办, counts for the new one
    from the transfer on; ``office`` is the office it was received at)."""
    known = [(event, at) for event, at in history if at <= until]
    if not known:
        return {}
    folded = fold(
        known,
        complaint_id=complaint_id,
        office=office,
        policy=rules.policy,
        calendar=rules.calendar,
    )
    due = owed(folded, complaint_id, until)
    for timer in folded.timers.values():
        warn = timer.warning_at
        if warn is not None and timer.started_at <= warn <= until:
            due += timer.alerts_due(complaint_id, warn)
    alerts: dict[Alert, str] = {}
    for alert in sorted(due, key=lambda a: a.due_at):
        data = alert.data
        where = folded.office_at(alert.due_at)
        if isinstance(data, SlaWarning):
            alerts[(data.timer, AlertKind.WARNING)] = where
        elif isinstance(data, SlaBreached):
            kind = AlertKind.HARD_BREACHED if data.hard else AlertKind.BREACHED
            alerts[(data.timer, kind)] = where
    return alerts


@dataclass(frozen=True)
class Outcome:
    """One complaint of the period: its alerts as they were, as they would have been, and
    (when known) as the live service published them.

    ``office`` is where it was received; ``was_offices``/``would_offices`` name the office
    an alert counts for where it is another (the complaint had moved office by then).
    """

    complaint_id: UUID
    office: str
    occurred_at: datetime
    was: frozenset[Alert]
    would: frozenset[Alert]
    published: frozenset[Alert] | None = None
    was_offices: Mapping[Alert, str] = field(default_factory=dict)
    would_offices: Mapping[Alert, str] = field(default_factory=dict)


def _breached(alerts: frozenset[Alert], timer: str) -> bool:
    return (timer, AlertKind.BREACHED) in alerts or (timer, AlertKind.HARD_BREACHED) in alerts


@dataclass(frozen=True)
class Change:
    """A complaint that changes sides for one timer."""

    complaint_id: UUID
    occurred_at: datetime
    breached_was: bool

    @property
    def direction(self) -> str:
        """``no_longer_breached`` or ``newly_breached``."""
        return "no_longer_breached" if self.breached_was else "newly_breached"


@dataclass
class Row:
    """One office (or the company, ``office`` = ``None``) and one timer kind."""

    office: str | None
    timer: str
    warned: list[int] = field(default_factory=lambda: [0, 0])  # [was, would]
    breached: list[int] = field(default_factory=lambda: [0, 0])
    hard: list[int] = field(default_factory=lambda: [0, 0])
    changes: list[Change] = field(default_factory=list)

    @property
    def newly_breached(self) -> list[UUID]:
        """Complaints not breached as they were, breached as they would have been."""
        return [c.complaint_id for c in self.changes if not c.breached_was]

    @property
    def no_longer_breached(self) -> list[UUID]:
        """Complaints breached as they were, not as they would have been."""
        return [c.complaint_id for c in self.changes if c.breached_was]

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            "office": self.office,
            "timer": self.timer,
            "warnings": {"was": self.warned[0], "would_be": self.warned[1]},
            "breaches": {"was": self.breached[0], "would_be": self.breached[1]},
            "hard_breaches": {"was": self.hard[0], "would_be": self.hard[1]},
            "no_longer_breached": [str(c) for c in self.no_longer_breached],
            "newly_breached": [str(c) for c in self.newly_breached],
        }


@dataclass(frozen=True)
class Comparison:
    """Per office and timer kind (rows with something on either side), and company totals."""

    rows: list[Row]
    totals: list[Row]
    complaints: int


def compare(outcomes: Iterable[Outcome], timer_order: Sequence[str] = ()) -> Comparison:
    """Count, per office and timer kind, the complaints warned, breached and hard-breached as
    they were and as they would have been, and list those whose breach changes sides.

    Pure. Offices are sorted by name; timer kinds follow ``timer_order`` (the policies' order),
    then any other kind by name. Only (office, kind) pairs with a warning or breach on either
    side get a row; ``totals`` has one row per such kind for the whole company.
    """
    rows: dict[tuple[str | None, str], Row] = {}
    count = 0
    for outcome in outcomes:
        count += 1
        # Per side: (office, timer) → what happened; office None is the company total. An
        # alert counts for the office the complaint belonged to at its instant.
        sides: list[dict[tuple[str | None, str], set[AlertKind]]] = []
        for alerts, moved in (
            (outcome.was, outcome.was_offices),
            (outcome.would, outcome.would_offices),
        ):
            found: dict[tuple[str | None, str], set[AlertKind]] = defaultdict(set)
            for timer, kind in alerts:
                found[(moved.get((timer, kind), outcome.office), timer)].add(kind)
                found[(None, timer)].add(kind)
            sides.append(found)
        for cell in {*sides[0], *sides[1]}:
            row = rows.setdefault(cell, Row(*cell))
            breached = [False, False]
            for side, found in enumerate(sides):
                kinds = found.get(cell, set())
                breached[side] = bool(kinds & {AlertKind.BREACHED, AlertKind.HARD_BREACHED})
                row.warned[side] += AlertKind.WARNING in kinds
                row.breached[side] += breached[side]
                row.hard[side] += AlertKind.HARD_BREACHED in kinds
            if breached[0] != breached[1]:
                row.changes.append(Change(outcome.complaint_id, outcome.occurred_at, breached[0]))
    order = {t: i for i, t in enumerate(timer_order)}

    def key(row: Row) -> tuple[str, int, str]:
        return (row.office or "", order.get(row.timer, len(order)), row.timer)

    for row in rows.values():
        row.changes.sort(key=lambda c: (c.occurred_at, str(c.complaint_id)))
    offices = sorted((r for r in rows.values() if r.office is not None), key=key)
    totals = sorted((r for r in rows.values() if r.office is None), key=key)
    return Comparison(rows=offices, totals=totals, complaints=count)


@dataclass(frozen=True)
class Disagreement:
    """A complaint's timer where the log's published alerts differ from the fold under the
    live rules."""

    complaint_id: UUID
    office: str
    timer: str
    published: list[str]
    folded: list[str]


def published_check(outcomes: Iterable[Outcome]) -> tuple[int, int, list[Disagreement]]:
    """(warnings, breaches published in the log for these complaints, the (complaint, timer)
    pairs whose published breaches differ from the fold under the live rules). Pure.

    Breaches only: a breach is a fact whenever it is judged, but whether a warning was
    published depends on when the live scheduler looked (a complaint recorded days after it
    happened is judged once, already breached, and never warned).
    """
    warnings = breaches = 0
    differ: list[Disagreement] = []
    for o in outcomes:
        if o.published is None:
            continue
        warnings += sum(1 for _, k in o.published if k is AlertKind.WARNING)
        breaches += sum(1 for _, k in o.published if k is not AlertKind.WARNING)
        for timer in sorted({t for t, _ in o.published | o.was}):
            mine = sorted(k.value for t, k in o.was if t == timer and k is not AlertKind.WARNING)
            theirs = sorted(
                k.value for t, k in o.published if t == timer and k is not AlertKind.WARNING
            )
            if mine != theirs:
                office = o.was_offices.get((timer, AlertKind.BREACHED), o.office)
                differ.append(Disagreement(o.complaint_id, office, timer, theirs, mine))
    return warnings, breaches, differ

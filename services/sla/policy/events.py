"""Timers driven by events: what one event does to a complaint's timers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import contracts  # noqa: F401  (importing registers every event the policy may name)
from contracts.enums import Priority
from contracts.envelope import EventData
from services.sla.calendar import BusinessCalendar
from services.sla.policy.clocks import (
    Timer,
    WallClock,
    WorkingClock,
)
from services.sla.policy.file import (
    SlaPolicy,
)

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

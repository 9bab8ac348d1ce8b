"""A complaint's timers folded from its events, and the SLA alerts it owes (pure).

``fold`` replays a complaint's history through the policy. Before each event it collects the
alerts its timers already owed at that event's instant: a breach that happened before a
re-assignment or a reply is a fact, even though the event then replaced or stopped the timer.
``owed`` adds what the timers still running owe by ``until``; ``next_check`` says when the
next alert could fall due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from contracts import EventData
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from services.sla.calendar import BusinessCalendar
from services.sla.policy import SlaAlert, SlaPolicy, Timer, apply_event


@dataclass(frozen=True)
class Folded:
    """A complaint's timers after its history, and the alerts owed at its events' instants."""

    timers: dict[str, Timer]
    owed_before: list[SlaAlert]


def fold(
    history: Sequence[tuple[EventData, datetime]],
    *,
    complaint_id: UUID,
    office: str,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
) -> Folded:
    """Replay ``(event, occurred_at)`` pairs, oldest first, into timers and owed alerts."""
    timers: dict[str, Timer] = {}
    owed: dict[UUID, SlaAlert] = {}
    for event, at in history:
        for timer in timers.values():
            if at < timer.started_at:  # stamped before the timer began: it owed nothing yet
                continue
            for alert in timer.alerts_due(complaint_id, at):
                owed.setdefault(alert.event_id, alert)
        timers = apply_event(timers, event, at=at, office=office, policy=policy, calendar=calendar)
    return Folded(timers=timers, owed_before=list(owed.values()))


def owed(folded: Folded, complaint_id: UUID, until: datetime) -> list[SlaAlert]:
    """Every alert due by ``until``, oldest first, each once."""
    alerts = {a.event_id: a for a in folded.owed_before if a.due_at <= until}
    for timer in folded.timers.values():
        if until < timer.started_at:
            continue
        for alert in timer.alerts_due(complaint_id, until):
            alerts.setdefault(alert.event_id, alert)
    return sorted(alerts.values(), key=lambda a: a.due_at)


def next_check(folded: Folded, complaint_id: UUID, after: datetime) -> datetime | None:
    """The earliest instant after ``after`` at which a running timer may owe a new alert."""
    moments: list[datetime] = []
    for timer in folded.timers.values():
        if not timer.active or timer.paused:
            continue  # ended timers owe nothing new; a paused one waits for its resume event
        for moment in (timer.warning_at, timer.deadline, timer.hard_deadline):
            if moment is not None and moment > after:
                moments.append(moment)
    return min(moments, default=None)


def alert_kind(alert: SlaAlert) -> AlertKind:
    """Warning, breach or hard breach."""
    if isinstance(alert.data, SlaWarning):
        return AlertKind.WARNING
    assert isinstance(alert.data, SlaBreached)
    return AlertKind.HARD_BREACHED if alert.data.hard else AlertKind.BREACHED


__all__ = ["Folded", "alert_kind", "fold", "next_check", "owed", "sla_event_id"]

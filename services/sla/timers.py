"""A complaint's timers folded from its events, and the events it owes (pure).

``fold`` replays a complaint's history through the policy. Before each event it collects the
alerts its timers already owed at that event's instant: a breach that happened before a
re-assignment or a reply is a fact, even though the event then replaced or stopped the timer.
``owed`` adds what the timers still running owe by ``until``; ``next_check`` says when the
next alert could fall due.

Suspensions (暂缓) are followed here as well as by the policy's ``pauses_on``/``resumes_on``:

* a timer that starts while the complaint is suspended starts paused, if its kind pauses on
  the event that suspended it;
* a ``ComplaintResumed`` of another suspension than the open one (a scheduled resume that
  crossed a staff resume and a new suspension) resumes nothing;
* a suspension with an ``until`` owes a ``ComplaintResumed`` at that instant: the SLA service
  publishes it (``scheduled_resume_id`` makes a republication the same event), the workflow
  and every other reader see the complaint resume, and the timers resume at exactly ``until``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from contracts import EventData
from contracts.enums import Priority
from contracts.lifecycle import (
    SCHEDULER,
    ComplaintResumed,
    ComplaintSuspended,
    scheduled_resume_id,
)
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from services.sla.calendar import BusinessCalendar
from services.sla.policy import SlaAlert, SlaPolicy, Timer, apply_event, office_after

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Folded:
    """A complaint's timers after its history, and the events owed at its events' instants.

    ``resume`` is the scheduled end of the open suspension, when it has an ``until``.
    ``offices`` is where the complaint belonged from when: ``(received_at, office)`` first,
    then one ``(occurred_at, to_office)`` per office transfer (跨项目转办).
    """

    timers: dict[str, Timer]
    owed_before: list[SlaAlert]
    priority: Priority | None = None
    resume: SlaAlert | None = None
    offices: tuple[tuple[datetime, str], ...] = ()

    @property
    def office(self) -> str:
        """The office the complaint belongs to after its whole history."""
        return self.offices[-1][1]

    def office_at(self, at: datetime) -> str:
        """The office the complaint belonged to at ``at`` (its first office before it was
        received): an alert counts for the office of its instant."""
        found = self.offices[0][1]
        for since, office in self.offices:
            if since <= at:
                found = office
        return found


def fold(  # long on purpose: one pass whose running state (office, priority, pause) all read
    history: Sequence[tuple[EventData, datetime]],
    *,
    complaint_id: UUID,
    office: str,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
) -> Folded:
    """Replay ``(event, occurred_at)`` pairs, oldest first, into timers and owed alerts.

    ``office`` is the office the complaint was received at; an office transfer moves it.
    """
    offices: list[tuple[datetime, str]] = [(history[0][1] if history else _EPOCH, office)]
    timers: dict[str, Timer] = {}
    owed: dict[UUID, SlaAlert] = {}
    priority: Priority | None = None
    suspension: ComplaintSuspended | None = None
    paused_by: str | None = None  # the event type of the open pause, if any
    for event, at in history:
        if isinstance(event, ComplaintResumed) and (
            suspension is None or event.suspension_no != suspension.suspension_no
        ):
            continue  # resumes another suspension than the open one: nothing to resume
        for timer in timers.values():
            if at < timer.started_at:  # stamped before the timer began: it owed nothing yet
                continue
            for alert in timer.alerts_due(complaint_id, at):
                owed.setdefault(alert.event_id, alert)
        before = timers
        timers = apply_event(
            timers,
            event,
            at=at,
            office=office,
            policy=policy,
            calendar=calendar,
            priority=priority,
        )
        if event.event_type in policy.priority_from:
            priority = getattr(event, "priority", None) or priority
        moved_to = office_after(event, office, policy)
        if moved_to != office:
            office = moved_to
            offices.append((at, office))
        if paused_by is not None:
            # A timer started while suspended starts paused, as it would have been paused.
            for kind, timer in timers.items():
                started = before.get(kind) is not timer and timer.active and not timer.pauses
                if started and paused_by in policy.timer(kind, office, priority).pauses_on:
                    timers[kind] = timer.pause(at)
        if isinstance(event, ComplaintSuspended):
            suspension = suspension or event
        elif isinstance(event, ComplaintResumed):
            suspension = None
        if event.event_type in policy.cancels_on:
            suspension = paused_by = None
        elif event.event_type in policy.pauses_on:
            paused_by = paused_by or event.event_type
        elif event.event_type in policy.resumes_on:
            paused_by = None
    return Folded(
        timers=timers,
        owed_before=list(owed.values()),
        priority=priority,
        resume=_scheduled_resume(complaint_id, suspension),
        offices=tuple(offices),
    )


def _scheduled_resume(complaint_id: UUID, suspension: ComplaintSuspended | None) -> SlaAlert | None:
    if suspension is None or suspension.until is None:
        return None
    return SlaAlert(
        scheduled_resume_id(complaint_id, suspension.suspension_no, suspension.until),
        suspension.until,
        ComplaintResumed(
            actor=SCHEDULER,
            suspension_no=suspension.suspension_no,
            scheduled=True,
            note="暂缓期满，自动恢复处理",
        ),
    )


def owed(folded: Folded, complaint_id: UUID, until: datetime) -> list[SlaAlert]:
    """Every event due by ``until``, oldest first, each once (a scheduled resume included)."""
    alerts = {a.event_id: a for a in folded.owed_before if a.due_at <= until}
    for timer in folded.timers.values():
        if until < timer.started_at:
            continue
        for alert in timer.alerts_due(complaint_id, until):
            alerts.setdefault(alert.event_id, alert)
    if folded.resume is not None and folded.resume.due_at <= until:
        alerts.setdefault(folded.resume.event_id, folded.resume)
    return sorted(alerts.values(), key=lambda a: a.due_at)


def next_check(folded: Folded, complaint_id: UUID, after: datetime) -> datetime | None:
    """The earliest instant after ``after`` at which a running timer may owe a new alert, or
    the open suspension ends by itself."""
    moments: list[datetime] = []
    for timer in folded.timers.values():
        if not timer.active or timer.paused:
            continue  # ended timers owe nothing new; a paused one waits for its resume event
        for moment in (timer.warning_at, timer.deadline, timer.hard_deadline):
            if moment is not None and moment > after:
                moments.append(moment)
    if folded.resume is not None and folded.resume.due_at > after:
        moments.append(folded.resume.due_at)
    return min(moments, default=None)


@dataclass(frozen=True)
class Pending:
    """An event the folded timers will owe from ``owed_from`` on (up to ``owed_until``,
    exclusive, when it stops being owed: a warning once its deadline is reached), as long as
    no new event changes the complaint."""

    alert: SlaAlert
    owed_from: datetime
    owed_until: datetime | None


def owed_and_agenda(
    folded: Folded, complaint_id: UUID, after: datetime
) -> tuple[list[SlaAlert], list[Pending]]:
    """``owed(folded, complaint_id, after)``, and what ``owed`` will add after ``after``, by
    the instants it becomes owed, until a new event: the stored state the scheduler judges
    due timers from without folding again.

    For every ``t > after`` (and no new event), ``owed(folded, cid, t)`` is
    ``owed(folded, cid, after)`` plus the alerts ``p`` with ``p.owed_from <= t`` and
    ``t < p.owed_until`` (when it is not ``None``).

    ``owed`` is a union of sources, each owing its alerts over spans of time: an alert owed
    before an event, from its due instant on; the scheduled resume likewise; and each timer,
    which owes the same between two of its own instants (its recorded changes later than
    ``after``: events stamped after it; and the warning, deadline and hard limit of each view
    of it as of such a change), ``alerts_due`` at the earlier one. So each timer is asked
    once per instant of its own, and an alert's span is the union of its sources' spans from
    the first that begins: an alert owed at ``after`` is not on the agenda, and one owed
    again after a gap keeps its first span (as ``owed`` at the instants in between says).
    Where several sources owe one alert, the body is the one ``owed`` gives: owed before an
    event first, then the timers in order, then the resume.
    """
    spans: dict[UUID, list[tuple[datetime, datetime | None, int, SlaAlert]]] = {}
    before: dict[UUID, SlaAlert] = {}  # what ``owed`` gives at ``after``, in its order

    def owes(alert: SlaAlert, since: datetime, until: datetime | None, source: int) -> None:
        if since <= after:
            before.setdefault(alert.event_id, alert)
        else:
            spans.setdefault(alert.event_id, []).append((since, until, source, alert))

    for a in folded.owed_before:
        owes(a, a.due_at, None, 0)
    for number, timer in enumerate(folded.timers.values(), start=1):
        instants = _own_instants(timer, after)
        starts = [after, *instants]
        for at, since in enumerate(starts):
            if since < timer.started_at:
                continue
            until = starts[at + 1] if at + 1 < len(starts) else None
            for alert in timer.alerts_due(complaint_id, since):
                owes(alert, since, until, number)
    if folded.resume is not None:
        owes(folded.resume, folded.resume.due_at, None, len(folded.timers) + 1)

    pending = []
    for event_id, owed_spans in spans.items():
        if event_id in before:
            continue
        owed_spans.sort(key=lambda span: (span[0], span[2]))
        owed_from, until, _, alert = owed_spans[0]
        for since, ends, _, _ in owed_spans[1:]:
            if until is None or since > until:
                break  # owed for good, or a gap: the first span is the agenda's
            until = None if ends is None else max(until, ends)
        pending.append(Pending(alert, owed_from, until))
    return (
        sorted(before.values(), key=lambda a: a.due_at),
        sorted(pending, key=lambda p: (p.owed_from, p.alert.due_at)),
    )


def _own_instants(timer: Timer, after: datetime) -> list[datetime]:
    """The instants after ``after`` at which what ``timer`` owes may change, in order: its
    recorded changes later than ``after``, and the warning, deadline and hard limit of the
    timer and of its views as of ``after`` and of each such change."""
    mine: set[datetime] = set()
    changes = [timer.started_at, timer.stopped_at, timer.cancelled_at]
    for paused, resumed in timer.pauses:
        changes += [paused, resumed]
    views = [timer]
    for change in changes:
        if change is not None and change > after:
            mine.add(change)
            views.append(timer.as_of(change))
    if after >= timer.started_at:
        views.append(timer.as_of(after))
    for view in views:
        for moment in (view.warning_at, view.deadline, view.hard_deadline):
            if moment is not None and moment > after:
                mine.add(moment)
    return sorted(mine)


def alert_kind(alert: SlaAlert) -> AlertKind:
    """Warning, breach or hard breach (of a timer's alert; not of a scheduled resume)."""
    if isinstance(alert.data, SlaWarning):
        return AlertKind.WARNING
    assert isinstance(alert.data, SlaBreached)
    return AlertKind.HARD_BREACHED if alert.data.hard else AlertKind.BREACHED


def alert_labels(alert: SlaAlert) -> tuple[str, str]:
    """``(timer, kind)`` for the alerts metric; a scheduled resume is ``(suspension, resumed)``."""
    if isinstance(alert.data, ComplaintResumed):
        return "suspension", "resumed"
    return alert.data.timer, alert_kind(alert).value


__all__ = [
    "Folded",
    "Pending",
    "alert_kind",
    "alert_labels",
    "fold",
    "next_check",
    "owed",
    "owed_and_agenda",
    "sla_event_id",
]

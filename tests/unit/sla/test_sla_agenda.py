"""The agenda the scheduler judges due timers from (no history replayed) owes exactly what
folding the history again would owe, at every instant until a new event arrives."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from bench.rebuild_services import histories
from contracts import encode_event
from contracts.enums import Priority
from contracts.lifecycle import ComplaintAcknowledged, DepartmentAssigned
from services.sla.calendar import load_calendar
from services.sla.policy import load_policy
from services.sla.scheduler import _alert_envelope
from services.sla.timers import Folded, fold, owed, owed_and_agenda
from tests.unit.sla.test_sla_exceptions import (
    AGENT,
    CID,
    HEAD,
    MON_0900,
    at,
    judged,
    received,
    resumed,
    start,
    suspended,
)

POLICY = load_policy()
CALENDAR = load_calendar()


def owed_ids(f: Folded, cid: UUID, t: datetime) -> set[UUID]:
    return {a.event_id for a in owed(f, cid, t)}


def check_agenda(f: Folded, cid: UUID, after: datetime, probes: list[datetime]) -> int:
    """For every probe later than ``after``: what the fold owes beyond what it owed at
    ``after`` is what the agenda says is owed then. Returns how many agenda entries there
    were (so that a test can see it exercised something)."""
    owed_now, pending = owed_and_agenda(f, cid, after)
    assert owed_now == owed(f, cid, after)  # the alerts and their order, as the scheduler sends
    moments = {p.owed_from for p in pending} | {p.owed_until for p in pending if p.owed_until}
    probes = sorted(
        {t for t in probes if t > after}
        | {m + d for m in moments for d in (-timedelta(microseconds=1), timedelta(0))}
    )
    before = owed_ids(f, cid, after)
    for t in probes:
        if t <= after:
            continue
        now_owed = {a.event_id: a for a in owed(f, cid, t)}
        from_agenda = {
            p.alert.event_id: p.alert
            for p in pending
            if p.owed_from <= t and (p.owed_until is None or t < p.owed_until)
        }
        # The same alerts as the fold makes, with the same bodies and instants.
        assert from_agenda == {i: a for i, a in now_owed.items() if i not in before}, (after, t)
    return len(pending)


def test_generated_lives_judged_at_every_step_owe_what_their_agenda_says() -> None:
    lives: dict[UUID, list[Any]] = defaultdict(list)
    for envelope, data in histories(12, seed=5, alerts=False, days=5):
        lives[envelope.complaint_id].append((envelope, data))
    entries = 0
    for cid, life in lives.items():
        office = life[0][1].office
        history = [(data, envelope.occurred_at) for envelope, data in life]
        f = fold(history, complaint_id=cid, office=office, policy=POLICY, calendar=CALENDAR)
        instants = [at for _, at in history]
        # Judged after every event, and also before later events were read (stamped after
        # the judgment: the agenda must follow the timers' recorded changes too).
        afters = [*instants, *(t + timedelta(minutes=7) for t in instants)]
        probes = [instants[0] + timedelta(minutes=m) for m in range(0, 60 * 24 * 12, 173)]
        for after in afters:
            entries += check_agenda(f, cid, after, probes)
    assert entries > 20


@pytest.mark.parametrize(
    "extra",
    [
        [(suspended(), at(23, "11:00"))],
        [(suspended(), at(23, "11:00")), (resumed(), at(25, "10:00"))],
        [(suspended(at(25, "10:00")), at(23, "11:00"))],
        [(judged(Priority.URGENT), at(23, "09:20"))],
        [
            (
                DepartmentAssigned(
                    actor=HEAD, department="财务部", deadline=at(24, "10:00"), reason="manual"
                ),
                at(23, "10:00"),
            ),
            (suspended(), at(23, "12:00")),
            (resumed(), at(23, "18:00")),
        ],
    ],
)
def test_suspended_and_resumed_lives_owe_what_their_agenda_says(extra: list[Any]) -> None:
    history = [*start(), *extra]
    f = fold(history, complaint_id=CID, office="Y园", policy=POLICY, calendar=CALENDAR)
    probes = [MON_0900 + timedelta(minutes=m) for m in range(0, 60 * 24 * 14, 97)]
    afters = [t for _, t in history] + [at(23, "10:30"), at(24, "12:00"), at(26, "09:00")]
    for after in afters:  # (a paused clock may owe nothing at all: the probes check that)
        check_agenda(f, CID, after, probes)


def test_a_stop_after_the_judgment_ends_what_the_agenda_owes() -> None:
    # Read up to 09:05, the reply at 09:10 already recorded: no breach of first response.
    history = [(received(), MON_0900), (ComplaintAcknowledged(actor=AGENT), at(23, "09:10"))]
    f = fold(history, complaint_id=CID, office="Y园", policy=POLICY, calendar=CALENDAR)
    _, pending = owed_and_agenda(f, CID, at(23, "09:05"))
    assert not [p for p in pending if getattr(p.alert.data, "timer", "") == "first_response"]


def test_an_alert_is_the_same_bytes_from_a_replay_and_from_the_stored_agenda() -> None:
    """The agenda's due instants come back from PostgreSQL in UTC, a replay's in the
    calendar's zone: the published alert must not depend on which path judged it (a restore
    decides an alert again, and the copies must be the same event but for ``recorded_at``)."""
    f = fold(
        [(received(), MON_0900)], complaint_id=CID, office="Y园", policy=POLICY, calendar=CALENDAR
    )
    alerts = owed(f, CID, at(30, "09:00"))
    assert alerts, "a complaint left alone a week owes alerts"
    now = at(30, "09:00")
    for alert in alerts:
        assert alert.due_at.utcoffset() != timedelta(0), "replayed in the calendar's zone"
        from_agenda = alert._replace(due_at=alert.due_at.astimezone(UTC))
        assert encode_event(_alert_envelope(CID, from_agenda, now)) == encode_event(
            _alert_envelope(CID, alert, now)
        )

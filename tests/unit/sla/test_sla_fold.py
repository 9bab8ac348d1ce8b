"""Folding a complaint's history into timers and the alerts it owes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Channel, ComplaintReceived
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.lifecycle import Actor, ComplaintAcknowledged, DepartmentAssigned, Role
from contracts.sla import SlaBreached, SlaWarning
from services.sla.calendar import load_calendar
from services.sla.policy import load_policy
from services.sla.timers import fold, next_check, owed

POLICY = load_policy()
CALENDAR = load_calendar()
CID = uuid.uuid4()
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in China
ACTOR = Actor(staff_id="A1", role=Role.CS_AGENT)


def received(at: datetime) -> ComplaintReceived:
    return ComplaintReceivedV3.from_submission(
        Channel.HOTLINE,
        Submission.model_validate(
            {
                "submission_id": "s-1",
                "office": "Y园",
                "unit": "1栋101",
                "subject": "漏水",
                "complainant": {"name": "业主", "phone": "13812345678"},
                "description": "楼上漏水",
                "occurred_at": at.isoformat(),
            }
        ),
    )


def folded(*history: tuple[Any, datetime]) -> Any:
    return fold(list(history), complaint_id=CID, office="Y园", policy=POLICY, calendar=CALENDAR)


def test_unacknowledged_complaint_owes_a_warning_then_a_breach_of_first_response() -> None:
    f = folded((received(T0), T0))
    assert owed(f, CID, T0 + timedelta(minutes=10)) == []
    warned = owed(f, CID, T0 + timedelta(minutes=25))
    assert [type(a.data) for a in warned] == [SlaWarning]
    breached = owed(f, CID, T0 + timedelta(minutes=31))
    assert [(type(a.data), a.data.timer) for a in breached] == [(SlaBreached, "first_response")]
    assert breached[0].due_at == T0 + timedelta(minutes=30)


def test_acknowledging_in_time_stops_the_clock_before_any_breach() -> None:
    early = folded(
        (received(T0), T0), (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(minutes=20))
    )
    late = T0 + timedelta(hours=2)
    assert [a for a in owed(early, CID, late) if a.data.timer == "first_response"] == []
    # acknowledged after the warning fell due (24 min) but before the deadline: warned only
    close = folded(
        (received(T0), T0), (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(minutes=29))
    )
    alerts = [a for a in owed(close, CID, late) if a.data.timer == "first_response"]
    assert [type(a.data) for a in alerts] == [SlaWarning]


def test_a_breach_before_the_stopping_event_is_still_owed_after_it() -> None:
    f = folded((received(T0), T0), (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(hours=1)))
    alerts = [a for a in owed(f, CID, T0 + timedelta(hours=2)) if a.data.timer == "first_response"]
    # Judged only after the fact (the service was down): the breach is a fact and is owed;
    # a warning is for a clock still running, and this one no longer was.
    assert [type(a.data) for a in alerts] == [SlaBreached]
    assert alerts[0].due_at == T0 + timedelta(minutes=30)


def test_reassignment_with_a_new_deadline_keeps_the_breach_of_the_old_one() -> None:
    first = T0 + timedelta(hours=1)
    second = T0 + timedelta(days=2)
    f = folded(
        (received(T0), T0),
        (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(minutes=5)),
        (
            DepartmentAssigned(actor=ACTOR, department="工程部", deadline=first, reason="manual"),
            T0 + timedelta(minutes=10),
        ),
        (
            DepartmentAssigned(actor=ACTOR, department="工程部", deadline=second, reason="manual"),
            T0 + timedelta(hours=3),
        ),
    )
    dept = [a for a in owed(f, CID, T0 + timedelta(hours=4)) if a.data.timer == "department"]
    assert [(type(a.data), a.data.deadline) for a in dept if isinstance(a.data, SlaBreached)] == [
        (SlaBreached, first)
    ]


def test_same_history_gives_the_same_alert_ids() -> None:
    history = ((received(T0), T0),)
    at = T0 + timedelta(days=10)
    assert [a.event_id for a in owed(folded(*history), CID, at)] == [
        a.event_id for a in owed(folded(*history), CID, at)
    ]


def test_next_check_is_the_earliest_future_warning_or_deadline() -> None:
    f = folded((received(T0), T0))
    assert next_check(f, CID, T0) == T0 + timedelta(minutes=24)  # 80% of 30 minutes
    assert next_check(f, CID, T0 + timedelta(minutes=24)) == T0 + timedelta(minutes=30)


def test_stopped_timers_need_no_further_check() -> None:
    f = folded((received(T0), T0), (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(minutes=1)))
    check = next_check(f, CID, T0 + timedelta(minutes=2))
    assert check is not None and check > T0 + timedelta(minutes=30)  # only the reply timer left

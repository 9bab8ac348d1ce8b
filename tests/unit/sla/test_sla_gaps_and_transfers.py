"""No open complaint without a clock (issue 15.8), and the clocks through 转派, 退单 and
跨项目转办, on the shipped policy and the real business calendar.

Week of Monday 23 November 2026, an ordinary working week; Y园 works 08:30-12:00 and
13:30-18:00, G小城 round the clock every day. Times are China Standard Time.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts import decode_event
from contracts.enums import Priority, ServiceCategory, Validity
from contracts.lifecycle import (
    CauseAnalysed,
    CloseOutcome,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintReopened,
    ComplaintResolvedOnTheSpot,
    ComplaintSentBack,
    ComplaintTransferred,
    DepartmentAssigned,
    OwnerNotReached,
    OwnerReplied,
    PlanApproved,
    PlanImplemented,
    ResolutionProposed,
    RevisitRecorded,
)
from contracts.sla import SlaBreached
from services.sla.calendar import load_calendar
from services.sla.policy import TimerState, load_policy, parse_policy
from services.sla.scheduler import SlaRules
from services.sla.timers import Folded, fold, owed
from services.sla.whatif import Outcome, compare, judged_in_offices
from tests.unit.sla.test_sla_exceptions import AGENT, HEAD, at, received, resumed, suspended

POLICY = load_policy()
CALENDAR = load_calendar()
CID = uuid.UUID("7d2e4f60-3b1a-4c8d-9e0f-1a2b3c4d5e6f")
RUNNING_OR_PAUSED = {TimerState.RUNNING, TimerState.PAUSED, TimerState.BREACHED}


def folded(history: list[tuple[Any, datetime]], office: str = "Y园") -> Folded:
    return fold(history, complaint_id=CID, office=office, policy=POLICY, calendar=CALENDAR)


def judged(validity: Validity = Validity.VALID) -> ComplaintJudged:
    category = None if validity is Validity.INVALID else ServiceCategory.FACILITIES
    return ComplaintJudged(
        actor=AGENT, validity=validity, category=category, priority=Priority.NORMAL
    )


def assigned(deadline: datetime, department: str = "工程部") -> DepartmentAssigned:
    return DepartmentAssigned(actor=HEAD, department=department, deadline=deadline, reason="manual")


def closed(outcome: CloseOutcome = CloseOutcome.SATISFIED) -> ComplaintClosed:
    reason = "" if outcome is CloseOutcome.SATISFIED else "业主仍不满意"
    return ComplaintClosed(actor=HEAD, outcome=outcome, reason=reason)


def reply(final: bool = False) -> OwnerReplied:
    return OwnerReplied(actor=AGENT, message="已答复业主", final=final)


def revisit(satisfied: bool = True, no: int = 1) -> RevisitRecorded:
    return RevisitRecorded(actor=HEAD, visit_no=no, satisfied=satisfied)


def handled_until_implemented() -> list[Any]:
    return [
        CauseAnalysed(actor=HEAD, cause="水管老化", responsible_party="工程部"),
        ResolutionProposed(actor=HEAD, plan_id=1, plan="更换水管"),
        PlanApproved(actor=HEAD, plan_id=1),
        PlanImplemented(actor=HEAD, plan_id=1, summary="已更换"),
    ]


# Each life is the events of one complaint, one every 90 minutes from Monday 09:00: nights
# and the weekend fall between some of them, as they do.
LIVES: dict[str, list[Any]] = {
    "straight, answered early": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        reply(),  # a first answer before the judgment: the reply clock stops here
        judged(),
        assigned(at(30, "18:00")),
        *handled_until_implemented(),
        reply(final=True),
        revisit(),
        closed(),
    ],
    "invalid": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        judged(Validity.INVALID),
        reply(final=True),
        closed(),
    ],
    "on the spot, not revisited": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        judged(Validity.ASSIST),
        ComplaintResolvedOnTheSpot(actor=AGENT, summary="当场处理", revisit=False),
        closed(),
    ],
    "on the spot, revisited": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        judged(),
        ComplaintResolvedOnTheSpot(actor=AGENT, summary="当场处理", revisit=True),
        revisit(),
        closed(),
    ],
    "unsatisfied, reopened, handled again": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        judged(),
        reply(),
        assigned(at(30, "18:00")),
        *handled_until_implemented(),
        revisit(satisfied=False),
        ComplaintReopened(actor=HEAD, reason="业主不满意"),
        reply(),
        CauseAnalysed(actor=HEAD, cause="另有渗漏点", responsible_party="工程部"),
        ResolutionProposed(actor=HEAD, plan_id=2, plan="再次维修"),
        PlanApproved(actor=HEAD, plan_id=2),
        PlanImplemented(actor=HEAD, plan_id=2, summary="已修复"),
        revisit(no=2),
        closed(),
    ],
    "transferred, sent back, suspended": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        reply(),
        judged(),
        assigned(at(30, "18:00"), "保洁部"),
        ComplaintTransferred(
            actor=HEAD, from_department="保洁部", to_department="工程部", reason="不是保洁问题"
        ),
        ComplaintSentBack(actor=HEAD, department="工程部", reason="应由开发商处理"),
        suspended(),
        resumed(),
        assigned(at(30, "18:00"), "工程部"),
        *handled_until_implemented(),
        OwnerNotReached(actor=HEAD, attempt_no=1),
        OwnerNotReached(actor=HEAD, attempt_no=2),
        closed(CloseOutcome.UNREACHABLE),
    ],
    "re-judged invalid, then valid, and closed unsatisfied": [
        received(),
        ComplaintAcknowledged(actor=AGENT),
        judged(),
        reply(),
        ComplaintRejudged(
            actor=HEAD, validity=Validity.INVALID, previous_validity=Validity.VALID, reason="误判"
        ),
        ComplaintRejudged(
            actor=HEAD,
            validity=Validity.VALID,
            category=ServiceCategory.FACILITIES,
            previous_validity=Validity.INVALID,
            reason="复核成立",
        ),
        assigned(at(30, "18:00")),
        *handled_until_implemented(),
        revisit(satisfied=False),
        closed(CloseOutcome.UNSATISFIED),
    ],
}


@pytest.mark.parametrize("life", LIVES)
def test_at_every_step_of_an_open_complaint_a_clock_runs_or_waits_paused(life: str) -> None:
    events = LIVES[life]
    times = [at(23, "09:00") + timedelta(minutes=90 * n) for n in range(len(events))]
    history = list(zip(events, times, strict=True))
    for n in range(1, len(history)):
        f = folded(history[:n])
        # Just after the step and just before the next one: the whole gap between them.
        for moment in (times[n - 1], times[n] - timedelta(seconds=1)):
            running = {
                kind
                for kind, timer in f.timers.items()
                if timer.active and timer.state_at(moment) in RUNNING_OR_PAUSED
            }
            step = type(events[n - 1]).__name__
            assert running, f"{life}: no clock after {step} (step {n}) at {moment}"
    after_close = folded(history)
    assert not [k for k, t in after_close.timers.items() if t.active]


def test_the_close_clock_is_met_by_the_close_not_cancelled() -> None:
    history = [
        (received(), at(23, "09:00")),
        (ComplaintAcknowledged(actor=AGENT), at(23, "09:10")),
        (judged(Validity.ASSIST), at(23, "09:20")),
        (
            ComplaintResolvedOnTheSpot(actor=AGENT, summary="当场处理", revisit=False),
            at(23, "09:20"),
        ),
        (closed(), at(23, "16:00")),
    ]
    timers = folded(history).timers
    assert timers["close"].state_at(at(23, "16:00")) is TimerState.MET
    assert timers["assignment"].state_at(at(23, "16:00")) is TimerState.MET
    assert "revisit" not in timers


def test_an_invalid_complaint_not_closed_in_two_working_days_breaches_conclude() -> None:
    history = [
        (received(), at(23, "09:00")),
        (ComplaintAcknowledged(actor=AGENT), at(23, "09:10")),
        (judged(Validity.INVALID), at(23, "10:00")),
        (reply(final=True), at(23, "11:00")),
    ]
    f = folded(history)
    assert f.timers["assignment"].state_at(at(23, "10:00")) is TimerState.MET
    assert f.timers["conclude"].deadline == at(25, "10:00")
    breached = [a.data for a in owed(f, CID, at(25, "10:01")) if isinstance(a.data, SlaBreached)]
    assert [(b.timer, b.deadline) for b in breached] == [("conclude", at(25, "10:00"))]


def test_an_unanswered_judged_complaint_breaches_assignment_after_one_working_day() -> None:
    history = [
        (received(), at(23, "09:00")),
        (ComplaintAcknowledged(actor=AGENT), at(23, "09:10")),
        (reply(), at(23, "09:30")),
        (judged(), at(23, "10:00")),
    ]
    f = folded(history)
    assert f.timers["reply"].state_at(at(23, "09:30")) is TimerState.MET
    assert f.timers["assignment"].deadline == at(24, "09:10")
    assert f.timers["assignment"].state_at(at(24, "09:11")) is TimerState.BREACHED


# -- 转派 and 退单 ------------------------------------------------------------------------------


def assigned_life() -> list[tuple[Any, datetime]]:
    return [
        (received(), at(23, "09:00")),
        (ComplaintAcknowledged(actor=AGENT), at(23, "09:10")),
        (judged(), at(23, "09:30")),
        (assigned(at(25, "18:00"), "保洁部"), at(23, "10:00")),
    ]


def transferred(deadline: datetime | None) -> ComplaintTransferred:
    return ComplaintTransferred(
        actor=HEAD,
        from_department="保洁部",
        to_department="工程部",
        reason="不是保洁问题",
        deadline=deadline,
    )


def test_a_transfer_with_a_new_deadline_restarts_the_department_clock_with_it() -> None:
    f = folded([*assigned_life(), (transferred(at(27, "12:00")), at(24, "10:00"))])
    department = f.timers["department"]
    assert department.deadline == at(27, "12:00")
    assert department.started_at == at(24, "10:00")


def test_a_transfer_without_a_deadline_keeps_the_department_clock_as_it_was() -> None:
    before = folded(assigned_life()).timers["department"]
    f = folded([*assigned_life(), (transferred(None), at(24, "10:00"))])
    assert f.timers["department"] == before
    assert f.timers["department"].deadline == at(25, "18:00")


def test_a_send_back_stops_the_department_clock_and_the_assignment_clock_runs_again() -> None:
    sent_back = ComplaintSentBack(actor=HEAD, department="保洁部", reason="不属本部门")
    f = folded([*assigned_life(), (sent_back, at(24, "10:00"))])
    assert f.timers["department"].state_at(at(24, "10:00")) is TimerState.MET
    assignment = f.timers["assignment"]
    assert assignment.started_at == at(24, "10:00")
    assert assignment.deadline == at(25, "10:00")  # one working day again
    again = folded(
        [
            *assigned_life(),
            (sent_back, at(24, "10:00")),
            (assigned(at(26, "18:00")), at(24, "11:00")),
        ]
    )
    assert again.timers["assignment"].state_at(at(24, "11:00")) is TimerState.MET
    assert again.timers["department"].deadline == at(26, "18:00")


def test_a_breach_before_the_transfer_is_still_owed() -> None:
    # The department missed Wednesday 18:00; transferred Thursday with a new deadline.
    f = folded([*assigned_life(), (transferred(at(30, "12:00")), at(26, "10:00"))])
    breached = [a.data for a in owed(f, CID, at(26, "10:00")) if isinstance(a.data, SlaBreached)]
    assert ("department", at(25, "18:00")) in [(b.timer, b.deadline) for b in breached]


# -- 跨项目转办 --------------------------------------------------------------------------------


def moved(to_office: str = "G小城", from_office: str = "Y园") -> ComplaintOfficeTransferred:
    return ComplaintOfficeTransferred(
        actor=HEAD, from_office=from_office, to_office=to_office, reason="大门属两个项目共管"
    )


def test_an_office_transfer_moves_the_running_clocks_to_the_new_offices_calendar() -> None:
    # Received Friday 17:00 at Y园 (closes 18:00): one working day would end Monday 17:00.
    start = [(received(), at(27, "17:00")), (ComplaintAcknowledged(actor=AGENT), at(27, "17:05"))]
    assert folded(start).timers["reply"].deadline == at(30, "17:00")
    # Moved at 17:30 to G小城, open round the clock: its working day is 24 hours, of which
    # the half hour counted at Y园 is used; the other 23.5 run through the weekend.
    f = folded([*start, (moved(), at(27, "17:30"))])
    reply = f.timers["reply"]
    assert reply.started_at == at(27, "17:00")
    assert reply.deadline == at(28, "17:00")
    assert reply.elapsed(at(27, "17:30")) == timedelta(minutes=30)
    assert f.office == "G小城"
    assert f.office_at(at(27, "17:29")) == "Y园"
    assert f.office_at(at(27, "17:30")) == "G小城"


def test_a_clock_started_after_the_office_transfer_runs_on_the_new_offices_calendar() -> None:
    f = folded(
        [
            (received(), at(27, "17:00")),
            (moved(), at(27, "17:30")),
            (ComplaintAcknowledged(actor=AGENT), at(27, "18:00")),
        ]
    )
    assert f.timers["assignment"].deadline == at(28, "18:00")  # G小城: 24 hours, Saturday too


def test_a_deadline_a_person_set_is_not_moved_by_an_office_transfer() -> None:
    f = folded([*assigned_life(), (moved(), at(24, "10:00"))])
    assert f.timers["department"].deadline == at(25, "18:00")


def test_an_office_transfer_applies_the_new_offices_own_targets() -> None:
    text = (POLICY_FILE_TEXT + "\n").replace(
        "offices: {}", "offices:\n  HJ花园:\n    reply: {target: 4 working hours}"
    )
    policy = parse_policy(text)
    history = [(received(), at(23, "09:00")), (moved("HJ花园"), at(23, "10:00"))]
    f = fold(history, complaint_id=CID, office="Y园", policy=policy, calendar=CALENDAR)
    assert f.timers["reply"].deadline == at(23, "14:30")  # 4 working hours, lunch excluded


def test_alerts_count_for_the_office_of_their_instant_in_what_if() -> None:
    history = [
        (received(), at(23, "09:00")),
        (ComplaintAcknowledged(actor=AGENT), at(23, "09:05")),
        (moved("HJ花园"), at(25, "09:00")),  # after the reply breached (Tuesday 09:00)
    ]
    rules = SlaRules(POLICY, CALENDAR)
    until = at(30, "09:00")
    alerts = judged_in_offices(history, complaint_id=CID, office="Y园", rules=rules, until=until)
    assert alerts[("reply", "breached")] == "Y园"
    assert alerts[("reply", "hard_breached")] == "HJ花园"  # Thursday 09:00, after the move
    found = compare(
        [
            Outcome(
                CID,
                "Y园",
                at(23, "09:00"),
                frozenset(alerts),
                frozenset(),
                was_offices={a: o for a, o in alerts.items() if o != "Y园"},
            )
        ]
    )
    rows = {(r.office, r.timer): r for r in found.rows}
    assert rows[("Y园", "reply")].breached == [1, 0]
    assert rows[("Y园", "reply")].hard == [0, 0]
    assert rows[("HJ花园", "reply")].hard == [1, 0]
    [total] = [r for r in found.totals if r.timer == "reply"]
    assert (total.breached, total.hard) == ([1, 0], [1, 0])  # one complaint, counted once


POLICY_FILE_TEXT = (
    __import__("services.sla.policy", fromlist=["DEFAULT_POLICY_FILE"])
    .DEFAULT_POLICY_FILE.read_text(encoding="utf-8")
    .rstrip()
)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("office_from: [ComplaintOfficeMoved]", "office_from: unknown event type"),
        ("office_from: [ComplaintReceived]", "office_from: ComplaintReceived has no field"),
    ],
)
def test_a_bad_office_from_in_the_policy_is_refused(change: str, error: str) -> None:
    text = POLICY_FILE_TEXT.replace("office_from: [ComplaintOfficeTransferred]", change)
    with pytest.raises(ValueError, match=error):
        parse_policy(text)


# -- older versions read as before -------------------------------------------------------------

STORED = Path(__file__).parents[1] / "contracts" / "stored_events"


def test_stored_v1_assignments_and_v1_v2_closes_fold_as_the_current_versions() -> None:
    def stored(name: str) -> tuple[Any, datetime]:
        envelope, data = decode_event(STORED.joinpath(name).read_text(encoding="utf-8"))
        return data, envelope.occurred_at

    received_at = datetime.fromisoformat("2026-01-05T09:00:00+08:00")
    assigned_v1 = stored("DepartmentAssigned.v1.json")
    assert type(assigned_v1[0]) is DepartmentAssigned  # upcast on read
    for closing in ("ComplaintClosed.v1.json", "ComplaintClosed.v2.json"):
        closed_old = stored(closing)
        assert type(closed_old[0]) is ComplaintClosed
        f = folded([(received(), received_at), assigned_v1, closed_old])
        department = f.timers["department"]
        assert department.deadline == datetime.fromisoformat("2026-01-09T18:00:00+08:00")
        assert department.cancelled_at == closed_old[1]


def test_a_kind_with_since_starts_only_on_events_from_then_on() -> None:
    text = POLICY_FILE_TEXT.replace(
        "    label: 确定责任部门\n",
        "    label: 确定责任部门\n    since: 2026-11-24T00:00:00+08:00\n",
    )
    policy = parse_policy(text)

    def timers(acknowledged: datetime) -> dict[str, Any]:
        history = [
            (received(), acknowledged - timedelta(minutes=10)),
            (ComplaintAcknowledged(actor=AGENT), acknowledged),
        ]
        return fold(
            history, complaint_id=CID, office="Y园", policy=policy, calendar=CALENDAR
        ).timers

    assert "assignment" not in timers(at(23, "17:00"))  # before the kind was in force
    assert timers(at(24, "09:00"))["assignment"].deadline == at(25, "09:00")
    with pytest.raises(ValueError, match="since"):
        parse_policy(text.replace("2026-11-24T00:00:00+08:00", "2026-11-24T00:00:00"))

"""Clocks through the office's everyday exceptions, on the real business calendar
(``calendar.yaml``, chinese-calendar): 暂缓 pauses and resumes them with the time they had
left, a suspension with ``until`` resumes by itself, a promise is kept only by a fulfilling
reply, an on-the-spot resolution answers the owner and owes a revisit, and an urgent
complaint runs shorter targets.

Week of Monday 23 November 2026, an ordinary working week; Y园 works 08:30-12:00 and
13:30-18:00 (8 working hours a day). Times are China Standard Time.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts import Channel, ComplaintReceived
from contracts.enums import Priority, ServiceCategory, Validity
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.lifecycle import (
    SCHEDULER,
    Actor,
    Awaiting,
    ComplaintAcknowledged,
    ComplaintJudged,
    ComplaintResolvedOnTheSpot,
    ComplaintResumed,
    ComplaintSuspended,
    DepartmentAssigned,
    OwnerReplied,
    PlanImplemented,
    Role,
    TimeCommitted,
    scheduled_resume_id,
)
from contracts.sla import SlaBreached, SlaWarning
from services.sla.calendar import load_calendar
from services.sla.policy import TimerState, load_policy, parse_policy
from services.sla.timers import Folded, fold, next_check, owed

CHINA = ZoneInfo("Asia/Shanghai")
POLICY = load_policy()
CALENDAR = load_calendar()
CID = uuid.UUID("5a0c2f7e-1d3b-4e6a-9f80-7b6c5d4e3f21")
AGENT = Actor(staff_id="A001", role=Role.CS_AGENT)
HEAD = Actor(staff_id="H001", role=Role.CS_HEAD)


def at(day: int, clock: str) -> datetime:
    """An instant of November 2026 in China: at(23, "09:00") is Monday 09:00."""
    return datetime.fromisoformat(f"2026-11-{day:02d}T{clock}").replace(tzinfo=CHINA)


MON_0900 = at(23, "09:00")


def received() -> ComplaintReceived:
    return ComplaintReceivedV3.from_submission(
        Channel.HOTLINE,
        Submission.model_validate(
            {
                "submission_id": "w-1",
                "office": "Y园",
                "unit": "W花园3栋502",
                "subject": "物业费",
                "complainant": {"name": "业主", "phone": "13812345678"},
                "description": "开发商承诺的减免未兑现，要求暂停收费",
                "occurred_at": MON_0900.isoformat(),
            }
        ),
    )


def suspended(until: datetime | None = None, no: int = 1) -> ComplaintSuspended:
    return ComplaintSuspended(
        actor=HEAD,
        suspension_no=no,
        awaiting=Awaiting.DEVELOPER,
        reason="开发商要求暂缓收费，待情绪平复",
        until=until,
    )


def resumed(no: int = 1, scheduled: bool = False) -> ComplaintResumed:
    return ComplaintResumed(actor=SCHEDULER if scheduled else HEAD, suspension_no=no)


def judged(priority: Priority) -> ComplaintJudged:
    return ComplaintJudged(
        actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES, priority=priority
    )


def folded(*history: tuple[Any, datetime]) -> Folded:
    return fold(list(history), complaint_id=CID, office="Y园", policy=POLICY, calendar=CALENDAR)


def start() -> list[tuple[Any, datetime]]:
    return [(received(), MON_0900), (ComplaintAcknowledged(actor=AGENT), at(23, "09:10"))]


def breaches(f: Folded, until: datetime, timer: str) -> list[datetime]:
    return [
        a.data.deadline
        for a in owed(f, CID, until)
        if isinstance(a.data, SlaBreached) and a.data.timer == timer
    ]


# -- 暂缓: clocks pause and resume with the time they had left -------------------------------


def test_suspended_reply_clock_is_paused_and_breaches_nothing_while_the_developer_decides() -> None:
    # Seed 000's W花园 case: waiting for the developer, a month without an answer.
    f = folded(*start(), (suspended(), at(23, "11:00")))
    month_later = MON_0900 + timedelta(days=30)
    assert f.timers["reply"].state_at(month_later) is TimerState.PAUSED
    assert f.timers["reply"].deadline is None
    assert owed(f, CID, month_later) == []
    assert next_check(f, CID, at(23, "11:00")) is None  # nothing falls due while it waits


def test_resumed_reply_clock_counts_on_with_the_working_time_it_had_left() -> None:
    # 2 of 8 working hours used by Monday 11:00; resumed Wednesday 10:00 with 6 left:
    # 10:00-12:00 and 13:30-17:30. The hard limit (24 working hours) keeps its 22 too.
    f = folded(*start(), (suspended(), at(23, "11:00")), (resumed(), at(25, "10:00")))
    reply = f.timers["reply"]
    assert reply.deadline == at(25, "17:30")
    assert reply.hard_deadline == at(27, "17:30")
    assert reply.state_at(at(25, "12:00")) is TimerState.RUNNING
    # Tuesday 09:00, the deadline without the suspension, passed without a breach.
    assert breaches(f, at(25, "17:00"), "reply") == []
    assert breaches(f, at(25, "17:31"), "reply") == [at(25, "17:30")]


def test_department_deadline_moves_later_by_the_time_suspended() -> None:
    assigned = DepartmentAssigned(
        actor=HEAD, department="财务部", deadline=at(24, "10:00"), reason="manual"
    )
    f = folded(
        *start(),
        (assigned, at(23, "10:00")),
        (suspended(), at(23, "12:00")),
        (resumed(), at(23, "18:00")),
    )
    # A deadline a person set runs on the wall clock: 6 hours suspended, 6 hours later.
    assert f.timers["department"].deadline == at(24, "16:00")


def test_a_promise_does_not_pause_the_owner_is_answered_at_the_promised_time() -> None:
    promise = TimeCommitted(actor=AGENT, promised_at=at(24, "17:00"), message="明天下午答复")
    f = folded(*start(), (promise, at(23, "10:00")), (suspended(), at(23, "11:00")))
    assert f.timers["promise"].state_at(at(24, "16:00")) is TimerState.RUNNING
    assert breaches(f, at(24, "17:01"), "promise") == [at(24, "17:00")]


def test_suspension_with_until_owes_its_resume_at_until_with_a_deterministic_id() -> None:
    until = at(25, "10:00")
    f = folded(*start(), (suspended(until), at(23, "11:00")))
    assert next_check(f, CID, at(23, "11:00")) == until
    assert [a for a in owed(f, CID, at(25, "09:59")) if isinstance(a.data, ComplaintResumed)] == []
    [resume] = [a for a in owed(f, CID, at(25, "10:01")) if isinstance(a.data, ComplaintResumed)]
    assert resume.due_at == until
    assert resume.event_id == scheduled_resume_id(CID, 1, until)
    assert (resume.data.suspension_no, resume.data.scheduled) == (1, True)
    # Once the published resume is read back, the clocks count from exactly `until`.
    after = folded(*start(), (suspended(until), at(23, "11:00")), (resume.data, until))
    assert after.resume is None
    assert after.timers["reply"].deadline == at(25, "17:30")


def test_a_resume_of_another_suspension_resumes_nothing() -> None:
    f = folded(
        *start(),
        (suspended(at(25, "10:00")), at(23, "11:00")),
        (resumed(), at(23, "14:00")),
        (suspended(no=2), at(23, "15:00")),
        (resumed(no=1, scheduled=True), at(25, "10:00")),  # the scheduler's late resume of 1
    )
    assert f.timers["reply"].state_at(at(26, "10:00")) is TimerState.PAUSED


def test_a_clock_started_while_suspended_starts_paused() -> None:
    f = folded(
        *start(),
        (suspended(), at(23, "11:00")),
        (PlanImplemented(actor=HEAD, plan_id=1, summary="已处理"), at(23, "15:00")),
    )
    assert f.timers["revisit"].state_at(at(30, "09:00")) is TimerState.PAUSED


# -- 时间承诺: kept only by the reply that says so --------------------------------------------


def test_a_progress_reply_does_not_keep_the_promise_and_the_missed_promise_breaches() -> None:
    promise = TimeCommitted(actor=AGENT, promised_at=at(24, "17:00"), message="明天下午答复")
    progress = OwnerReplied(actor=AGENT, message="仍在协调")
    f = folded(*start(), (promise, at(23, "10:00")), (progress, at(24, "16:00")))
    assert breaches(f, at(24, "17:01"), "promise") == [at(24, "17:00")]
    kept = OwnerReplied(actor=AGENT, message="已答复", fulfils_commitment=True)
    f = folded(*start(), (promise, at(23, "10:00")), (kept, at(24, "16:00")))
    assert f.timers["promise"].state_at(at(24, "16:00")) is TimerState.MET
    assert breaches(f, at(24, "17:01"), "promise") == []


def test_a_new_promise_replaces_the_old_deadline() -> None:
    first = TimeCommitted(actor=AGENT, promised_at=at(24, "17:00"), message="明天")
    second = TimeCommitted(actor=AGENT, promised_at=at(26, "17:00"), message="周四")
    f = folded(*start(), (first, at(23, "10:00")), (second, at(24, "12:00")))
    assert f.timers["promise"].deadline == at(26, "17:00")
    assert breaches(f, at(25, "10:00"), "promise") == []


# -- 当场解决 --------------------------------------------------------------------------------


@pytest.mark.parametrize("revisit", [True, False])
def test_on_the_spot_resolution_answers_the_owner_and_owes_a_revisit_only_when_due(
    revisit: bool,
) -> None:
    resolved = ComplaintResolvedOnTheSpot(actor=AGENT, summary="当场解决", revisit=revisit)
    f = folded(*start(), (judged(Priority.NORMAL), at(23, "09:15")), (resolved, at(23, "09:15")))
    assert f.timers["reply"].state_at(at(23, "09:15")) is TimerState.MET
    assert ("revisit" in f.timers) is revisit
    if revisit:
        assert f.timers["revisit"].deadline == at(25, "09:15")  # 2 working days


# -- 轻重缓急 --------------------------------------------------------------------------------


def test_urgent_complaint_must_be_answered_within_4_working_hours() -> None:
    f = folded(*start(), (judged(Priority.URGENT), at(23, "10:00")))
    assert f.timers["reply"].deadline == at(23, "14:30")  # 09:00-12:00, 13:30-14:30
    assert f.timers["reply"].hard_deadline == at(24, "09:00")  # 1 working day
    assert f.priority is Priority.URGENT
    warnings = [a for a in owed(f, CID, at(23, "14:00")) if isinstance(a.data, SlaWarning)]
    assert [w.data.deadline for w in warnings] == [at(23, "14:30")]


def test_normal_priority_keeps_the_working_day() -> None:
    f = folded(*start(), (judged(Priority.NORMAL), at(23, "10:00")))
    assert f.timers["reply"].deadline == at(24, "09:00")


def test_found_urgent_after_its_shorter_target_passed_it_is_overdue_from_the_judgment() -> None:
    f = folded(*start(), (judged(Priority.URGENT), at(23, "15:00")))  # 4.5 working hours used
    assert f.timers["reply"].deadline == at(23, "15:00")
    assert breaches(f, at(23, "15:01"), "reply") == [at(23, "15:00")]


def test_urgent_revisit_is_due_within_1_working_day() -> None:
    f = folded(
        *start(),
        (judged(Priority.URGENT), at(23, "09:20")),
        (PlanImplemented(actor=HEAD, plan_id=1, summary="已处理"), at(23, "10:00")),
    )
    assert f.timers["revisit"].deadline == at(24, "10:00")


# -- the policy file ------------------------------------------------------------------------

HEAD_OF_POLICY = """
cancels_on: [ComplaintClosed]
timers:
  promise:
    label: 时间承诺
    starts_on: [TimeCommitted]
    stops_on: [OwnerReplied]
    deadline_from: promised_at
"""


@pytest.mark.parametrize(
    ("tail", "error"),
    [
        ("    where: {OwnerReplied: {kept: true}}", "OwnerReplied has no field"),
        ("    where: {PlanImplemented: {summary: x}}", "not one of its events"),
        (
            "priority_from: [ComplaintJudged]\npriorities: {urgent: {promise: {target: 1 hour}}}",
            "its deadline comes from the event",
        ),
        ("priority_from: [ComplaintAcknowledged]", "ComplaintAcknowledged has no field 'priority'"),
        ("priorities: {urgent: {nothing: {target: 1 hour}}}", "no timer kind 'nothing'"),
    ],
)
def test_a_bad_priority_or_where_in_the_policy_is_refused(tail: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_policy(HEAD_OF_POLICY + tail)


def test_the_shipped_policy_pauses_every_timer_but_the_first_response_and_the_promise() -> None:
    pausing = {k for k in POLICY.kinds if "ComplaintSuspended" in POLICY.timer(k, "").pauses_on}
    assert set(POLICY.kinds) - pausing == {"first_response", "promise"}
    assert {"ComplaintJudged", "ComplaintSuspended", "ComplaintResumed"} <= POLICY.events


def test_what_pauses_and_resumes_is_every_kinds_and_no_office_or_priority_changes_it() -> None:
    kinds = POLICY.kinds
    assert POLICY.pauses_on == {t for k in kinds for t in POLICY.timer(k, "").pauses_on}
    assert POLICY.resumes_on == {t for k in kinds for t in POLICY.timer(k, "").resumes_on}
    assert "ComplaintSuspended" in POLICY.pauses_on
    assert "ComplaintResumed" in POLICY.resumes_on
    for priority in (None, *Priority):
        for office in ("", "Y园", "另一个管理处"):
            for k in kinds:
                rules = POLICY.timer(k, office, priority)
                assert rules.pauses_on <= POLICY.pauses_on
                assert rules.resumes_on <= POLICY.resumes_on

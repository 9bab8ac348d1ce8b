"""SLA policy and timers: targets as data, pauses that move deadlines, warnings and breaches.

Times are Asia/Shanghai; Tuesday 10 March 2026 is an ordinary working day, the default office
works 08:30-12:00 and 13:30-18:00 (8 hours a working day).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from contracts.enums import Channel, Priority
from contracts.envelope import EventData
from contracts.intake import Address, ComplaintReceived
from contracts.lifecycle import (
    Actor,
    ComplaintAcknowledged,
    ComplaintWithdrawn,
    DepartmentAssigned,
    DepartmentProposed,
    OwnerReplied,
    PlanImplemented,
    RevisitRecorded,
    Role,
    TimeCommitted,
)
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from services.sla.calendar import parse_calendar
from services.sla.policy import (
    DEFAULT_POLICY_FILE,
    Span,
    Timer,
    TimerState,
    WallClock,
    WorkingClock,
    apply_event,
    load_policy,
    parse_policy,
)

CHINA = ZoneInfo("Asia/Shanghai")
OFFICE = "Y园"
ROUND_THE_CLOCK = "24h客服"
COMPLAINT = UUID("0b6f3c1e-6a52-4d0e-9a55-2f1f4f6a8c01")
AGENT = Actor(staff_id="A001", role=Role.CS_AGENT)

CALENDAR = parse_calendar(
    """
default:
  hours: ["08:30-12:00", "13:30-18:00"]
offices:
  24h客服: {working_days: every_day, hours: ["00:00-24:00"]}
"""
)
POLICY = load_policy(DEFAULT_POLICY_FILE)


def at(day: str, clock: str = "00:00") -> datetime:
    """An instant in Asia/Shanghai: at("2026-03-10", "10:00")."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=CHINA)


TUESDAY_10 = at("2026-03-10", "10:00")


def reply_timer(start: datetime = TUESDAY_10, office: str = OFFICE) -> Timer:
    """The reply timer (1 working day, hard limit 3) of the shipped policy."""
    return POLICY.timer("reply", office).start(start, office=office, calendar=CALENDAR)


def first_response_timer(start: datetime = TUESDAY_10) -> Timer:
    """The 30-minute wall-clock first-response timer."""
    return Timer.start(
        "first_response",
        WallClock(),
        start,
        timedelta(minutes=30),
        description="首问响应：30分钟",
    )


def received(office: str = OFFICE) -> ComplaintReceived:
    return ComplaintReceived.model_validate(
        {
            "office": office,
            "unit": "3栋1单元502",
            "address": Address.parse("3栋1单元502").model_dump(),
            "complainant": {"name": "何先生", "phone": "13812345678"},
            "subject": "电梯",
            "description": "电梯停运两天无人处理",
            "occurred_at": TUESDAY_10,
            "channel": Channel.HOTLINE,
            "submission_id": "hotline-1",
        }
    )


def assigned(deadline: datetime) -> DepartmentAssigned:
    return DepartmentAssigned(
        actor=AGENT, department="工程部", deadline=deadline, reason="routing rule"
    )


def replied() -> OwnerReplied:
    return OwnerReplied(actor=AGENT, message="已安排维修")


# --- spans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "span", "clock"),
    [
        ("30 minutes", Span(30, "minutes"), "wall"),
        ("2 hours", Span(2, "hours"), "wall"),
        ("4 working hours", Span(4, "working_hours"), "working"),
        ("1 working day", Span(1, "working_days"), "working"),
        ("3 working days", Span(3, "working_days"), "working"),
        ("0.5 working day", Span(0.5, "working_days"), "working"),
    ],
)
def test_policy_spans_read_as_written(text: str, span: Span, clock: str) -> None:
    assert Span.parse(text) == span
    assert span.clock == clock


@pytest.mark.parametrize("text", ["soon", "1 day", "-1 hours", "0 minutes", "3 working weeks"])
def test_spans_without_a_known_unit_or_a_positive_amount_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Span.parse(text)


def test_a_working_day_span_lasts_the_offices_working_day() -> None:
    assert Span.parse("3 working days").duration(timedelta(hours=8)) == timedelta(hours=24)
    assert Span.parse("1 working day").label == "1个工作日"


# --- a timer on the wall clock --------------------------------------------------------------


def test_first_response_is_due_30_wall_minutes_after_receipt_even_at_night() -> None:
    night = at("2026-03-14", "23:50")  # a Saturday night
    assert first_response_timer(night).deadline == at("2026-03-15", "00:20")


def test_first_response_warns_at_80_percent_of_its_30_minutes() -> None:
    timer = first_response_timer()
    assert timer.warning_at == at("2026-03-10", "10:24")
    assert timer.alerts_due(COMPLAINT, at("2026-03-10", "10:23")) == []
    [warning] = timer.alerts_due(COMPLAINT, at("2026-03-10", "10:24"))
    assert warning.data == SlaWarning(
        timer="first_response",
        deadline=at("2026-03-10", "10:30"),
        target="首问响应：30分钟",
        share=0.8,
    )
    assert warning.due_at == at("2026-03-10", "10:24")


def test_a_timer_stopped_before_its_deadline_is_met_and_owes_nothing() -> None:
    timer = first_response_timer().stop(at("2026-03-10", "10:29"))
    assert timer.state_at(at("2026-03-11", "10:00")) is TimerState.MET
    assert timer.alerts_due(COMPLAINT, at("2026-03-11", "10:00")) == []


def test_a_timer_stopped_exactly_at_its_deadline_is_met() -> None:
    timer = first_response_timer().stop(at("2026-03-10", "10:30"))
    assert timer.state_at(at("2026-03-10", "10:30")) is TimerState.MET


def test_a_running_timer_is_breached_at_its_deadline_and_stays_breached_when_stopped() -> None:
    timer = first_response_timer()
    assert timer.state_at(at("2026-03-10", "10:29")) is TimerState.RUNNING
    assert timer.state_at(at("2026-03-10", "10:30")) is TimerState.BREACHED
    late = timer.stop(at("2026-03-10", "10:45"))
    assert late.state_at(at("2026-03-10", "11:00")) is TimerState.BREACHED
    [breach] = late.alerts_due(COMPLAINT, at("2026-03-10", "11:00"))
    assert breach.data == SlaBreached(
        timer="first_response", deadline=at("2026-03-10", "10:30"), hard=False
    )


def test_a_wall_clock_pause_moves_the_deadline_by_the_paused_minutes() -> None:
    timer = first_response_timer().pause(at("2026-03-10", "10:10"))
    assert timer.deadline is None
    timer = timer.resume(at("2026-03-10", "10:40"))
    assert timer.deadline == at("2026-03-10", "11:00")


# --- a timer in working time ----------------------------------------------------------------


def test_reply_is_due_one_working_day_later_with_a_hard_limit_three_working_days_later() -> None:
    timer = reply_timer()
    assert timer.deadline == at("2026-03-11", "10:00")
    assert timer.hard_deadline == at("2026-03-13", "10:00")


def test_reply_warns_at_80_percent_of_the_working_day_lunch_break_excluded() -> None:
    # 6 h 24 min of working time: 10:00-12:00, then 13:30-17:54.
    assert reply_timer().warning_at == at("2026-03-10", "17:54")


def test_a_working_pause_moves_the_deadline_by_the_working_time_it_covered() -> None:
    # Paused 11:00-14:00: 11:00-12:00 and 13:30-14:00 were working time, 1 h 30 min.
    paused = reply_timer().pause(at("2026-03-10", "11:00"))
    assert paused.state_at(at("2026-03-10", "13:00")) is TimerState.PAUSED
    assert paused.deadline is None and paused.warning_at is None
    assert paused.elapsed(at("2026-03-10", "16:00")) == timedelta(hours=1)
    assert paused.remaining(at("2026-03-10", "16:00")) == timedelta(hours=7)
    resumed = paused.resume(at("2026-03-10", "14:00"))
    assert resumed.deadline == at("2026-03-11", "11:30")
    assert resumed.hard_deadline == at("2026-03-13", "11:30")
    assert resumed.state_at(at("2026-03-11", "11:00")) is TimerState.RUNNING


def test_time_outside_working_hours_does_not_count_as_elapsed() -> None:
    timer = reply_timer()
    assert timer.elapsed(at("2026-03-10", "20:00")) == timedelta(hours=6, minutes=30)
    assert timer.elapsed(at("2026-03-11", "08:30")) == timedelta(hours=6, minutes=30)


def test_an_overdue_timer_has_negative_remaining_working_time() -> None:
    assert reply_timer().remaining(at("2026-03-11", "11:00")) == timedelta(hours=-1)


def test_missing_the_hard_limit_reports_both_the_target_and_the_hard_breach() -> None:
    timer = reply_timer()
    assert not timer.is_hard_breached(at("2026-03-13", "09:59"))
    assert timer.is_hard_breached(at("2026-03-13", "10:00"))
    alerts = timer.alerts_due(COMPLAINT, at("2026-03-13", "10:00"))
    assert [a.data for a in alerts] == [
        SlaBreached(timer="reply", deadline=at("2026-03-11", "10:00"), hard=False),
        SlaBreached(timer="reply", deadline=at("2026-03-13", "10:00"), hard=True),
    ]


def test_a_reply_after_the_target_but_within_the_hard_limit_misses_only_the_target() -> None:
    timer = reply_timer().stop(at("2026-03-12", "09:00"))
    assert timer.state_at(at("2026-03-20", "09:00")) is TimerState.BREACHED
    assert not timer.is_hard_breached(at("2026-03-20", "09:00"))
    assert [a.data.model_dump()["hard"] for a in timer.alerts_due(COMPLAINT, at("2026-03-20"))] == [
        False
    ]


def test_a_breach_stays_a_breach_when_the_timer_is_paused_afterwards() -> None:
    timer = reply_timer().pause(at("2026-03-11", "11:00"))
    assert timer.deadline == at("2026-03-11", "10:00")
    assert timer.state_at(at("2026-03-12", "10:00")) is TimerState.BREACHED


def test_a_past_state_ignores_changes_recorded_after_it() -> None:
    timer = reply_timer().stop(at("2026-03-10", "15:00"))
    assert timer.state_at(at("2026-03-10", "14:00")) is TimerState.RUNNING
    assert timer.state_at(at("2026-03-10", "15:00")) is TimerState.MET
    with pytest.raises(ValueError, match="had not started"):
        timer.state_at(at("2026-03-10", "09:00"))


def test_cancelling_before_the_deadline_ends_without_a_verdict() -> None:
    timer = reply_timer().cancel(at("2026-03-10", "15:00"))
    assert timer.state_at(at("2026-03-12")) is TimerState.CANCELLED
    assert timer.alerts_due(COMPLAINT, at("2026-03-12")) == []


def test_a_24h_office_replies_within_24_wall_hours_even_on_national_day() -> None:
    timer = reply_timer(at("2026-10-01", "10:00"), office=ROUND_THE_CLOCK)
    assert timer.deadline == at("2026-10-02", "10:00")


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.pause(at("2026-03-10", "11:00")).pause(at("2026-03-10", "12:00")),
        lambda t: t.resume(at("2026-03-10", "11:00")),
        lambda t: t.stop(at("2026-03-10", "11:00")).stop(at("2026-03-10", "12:00")),
        lambda t: t.stop(at("2026-03-10", "11:00")).pause(at("2026-03-10", "12:00")),
        lambda t: t.pause(at("2026-03-10", "09:00")),  # before it started
        lambda t: t.stop(datetime(2026, 3, 10, 11, 0)),  # naive
    ],
)
def test_impossible_timer_changes_are_refused(change: Callable[[Timer], Timer]) -> None:
    with pytest.raises(ValueError):
        change(reply_timer())


def test_a_hard_limit_before_the_target_or_a_share_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="hard limit"):
        Timer.start(
            "x",
            WallClock(),
            TUESDAY_10,
            timedelta(hours=2),
            description="x",
            hard_limit=timedelta(hours=1),
        )
    with pytest.raises(ValueError, match="share"):
        Timer.start(
            "x", WallClock(), TUESDAY_10, timedelta(hours=2), description="x", warning_share=1.0
        )


# --- deterministic event ids ----------------------------------------------------------------


def test_alerts_carry_ids_derived_from_complaint_timer_and_deadline() -> None:
    timer = reply_timer()
    now = at("2026-03-13", "12:00")
    first, second = timer.alerts_due(COMPLAINT, now), timer.alerts_due(COMPLAINT, now)
    assert [a.event_id for a in first] == [a.event_id for a in second]
    assert first[0].event_id == sla_event_id(
        COMPLAINT, "reply", at("2026-03-11", "10:00"), AlertKind.BREACHED
    )
    assert first[1].event_id == sla_event_id(
        COMPLAINT, "reply", at("2026-03-13", "10:00"), "hard_breached"
    )


def test_the_same_deadline_in_another_offset_gives_the_same_event_id() -> None:
    deadline = at("2026-03-11", "10:00")
    assert sla_event_id(COMPLAINT, "reply", deadline, "breached") == sla_event_id(
        COMPLAINT, "reply", deadline.astimezone(UTC), "breached"
    )


def test_event_ids_differ_by_complaint_timer_deadline_and_kind() -> None:
    deadline = at("2026-03-11", "10:00")
    base = sla_event_id(COMPLAINT, "reply", deadline, "breached")
    others = {
        sla_event_id(UUID(int=1), "reply", deadline, "breached"),
        sla_event_id(COMPLAINT, "revisit", deadline, "breached"),
        sla_event_id(COMPLAINT, "reply", deadline + timedelta(seconds=1), "breached"),
        sla_event_id(COMPLAINT, "reply", deadline, "warning"),
        sla_event_id(COMPLAINT, "reply", deadline, "hard_breached"),
    }
    assert base not in others and len(others) == 5


def test_a_deadline_moved_by_a_pause_gets_new_alert_ids() -> None:
    plain = reply_timer()
    moved = plain.pause(at("2026-03-10", "11:00")).resume(at("2026-03-10", "14:00"))
    now = at("2026-03-11", "12:00")
    [plain_breach] = plain.alerts_due(COMPLAINT, now)
    [moved_breach] = moved.alerts_due(COMPLAINT, now)
    assert plain_breach.data.deadline != moved_breach.data.deadline
    assert plain_breach.event_id != moved_breach.event_id


def test_event_ids_refuse_naive_deadlines_and_unknown_kinds() -> None:
    with pytest.raises(ValueError):
        sla_event_id(COMPLAINT, "reply", datetime(2026, 3, 11, 10, 0), "breached")
    with pytest.raises(ValueError):
        sla_event_id(COMPLAINT, "reply", at("2026-03-11", "10:00"), "late")


# --- the policy file ------------------------------------------------------------------------


def test_the_shipped_policy_runs_the_timers_of_the_domain_and_those_of_the_gaps() -> None:
    assert POLICY.kinds == (
        "first_response",
        "reply",
        "assignment",
        "conclude",
        "department",
        "promise",
        "revisit",
        "close",
        "rework",
    )
    reply = POLICY.timer("reply", OFFICE)
    assert (reply.target, reply.hard_limit) == (Span(1, "working_days"), Span(3, "working_days"))
    assert reply.stops_on == {"OwnerReplied", "TimeCommitted", "ComplaintResolvedOnTheSpot"}
    assert POLICY.timer("first_response", OFFICE).target == Span(30, "minutes")
    assert POLICY.timer("department", OFFICE).deadline_from == "deadline"
    assert POLICY.timer("promise", OFFICE).deadline_from == "promised_at"
    assert POLICY.timer("revisit", OFFICE).warning_share == 0.8


POLICY_HEAD = """
warning_share: 0.8
timers:
  reply:
    label: 答复业主
    starts_on: [ComplaintReceived]
    stops_on: [OwnerReplied]
    target: 1 working day
    hard_limit: 3 working days
"""


def test_an_office_can_change_a_timers_target_and_warning_share() -> None:
    policy = parse_policy(
        POLICY_HEAD
        + "offices:\n  24h客服:\n    reply: {target: 4 working hours, warning_share: 0.5}\n"
    )
    changed = policy.timer("reply", ROUND_THE_CLOCK)
    assert (changed.target, changed.warning_share) == (Span(4, "working_hours"), 0.5)
    assert changed.hard_limit == Span(3, "working_days")
    assert policy.timer("reply", OFFICE).target == Span(1, "working_days")
    timer = changed.start(at("2026-10-01", "10:00"), office=ROUND_THE_CLOCK, calendar=CALENDAR)
    assert timer.deadline == at("2026-10-01", "14:00")
    assert timer.warning_at == at("2026-10-01", "12:00")


def test_an_offices_and_a_prioritys_changes_apply_each_time_they_are_asked() -> None:
    policy = parse_policy(
        POLICY_HEAD
        + "offices:\n  24h客服:\n    reply: {target: 4 working hours}\n"
        + "priority_from: [ComplaintJudged]\n"
        + "priorities: {urgent: {reply: {target: 2 working hours}}}\n"
    )
    for _ in range(2):  # asked again (the policy keeps what it resolved), the same answers
        assert policy.timer("reply", ROUND_THE_CLOCK).target == Span(4, "working_hours")
        assert policy.timer("reply", OFFICE).target == Span(1, "working_days")
        urgent = Priority.URGENT
        assert policy.timer("reply", ROUND_THE_CLOCK, urgent).target == Span(2, "working_hours")
        assert policy.timer("reply", OFFICE, urgent).target == Span(2, "working_hours")
        assert policy.timer("reply", OFFICE, Priority.NORMAL).target == Span(1, "working_days")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (POLICY_HEAD.replace("[OwnerReplied]", "[OwnerRepplied]"), "unknown event"),
        (POLICY_HEAD.replace("target: 1 working day", "target: soon"), "span"),
        (POLICY_HEAD.replace("3 working days", "3 hours"), "same clock"),
        (POLICY_HEAD.replace("3 working days", "0.5 working days"), "before the target"),
        (POLICY_HEAD.replace("target: 1 working day", "deadline_from: deadline"), "hard limit"),
        (POLICY_HEAD.replace("    target: 1 working day\n", ""), "exactly one"),
        (POLICY_HEAD + "    pauses_on: [DepartmentProposed]\n", "resume"),
        (POLICY_HEAD + "cancels_on: [Closed]\n", "unknown event"),
        (POLICY_HEAD + "warning_share: 1.5\n", "warning_share"),
        (POLICY_HEAD + "offices:\n  Y园:\n    revisit: {target: 1 working day}\n", "no timer"),
        (POLICY_HEAD + "offices:\n  Y园:\n    reply: {target: 4 working days}\n", "before"),
        (
            "timers:\n  promise:\n    label: x\n    starts_on: [TimeCommitted]\n"
            "    stops_on: [OwnerReplied]\n    deadline_from: due_at\n",
            "no field",
        ),
    ],
)
def test_malformed_policies_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(text)


# --- timers driven by events ----------------------------------------------------------------


def test_events_start_and_stop_the_timers_of_a_complaint_as_the_policy_says() -> None:
    def step(timers: dict[str, Timer], event: EventData, when: datetime) -> dict[str, Timer]:
        return apply_event(timers, event, at=when, office=OFFICE, policy=POLICY, calendar=CALENDAR)

    timers = step({}, received(), TUESDAY_10)
    assert set(timers) == {"first_response", "reply"}

    timers = step(timers, ComplaintAcknowledged(actor=AGENT), at("2026-03-10", "10:20"))
    assert timers["first_response"].state_at(at("2026-03-10", "10:20")) is TimerState.MET

    promised = at("2026-03-13", "17:00")
    commitment = TimeCommitted(actor=AGENT, promised_at=promised, message="周五下午答复")
    timers = step(timers, commitment, at("2026-03-10", "16:00"))
    assert timers["reply"].state_at(at("2026-03-10", "16:00")) is TimerState.MET
    assert timers["promise"].deadline == promised

    # A department deadline is an instant a person chose: kept exactly, even on a Saturday night.
    saturday_night = at("2026-03-14", "20:00")
    timers = step(timers, assigned(saturday_night), at("2026-03-10", "16:30"))
    assert timers["department"].deadline == saturday_night

    # A progress update does not keep the promise; the reply that says it fulfils it does.
    timers = step(timers, replied(), at("2026-03-13", "15:00"))
    assert timers["promise"].state_at(at("2026-03-13", "15:00")) is TimerState.RUNNING
    fulfilling = OwnerReplied(actor=AGENT, message="电梯主板已到货", fulfils_commitment=True)
    timers = step(timers, fulfilling, at("2026-03-13", "16:00"))
    assert timers["promise"].state_at(at("2026-03-13", "16:00")) is TimerState.MET

    implemented = PlanImplemented(actor=AGENT, plan_id=1, summary="已更换电梯主板")
    timers = step(timers, implemented, at("2026-03-13", "17:00"))
    assert timers["department"].state_at(at("2026-03-13", "17:00")) is TimerState.MET
    assert timers["revisit"].deadline == at("2026-03-17", "17:00")  # 2 working days

    revisit = RevisitRecorded(actor=AGENT, visit_no=1, satisfied=True)
    timers = step(timers, revisit, at("2026-03-16", "10:00"))
    # Only the clock of the close runs on once the owner said they are satisfied.
    assert [k for k, t in timers.items() if t.active] == ["close"]


def test_a_reassignment_restarts_the_department_timer_with_its_new_deadline() -> None:
    first = apply_event(
        {},
        assigned(at("2026-03-12", "18:00")),
        at=TUESDAY_10,
        office=OFFICE,
        policy=POLICY,
        calendar=CALENDAR,
    )
    later = apply_event(
        first,
        assigned(at("2026-03-16", "18:00")),
        at=at("2026-03-11", "09:00"),
        office=OFFICE,
        policy=POLICY,
        calendar=CALENDAR,
    )
    assert later["department"].deadline == at("2026-03-16", "18:00")
    assert later["department"].started_at == at("2026-03-11", "09:00")


def test_a_promise_already_past_when_made_is_breached_at_once() -> None:
    commitment = TimeCommitted(
        actor=AGENT, promised_at=at("2026-03-10", "09:00"), message="上午答复"
    )
    timers = apply_event(
        {}, commitment, at=TUESDAY_10, office=OFFICE, policy=POLICY, calendar=CALENDAR
    )
    assert timers["promise"].state_at(TUESDAY_10) is TimerState.BREACHED
    [breach] = timers["promise"].alerts_due(COMPLAINT, TUESDAY_10)
    assert breach.data == SlaBreached(
        timer="promise", deadline=at("2026-03-10", "09:00"), hard=False
    )


def test_withdrawing_the_complaint_cancels_every_running_timer() -> None:
    timers = apply_event(
        {}, received(), at=TUESDAY_10, office=OFFICE, policy=POLICY, calendar=CALENDAR
    )
    withdrawn = ComplaintWithdrawn(actor=AGENT, reason="业主撤诉")
    timers = apply_event(
        timers,
        withdrawn,
        at=at("2026-03-10", "10:05"),
        office=OFFICE,
        policy=POLICY,
        calendar=CALENDAR,
    )
    now = at("2026-03-20")
    assert {k: t.state_at(now) for k, t in timers.items()} == {
        "first_response": TimerState.CANCELLED,
        "reply": TimerState.CANCELLED,
    }


def test_an_event_stamped_before_the_timer_started_counts_at_the_start() -> None:
    timers = apply_event(
        {}, received(), at=TUESDAY_10, office=OFFICE, policy=POLICY, calendar=CALENDAR
    )
    ack = ComplaintAcknowledged(actor=AGENT)
    timers = apply_event(
        timers, ack, at=at("2026-03-10", "09:55"), office=OFFICE, policy=POLICY, calendar=CALENDAR
    )
    assert timers["first_response"].stopped_at == TUESDAY_10


def test_a_policys_pause_and_resume_events_move_the_deadline() -> None:
    # No event models "waiting for the owner" yet; any registered events show the mechanism.
    policy = parse_policy(
        POLICY_HEAD + "    pauses_on: [DepartmentProposed]\n    resumes_on: [DepartmentAssigned]\n"
    )

    def step(timers: dict[str, Timer], event: EventData, when: datetime) -> dict[str, Timer]:
        return apply_event(timers, event, at=when, office=OFFICE, policy=policy, calendar=CALENDAR)

    timers = step({}, received(), TUESDAY_10)
    proposed = DepartmentProposed(department="工程部", reason="公司默认分派")
    timers = step(timers, proposed, at("2026-03-10", "11:00"))
    assert timers["reply"].paused
    timers = step(timers, assigned(at("2026-03-20", "18:00")), at("2026-03-10", "14:00"))
    assert not timers["reply"].paused
    assert timers["reply"].deadline == at("2026-03-11", "11:30")


def test_a_working_clock_counts_its_offices_calendar() -> None:
    clock = WorkingClock(CALENDAR, OFFICE)
    assert clock.add(at("2026-03-10", "17:00"), timedelta(hours=2)) == at("2026-03-11", "09:30")
    assert clock.between(at("2026-03-10", "17:00"), at("2026-03-11", "09:30")) == timedelta(hours=2)

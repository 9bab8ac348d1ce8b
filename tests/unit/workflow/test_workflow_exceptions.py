"""The everyday exceptions of a property office, as the Decider decides them (issue 15):
暂缓 (suspend/resume), 当场解决 (on-the-spot resolution), 复核 (re-judgment), closing without
satisfaction or with the owner unreachable, time commitments kept by a fulfilling reply, and
priority (轻重缓急). Given these events, when this command, then these events or this refusal.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from contracts.enums import Priority, ServiceCategory, Validity
from contracts.envelope import EventData
from contracts.lifecycle import (
    SCHEDULER,
    Actor,
    Awaiting,
    CloseOutcome,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintRejudged,
    ComplaintResolvedOnTheSpot,
    ComplaintResumed,
    ComplaintSuspended,
    OwnerNotReached,
    OwnerReplied,
    Role,
    TimeCommitted,
)
from services.workflow.commands import (
    Acknowledge,
    AnalyseCause,
    ApprovePlan,
    AssignDepartment,
    Classify,
    Close,
    Command,
    CommitTime,
    ImplementPlan,
    Merge,
    ProposePlan,
    RecordRevisit,
    Rejudge,
    Reopen,
    ReplyToOwner,
    Resolve,
    Resume,
    Suspend,
    Withdraw,
)
from services.workflow.domain import Status, decide, next_deadline
from services.workflow.policy import (
    DEFAULT_POLICY_FILE,
    OfficePolicy,
    PriorityPolicy,
    RejudgePolicy,
    RevisitPolicy,
    load_office_policy,
    parse_office_policy,
)
from tests.unit.workflow.test_workflow_domain import (
    ACKNOWLEDGED,
    AGENT,
    AT_ACKNOWLEDGED,
    AT_ASSIGNED,
    AT_CLOSED,
    AT_IMPLEMENTED,
    AT_JUDGED,
    AT_JUDGED_INVALID,
    AT_PROPOSED,
    AT_RECEIVED,
    AT_REOPENED,
    AT_SATISFIED,
    AT_UNSATISFIED,
    CHINA,
    DEPT,
    HEAD,
    MAJOR,
    NOW,
    OPEN_AFTER_ACKNOWLEDGEMENT,
    OTHER_COMPLAINT,
    PM,
    RECEIVED,
    REOPENED,
    SUPERVISOR,
    UNSATISFIED,
    given,
    refusal,
    when,
)

COMPANY = Actor(staff_id="pz-001", role=Role.COMPANY)
POLICY = load_office_policy()  # the shipped policy.yaml

# -- 暂缓 ------------------------------------------------------------------------------------

UNTIL = NOW + timedelta(days=10)
SUSPENDED = ComplaintSuspended(
    actor=HEAD,
    suspension_no=1,
    awaiting=Awaiting.DEVELOPER,
    reason="开发商要求暂缓收费，待情绪平复",
    until=UNTIL,
)
RESUMED = ComplaintResumed(actor=HEAD, suspension_no=1)
AT_SUSPENDED = (*AT_ASSIGNED, SUSPENDED)


def test_suspending_records_whom_it_awaits_until_when_and_the_first_number() -> None:
    command = Suspend(
        actor=HEAD,
        reason="开发商要求暂缓收费，待情绪平复",
        awaiting=Awaiting.DEVELOPER,
        until=UNTIL,
    )
    assert when(command, *AT_ASSIGNED) == [SUSPENDED]


@pytest.mark.parametrize(
    "history", OPEN_AFTER_ACKNOWLEDGEMENT.values(), ids=list(OPEN_AFTER_ACKNOWLEDGEMENT)
)
def test_any_open_complaint_after_acknowledgement_can_be_suspended_and_resumes_where_it_was(
    history: tuple[EventData, ...],
) -> None:
    before = given(*history)
    [suspended] = when(Suspend(actor=HEAD, reason="等业主", awaiting=Awaiting.OWNER), *history)
    during = given(*history, suspended)
    assert during.status is Status.SUSPENDED
    assert during.suspension is not None and during.suspension.since is before.status
    [resumed] = decide(Resume(actor=HEAD, note="业主已回复"), during, now=NOW)
    assert resumed == ComplaintResumed(actor=HEAD, suspension_no=1, note="业主已回复")
    assert given(*history, suspended, resumed).status is before.status


def test_a_second_suspension_gets_the_next_number() -> None:
    [event] = when(
        Suspend(actor=HEAD, reason="等政府批复", awaiting=Awaiting.GOVERNMENT),
        *AT_SUSPENDED,
        RESUMED,
    )
    assert isinstance(event, ComplaintSuspended) and event.suspension_no == 2


@pytest.mark.parametrize("until", [NOW - timedelta(hours=1), NOW], ids=["past", "now"])
def test_suspending_until_a_time_not_in_the_future_is_refused(until: datetime) -> None:
    command = Suspend(actor=HEAD, reason="x", awaiting=Awaiting.OTHER, until=until)
    assert "until must lie in the future" in refusal(command, *AT_ASSIGNED)


def test_suspending_a_suspended_complaint_is_refused() -> None:
    command = Suspend(actor=HEAD, reason="x", awaiting=Awaiting.OWNER)
    assert "suspended" in refusal(command, *AT_SUSPENDED)


def test_resuming_a_complaint_that_is_not_suspended_is_refused() -> None:
    assert "not suspended" in refusal(Resume(actor=HEAD), *AT_ASSIGNED)


def test_scheduled_resume_at_until_resumes_the_complaint() -> None:
    scheduled = ComplaintResumed(actor=SCHEDULER, suspension_no=1, scheduled=True)
    state = given(*AT_SUSPENDED, scheduled)
    assert (state.status, state.suspension) == (Status.ASSIGNED, None)


def test_a_stale_scheduled_resume_of_an_earlier_suspension_changes_nothing() -> None:
    # Suspension 1 was resumed by staff and suspension 2 began before the scheduler's resume
    # of suspension 1 was read: that resume must not end suspension 2.
    second = ComplaintSuspended(
        actor=HEAD, suspension_no=2, awaiting=Awaiting.OWNER, reason="等业主提供照片"
    )
    stale = ComplaintResumed(actor=SCHEDULER, suspension_no=1, scheduled=True)
    state = given(*AT_SUSPENDED, RESUMED, second, stale)
    assert state.status is Status.SUSPENDED
    assert state.suspension is not None and state.suspension.suspension_no == 2


STEPS_REFUSED_WHILE_SUSPENDED: list[Command] = [
    Acknowledge(actor=AGENT),
    Classify(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FACILITIES),
    Resolve(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FACILITIES, summary="x"),
    AssignDepartment(actor=HEAD, department="工程部", deadline=NOW + timedelta(days=1)),
    AnalyseCause(actor=DEPT, cause="x", responsible_party="y"),
    ProposePlan(actor=DEPT, plan="x"),
    ApprovePlan(actor=SUPERVISOR, plan_id=1),
    ImplementPlan(actor=DEPT, plan_id=1, summary="x"),
    RecordRevisit(actor=AGENT, satisfied=True),
    Close(actor=HEAD),
    Reopen(actor=HEAD, reason="x"),
]


@pytest.mark.parametrize(
    "command", [pytest.param(c, id=c.name) for c in STEPS_REFUSED_WHILE_SUSPENDED]
)
def test_the_procedure_waits_while_suspended(command: Command) -> None:
    reason = refusal(command, *AT_SUSPENDED)
    assert "suspended (暂缓)" in reason and "developer (开发商)" in reason
    assert "resume it first" in reason


@pytest.mark.parametrize(
    "command",
    [
        ReplyToOwner(actor=AGENT, message="开发商尚未答复，我们持续跟进"),
        CommitTime(actor=AGENT, promised_at=NOW + timedelta(days=2), message="两日内答复"),
        Rejudge(actor=HEAD, validity=Validity.ASSIST, category=ServiceCategory.FEES, reason="复核"),
        Withdraw(actor=AGENT, reason="业主撤诉"),
        Merge(actor=AGENT, into_complaint_id=OTHER_COMPLAINT),
    ],
    ids=lambda c: c.name,
)
def test_owner_is_still_answered_and_the_complaint_may_be_corrected_or_ended_while_suspended(
    command: Command,
) -> None:
    assert len(when(command, *AT_SUSPENDED)) == 1


def test_withdrawing_a_suspended_complaint_ends_the_suspension_too() -> None:
    [withdrawn] = when(Withdraw(actor=AGENT, reason="业主撤诉"), *AT_SUSPENDED)
    state = given(*AT_SUSPENDED, withdrawn)
    assert (state.status, state.suspension, state.is_open) == (Status.WITHDRAWN, None, False)


def test_next_deadline_while_suspended_is_the_scheduled_resume_not_the_department() -> None:
    state = given(*AT_SUSPENDED)
    assert next_deadline(state, RECEIVED.occurred_at) == ("resume", UNTIL)
    open_ended = ComplaintSuspended(
        actor=HEAD, suspension_no=1, awaiting=Awaiting.OWNER, reason="等业主"
    )
    # Without an `until` it is looked at again after the policy's review span (item 8: no
    # open complaint without a clock), counted from the suspension.
    suspended_at = NOW + timedelta(hours=2)
    assert next_deadline(
        given(*AT_ASSIGNED, open_ended), RECEIVED.occurred_at, suspended_at, POLICY.clocks
    ) == ("review", suspended_at + POLICY.clocks.review)
    department = given(*AT_SUSPENDED, RESUMED).deadline
    assert department is not None
    assert next_deadline(given(*AT_SUSPENDED, RESUMED), RECEIVED.occurred_at) == (
        "department",
        department,
    )


# -- 当场解决 --------------------------------------------------------------------------------


def resolve(validity: Validity = Validity.VALID, actor: Actor = AGENT, **kw: object) -> Resolve:
    category = None if validity is Validity.INVALID else ServiceCategory.FACILITIES
    return Resolve.model_validate(
        {
            "actor": actor,
            "validity": validity,
            "category": category,
            "summary": "当场复位电梯门机，已答复业主",
            **kw,
        }
    )


def test_first_responder_resolves_a_valid_complaint_on_the_spot_and_a_revisit_follows() -> None:
    events = decide(resolve(), given(*AT_ACKNOWLEDGED), now=NOW, policy=POLICY)
    assert events == [
        ComplaintJudged(
            actor=AGENT,
            validity=Validity.VALID,
            category=ServiceCategory.FACILITIES,
            priority=Priority.NORMAL,
        ),
        ComplaintResolvedOnTheSpot(
            actor=AGENT, summary="当场复位电梯门机，已答复业主", revisit=True
        ),
    ]
    state = given(*AT_ACKNOWLEDGED, *events)
    assert (state.status, state.answered, state.department, state.revisit_due) == (
        Status.RESOLVED,
        True,
        None,
        True,
    )


def test_valid_on_the_spot_resolution_is_revisited_before_it_closes() -> None:
    history = (*AT_ACKNOWLEDGED, *when(resolve(), *AT_ACKNOWLEDGED))
    assert "revisited before closing" in refusal(Close(actor=HEAD), *history)
    [visit] = when(RecordRevisit(actor=AGENT, satisfied=True), *history)
    assert when(Close(actor=HEAD), *history, visit) == [ComplaintClosed(actor=HEAD)]


@pytest.mark.parametrize("validity", [Validity.ASSIST, Validity.INVALID])
def test_assist_or_invalid_resolution_on_the_spot_closes_without_a_revisit(
    validity: Validity,
) -> None:
    events = decide(resolve(validity), given(*AT_ACKNOWLEDGED), now=NOW, policy=POLICY)
    assert isinstance(events[1], ComplaintResolvedOnTheSpot) and events[1].revisit is False
    history = (*AT_ACKNOWLEDGED, *events)
    assert "not revisited" in refusal(RecordRevisit(actor=AGENT, satisfied=True), *history)
    assert when(Close(actor=HEAD), *history) == [ComplaintClosed(actor=HEAD)]


def test_which_resolutions_are_revisited_is_policy_data() -> None:
    never = OfficePolicy(revisit=RevisitPolicy(after_on_the_spot=frozenset()))
    events = decide(resolve(), given(*AT_ACKNOWLEDGED), now=NOW, policy=never)
    assert isinstance(events[1], ComplaintResolvedOnTheSpot) and events[1].revisit is False


def test_resolving_by_anyone_but_the_first_responder_is_refused() -> None:
    other = Actor(staff_id="cs-099", role=Role.CS_AGENT)
    assert "only the first responder (cs-007)" in refusal(resolve(actor=other), *AT_ACKNOWLEDGED)


@pytest.mark.parametrize("history", [AT_JUDGED, AT_ASSIGNED, AT_IMPLEMENTED])
def test_resolving_once_judged_or_handled_is_refused(history: tuple[EventData, ...]) -> None:
    assert "not yet judged" in refusal(resolve(), *history)


def test_resolving_a_valid_complaint_without_its_category_is_refused() -> None:
    command = resolve(category=None)
    assert "service category" in refusal(command, *AT_ACKNOWLEDGED)


# -- 复核 ------------------------------------------------------------------------------------


def test_head_rejudges_an_assigned_complaint_and_the_history_keeps_both_judgments() -> None:
    command = Rejudge(
        actor=HEAD,
        validity=Validity.ASSIST,
        category=ServiceCategory.ENVIRONMENT,
        reason="邻里噪音",
    )
    events = when(command, *AT_ASSIGNED)
    assert events == [
        ComplaintRejudged(
            actor=HEAD,
            validity=Validity.ASSIST,
            category=ServiceCategory.ENVIRONMENT,
            previous_validity=Validity.VALID,
            previous_category=ServiceCategory.FACILITIES,
            reason="邻里噪音",
        )
    ]
    history = (*AT_ASSIGNED, *events)
    state = given(*history)
    assert (state.status, state.validity, state.category, state.rejudged) == (
        Status.ASSIGNED,
        Validity.ASSIST,
        ServiceCategory.ENVIRONMENT,
        1,
    )
    judgments = [e for e in history if isinstance(e, ComplaintJudged | ComplaintRejudged)]
    assert [j.validity for j in judgments] == [Validity.VALID, Validity.ASSIST]


@pytest.mark.parametrize("actor", [HEAD, PM, COMPANY], ids=lambda a: a.role.value)
@pytest.mark.parametrize(
    "history",
    [AT_JUDGED, AT_PROPOSED, AT_IMPLEMENTED, AT_SATISFIED, AT_REOPENED, AT_SUSPENDED],
    ids=["judged", "plan_proposed", "implemented", "revisited", "reopened", "suspended"],
)
def test_head_project_manager_or_company_rejudge_at_any_stage_until_closed(
    actor: Actor, history: tuple[EventData, ...]
) -> None:
    command = Rejudge(actor=actor, validity=Validity.INVALID, reason="经调查不属物业责任")
    [event] = when(command, *history)
    assert isinstance(event, ComplaintRejudged) and event.previous_validity is Validity.VALID


@pytest.mark.parametrize("actor", [AGENT, DEPT, SUPERVISOR], ids=lambda a: a.role.value)
def test_rejudging_by_other_roles_is_refused(actor: Actor) -> None:
    command = Rejudge(actor=actor, validity=Validity.INVALID, reason="x")
    assert "cannot re-judge" in refusal(command, *AT_ASSIGNED)


def test_rejudging_before_any_judgment_is_refused() -> None:
    command = Rejudge(actor=HEAD, validity=Validity.INVALID, reason="x")
    assert "judge the complaint first" in refusal(command, *AT_ACKNOWLEDGED)


def test_rejudging_to_the_same_judgment_is_refused() -> None:
    command = Rejudge(
        actor=HEAD, validity=Validity.VALID, category=ServiceCategory.FACILITIES, reason="x"
    )
    assert "nothing to correct" in refusal(command, *AT_ASSIGNED)


def test_rejudging_valid_without_a_category_is_refused() -> None:
    command = Rejudge(actor=HEAD, validity=Validity.ASSIST, reason="x")
    assert "service category" in refusal(command, *AT_JUDGED_INVALID)


# RECEIVED happened on 4 March 2024 (China time): its report's month is March 2024.
APRIL_5 = datetime(2024, 4, 5, 12, 0, tzinfo=CHINA)
APRIL_11 = datetime(2024, 4, 11, 0, 0, 1, tzinfo=CHINA)


def test_company_rejudges_a_closed_complaint_within_the_reports_month() -> None:
    command = Rejudge(actor=COMPANY, validity=Validity.INVALID, reason="品质部复核：不成立")
    [event] = decide(command, given(*AT_CLOSED), now=APRIL_5, policy=POLICY)
    state = given(*AT_CLOSED, event)
    assert (state.status, state.validity) == (Status.CLOSED, Validity.INVALID)


def test_company_rejudging_a_closed_complaint_after_the_report_is_final_is_refused() -> None:
    command = Rejudge(actor=COMPANY, validity=Validity.INVALID, reason="x")
    with pytest.raises(Exception, match="report's month of this complaint is over"):
        decide(command, given(*AT_CLOSED), now=APRIL_11, policy=POLICY)


@pytest.mark.parametrize("actor", [HEAD, PM], ids=lambda a: a.role.value)
def test_only_the_company_rejudges_after_closing(actor: Actor) -> None:
    command = Rejudge(actor=actor, validity=Validity.INVALID, reason="x")
    assert "only the company" in refusal(command, *AT_CLOSED)


def test_report_month_ends_at_the_month_end_in_china_plus_the_grace_days() -> None:
    policy = RejudgePolicy(report_grace_days=0)
    # 31 Jan 20:00 UTC is already 1 February in China: February's report.
    received = datetime(2026, 1, 31, 20, 0, tzinfo=CHINA).astimezone(
        CHINA.utcoffset(None) and CHINA
    )
    received = datetime(2026, 2, 1, 4, 0, tzinfo=CHINA)
    assert policy.last_instant(received) == datetime(2026, 3, 1, tzinfo=CHINA)
    assert RejudgePolicy(report_grace_days=10).last_instant(received) == datetime(
        2026, 3, 11, tzinfo=CHINA
    )


# -- closing without satisfaction --------------------------------------------------------------


def test_project_manager_closes_unsatisfied_after_an_unsatisfied_revisit_with_the_reason() -> None:
    command = Close(actor=PM, outcome=CloseOutcome.UNSATISFIED, reason="业主要求超出合同范围")
    [event] = when(command, *AT_UNSATISFIED)
    assert event == ComplaintClosed(
        actor=PM, outcome=CloseOutcome.UNSATISFIED, reason="业主要求超出合同范围"
    )
    state = given(*AT_UNSATISFIED, event)
    assert (state.status, state.outcome) == (Status.CLOSED, CloseOutcome.UNSATISFIED)


def test_company_closes_a_reopened_complaint_unsatisfied() -> None:
    command = Close(actor=COMPANY, outcome=CloseOutcome.UNSATISFIED, reason="多次处理仍不满意")
    [event] = when(command, *AT_REOPENED)
    assert isinstance(event, ComplaintClosed) and event.outcome is CloseOutcome.UNSATISFIED


@pytest.mark.parametrize("actor", [AGENT, HEAD], ids=lambda a: a.role.value)
def test_closing_unsatisfied_by_customer_service_is_refused(actor: Actor) -> None:
    command = Close(actor=actor, outcome=CloseOutcome.UNSATISFIED, reason="x")
    assert "project manager or the company" in refusal(command, *AT_UNSATISFIED)


@pytest.mark.parametrize("history", [AT_SATISFIED, AT_IMPLEMENTED, AT_ASSIGNED])
def test_closing_unsatisfied_without_an_unsatisfied_revisit_is_refused(
    history: tuple[EventData, ...],
) -> None:
    command = Close(actor=PM, outcome=CloseOutcome.UNSATISFIED, reason="x")
    assert "owner was not satisfied" in refusal(command, *history)


def test_closing_unsatisfied_without_a_reason_names_the_field() -> None:
    with pytest.raises(ValidationError) as bad:
        Close(actor=PM, outcome=CloseOutcome.UNSATISFIED)
    assert [e["loc"] for e in bad.value.errors()] == [("reason",)]


def not_reached(n: int) -> tuple[OwnerNotReached, ...]:
    return tuple(OwnerNotReached(actor=AGENT, attempt_no=i) for i in range(1, n + 1))


def test_a_revisit_that_did_not_reach_the_owner_is_an_attempt_not_a_revisit() -> None:
    command = RecordRevisit(actor=AGENT, reached=False, remarks="电话无人接听")
    assert when(command, *AT_IMPLEMENTED) == [
        OwnerNotReached(actor=AGENT, attempt_no=1, remarks="电话无人接听")
    ]
    [second] = when(command, *AT_IMPLEMENTED, *not_reached(1))
    assert isinstance(second, OwnerNotReached) and second.attempt_no == 2
    state = given(*AT_IMPLEMENTED, *not_reached(2))
    assert (state.status, state.revisits, state.revisit_attempts) == (Status.IMPLEMENTED, 0, 2)


def test_revisit_must_say_satisfied_when_reached_and_nothing_when_not() -> None:
    for bad in ({"reached": True}, {"reached": False, "satisfied": False}):
        with pytest.raises(ValidationError) as err:
            RecordRevisit.model_validate({"actor": AGENT, **bad})
        assert [e["loc"] for e in err.value.errors()] == [("satisfied",)]


def test_closing_unreachable_after_the_policys_attempts() -> None:
    command = Close(actor=AGENT, outcome=CloseOutcome.UNREACHABLE, note="三次电话未接通")
    [event] = when(command, *AT_IMPLEMENTED, *not_reached(3))
    assert event == ComplaintClosed(
        actor=AGENT, outcome=CloseOutcome.UNREACHABLE, note="三次电话未接通"
    )


def test_closing_unreachable_before_enough_attempts_is_refused_with_the_count() -> None:
    command = Close(actor=AGENT, outcome=CloseOutcome.UNREACHABLE)
    reason = refusal(command, *AT_IMPLEMENTED, *not_reached(2))
    assert "after 3 revisit attempts" in reason and "(2 so far)" in reason


def test_number_of_attempts_before_unreachable_is_policy_data() -> None:
    one = OfficePolicy(revisit=RevisitPolicy(unreachable_after_attempts=1))
    command = Close(actor=AGENT, outcome=CloseOutcome.UNREACHABLE)
    state = given(*AT_IMPLEMENTED, *not_reached(1))
    [event] = decide(command, state, now=NOW, policy=one)
    assert isinstance(event, ComplaintClosed) and event.outcome is CloseOutcome.UNREACHABLE


def test_reopening_starts_the_count_of_attempts_again() -> None:
    history = (*AT_IMPLEMENTED, *not_reached(2), UNSATISFIED, REOPENED)
    assert given(*history).revisit_attempts == 0


def test_a_major_complaints_revisit_attempt_is_the_project_managers_too() -> None:
    command = RecordRevisit(actor=AGENT, reached=False)
    assert "project manager" in refusal(command, *AT_IMPLEMENTED, MAJOR)


# -- 时间承诺 --------------------------------------------------------------------------------

PROMISED = NOW + timedelta(hours=4)
COMMITTED = TimeCommitted(actor=AGENT, promised_at=PROMISED, message="下午答复")


def test_a_reply_that_fulfils_the_commitment_keeps_it() -> None:
    command = ReplyToOwner(actor=AGENT, message="已查明原因", fulfils_commitment=True)
    [event] = when(command, *AT_ASSIGNED, COMMITTED)
    assert event == OwnerReplied(actor=AGENT, message="已查明原因", fulfils_commitment=True)
    assert given(*AT_ASSIGNED, COMMITTED, event).open_commitment is None


def test_any_other_reply_leaves_the_promise_open() -> None:
    progress = OwnerReplied(actor=AGENT, message="仍在处理", final=True)
    state = given(*AT_ASSIGNED, COMMITTED, progress)
    assert state.open_commitment == PROMISED
    assert next_deadline(state, RECEIVED.occurred_at) == ("promise", PROMISED)


def test_a_new_promise_replaces_the_old_one() -> None:
    later = TimeCommitted(actor=AGENT, promised_at=PROMISED + timedelta(days=1), message="明天")
    state = given(*AT_ASSIGNED, COMMITTED, later)
    assert state.open_commitment == PROMISED + timedelta(days=1)
    assert state.commitments == (PROMISED, PROMISED + timedelta(days=1))


def test_fulfilling_a_commitment_when_none_is_open_is_refused() -> None:
    command = ReplyToOwner(actor=AGENT, message="x", fulfils_commitment=True)
    assert "no time commitment" in refusal(command, *AT_ASSIGNED)
    kept = OwnerReplied(actor=AGENT, message="y", fulfils_commitment=True)
    assert "no time commitment" in refusal(command, *AT_ASSIGNED, COMMITTED, kept)


# -- 轻重缓急 --------------------------------------------------------------------------------


def classify(category: ServiceCategory, priority: Priority | None = None) -> Classify:
    return Classify(actor=AGENT, validity=Validity.VALID, category=category, priority=priority)


@pytest.mark.parametrize(
    ("category", "priority"),
    [
        (ServiceCategory.FACILITIES, Priority.NORMAL),
        (ServiceCategory.SECURITY, Priority.URGENT),
        (ServiceCategory.FIRE_SAFETY, Priority.URGENT),
        (ServiceCategory.INTERNAL_MANAGEMENT, Priority.LOW),
    ],
)
def test_judgment_gets_the_policys_priority_for_its_category(
    category: ServiceCategory, priority: Priority
) -> None:
    [event] = decide(classify(category), given(*AT_ACKNOWLEDGED), now=NOW, policy=POLICY)
    assert isinstance(event, ComplaintJudged) and event.priority is priority
    assert given(*AT_ACKNOWLEDGED, event).priority is priority


def test_a_major_complaint_is_urgent_by_default() -> None:
    state = given(RECEIVED, MAJOR, ACKNOWLEDGED)
    [event] = decide(classify(ServiceCategory.FACILITIES), state, now=NOW, policy=POLICY)
    assert isinstance(event, ComplaintJudged) and event.priority is Priority.URGENT


def test_the_judge_may_set_the_priority_against_the_default() -> None:
    command = classify(ServiceCategory.SECURITY, Priority.LOW)
    [event] = decide(command, given(*AT_ACKNOWLEDGED), now=NOW, policy=POLICY)
    assert isinstance(event, ComplaintJudged) and event.priority is Priority.LOW


def test_on_the_spot_resolution_carries_a_priority_too() -> None:
    command = resolve(category=ServiceCategory.SECURITY)
    [judged, _] = decide(command, given(*AT_ACKNOWLEDGED), now=NOW, policy=POLICY)
    assert isinstance(judged, ComplaintJudged) and judged.priority is Priority.URGENT


def test_the_shipped_office_policy_is_the_documented_one() -> None:
    assert POLICY.revisit == RevisitPolicy(
        after_on_the_spot=frozenset({Validity.VALID}), unreachable_after_attempts=3
    )
    assert POLICY.priority.default_for(None, major=False) is Priority.NORMAL
    assert POLICY.rejudge.report_grace_days == 10
    assert DEFAULT_POLICY_FILE.name == "policy.yaml"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("revisit: {unreachable_after_attempts: 0}", "greater than or equal to 1"),
        ("priority: {default: soon}", "urgent"),
        ("rejudge: {zone: Mars/Olympus}", "Mars/Olympus"),
        ("revisit: {attempts: 3}", "attempts"),
    ],
)
def test_a_bad_office_policy_is_refused_naming_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_office_policy(text)


def test_priority_policy_defaults_without_a_file() -> None:
    assert PriorityPolicy().default_for(ServiceCategory.SECURITY, major=True) is Priority.URGENT
    assert OfficePolicy().revisit.unreachable_after_attempts == 3


def test_next_deadline_is_the_first_response_until_acknowledged_and_none_once_ended() -> None:
    occurred = RECEIVED.occurred_at
    assert next_deadline(given(*AT_RECEIVED), occurred) == (
        "first_response",
        occurred + timedelta(minutes=30),
    )
    assert next_deadline(given(*AT_CLOSED), occurred) is None

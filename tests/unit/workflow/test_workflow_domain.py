"""The complaint lifecycle Decider: given these events, when this command, then these events
or this refusal. One test per transition of the table in ``services.workflow.domain``."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from contracts import ComplaintReceived, EventData, decode_event, encode_event, new_envelope
from contracts.enums import Channel, ServiceCategory, Validity
from contracts.envelope import latest_version, registered_events
from contracts.intake import Address
from contracts.lifecycle import (
    AccountabilityRecord,
    Actor,
    Awaiting,
    CauseAnalysed,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintJudged,
    ComplaintMerged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintReopened,
    ComplaintResolvedOnTheSpot,
    ComplaintResumed,
    ComplaintSentBack,
    ComplaintSuspended,
    ComplaintTransferred,
    ComplaintWithdrawn,
    DepartmentAssigned,
    DepartmentProposed,
    EscalationLevel,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OfficeTransferRequested,
    OwnerNotReached,
    OwnerReplied,
    PlanApproved,
    PlanImplemented,
    PlanRejected,
    PreventiveMeasureRecorded,
    ResolutionProposed,
    RevisitRecorded,
    Role,
    TimeCommitted,
)
from services.workflow.commands import (
    COMMANDS,
    AcceptOfficeTransfer,
    Acknowledge,
    AnalyseCause,
    ApprovePlan,
    AssignDepartment,
    Classify,
    Close,
    Command,
    CommitTime,
    FlagMajor,
    ImplementPlan,
    Merge,
    ProposePlan,
    RecordPreventiveMeasure,
    RecordRevisit,
    RejectPlan,
    Rejudge,
    Reopen,
    ReplyToOwner,
    Resolve,
    Resume,
    SendBack,
    Suspend,
    TransferDepartment,
    TransferOffice,
    UnflagMajor,
    Withdraw,
)
from services.workflow.domain import (
    CommandRejected,
    PlanStatus,
    State,
    Status,
    decide,
    evolve,
    initial_state,
    replay,
)

CHINA = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 3, 4, 9, 30, tzinfo=CHINA)
OTHER_COMPLAINT = UUID("00000000-0000-4000-8000-000000000001")

AGENT = Actor(staff_id="cs-007", role=Role.CS_AGENT)
HEAD = Actor(staff_id="cs-001", role=Role.CS_HEAD)
DEPT = Actor(staff_id="gc-012", role=Role.DEPARTMENT)
SUPERVISOR = Actor(staff_id="zg-003", role=Role.SUPERVISOR)
PM = Actor(staff_id="pm-002", role=Role.PROJECT_MANAGER)

# -- events, in procedure order ------------------------------------------------------------

RECEIVED = ComplaintReceived.model_validate(
    {
        "office": "Y园",
        "unit": "3栋1单元502",
        "address": Address.parse("3栋1单元502").model_dump(),
        "complainant": {"name": "何先生", "phone": "13812345678"},
        "subject": "电梯",
        "description": "3栋电梯一周坏了两次",
        "demand": "尽快修好",
        "occurred_at": NOW - timedelta(hours=1),
        "channel": Channel.HOTLINE,
        "submission_id": "hotline-0001",
    }
)
ACKNOWLEDGED = ComplaintAcknowledged(actor=AGENT)
JUDGED_VALID = ComplaintJudged(
    actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FACILITIES
)
JUDGED_INVALID = ComplaintJudged(actor=AGENT, validity=Validity.INVALID, note="电梯年检停运已公告")
PROPOSED_DEPT = DepartmentProposed(
    department="工程部", reason="公司默认分派：设施设备维护 → 工程部"
)
ASSIGNED = DepartmentAssigned(
    actor=HEAD, department="工程部", deadline=NOW + timedelta(days=2), reason="routing rule"
)
ANALYSED = CauseAnalysed(actor=DEPT, cause="曳引机轴承磨损", responsible_party="电梯维保单位")
PLAN_1 = ResolutionProposed(actor=DEPT, plan_id=1, plan="更换轴承，维保单位承担费用")
APPROVED_1 = PlanApproved(actor=SUPERVISOR, plan_id=1)
REJECTED_1 = PlanRejected(actor=SUPERVISOR, plan_id=1, reason="未答复业主的赔偿要求")
PLAN_2 = ResolutionProposed(actor=DEPT, plan_id=2, plan="更换轴承并减免一个月电梯费")
IMPLEMENTED_1 = PlanImplemented(
    actor=DEPT,
    plan_id=1,
    summary="已更换轴承，已通知业主",
    accountability=(AccountabilityRecord(person="张工", measure="扣罚绩效", reason="巡检漏报"),),
)
SATISFIED = RevisitRecorded(actor=AGENT, visit_no=1, satisfied=True)
UNSATISFIED = RevisitRecorded(actor=AGENT, visit_no=1, satisfied=False, remarks="仍有异响")
CLOSED = ComplaintClosed(actor=HEAD)
REOPENED = ComplaintReopened(actor=HEAD, reason="业主反映仍有异响")
FINAL_REPLY = OwnerReplied(actor=AGENT, message="电梯年检停运，已向业主解释", final=True)
PROGRESS_REPLY = OwnerReplied(actor=AGENT, message="维修中，明日答复")
WITHDRAWN = ComplaintWithdrawn(actor=AGENT, reason="业主撤诉")
MERGED = ComplaintMerged(actor=AGENT, into_complaint_id=OTHER_COMPLAINT)
MAJOR = MajorComplaintFlagged(rule=MajorRule.REPEAT_UNIT, reason="同一房号7天内第2次投诉")

# -- histories ending at each status -------------------------------------------------------

AT_RECEIVED: tuple[EventData, ...] = (RECEIVED,)
AT_ACKNOWLEDGED = (*AT_RECEIVED, ACKNOWLEDGED)
AT_JUDGED = (*AT_ACKNOWLEDGED, JUDGED_VALID, PROPOSED_DEPT)
AT_JUDGED_INVALID = (*AT_ACKNOWLEDGED, JUDGED_INVALID)
AT_ASSIGNED = (*AT_JUDGED, ASSIGNED)
AT_ANALYSED = (*AT_ASSIGNED, ANALYSED)
AT_PROPOSED = (*AT_ANALYSED, PLAN_1)
AT_APPROVED = (*AT_PROPOSED, APPROVED_1)
AT_IMPLEMENTED = (*AT_APPROVED, IMPLEMENTED_1)
AT_SATISFIED = (*AT_IMPLEMENTED, SATISFIED)
AT_UNSATISFIED = (*AT_IMPLEMENTED, UNSATISFIED)
AT_CLOSED = (*AT_SATISFIED, CLOSED)
AT_REOPENED = (*AT_UNSATISFIED, REOPENED)
AT_WITHDRAWN = (*AT_ASSIGNED, WITHDRAWN)
AT_MERGED = (*AT_ACKNOWLEDGED, MERGED)

OPEN_AFTER_ACKNOWLEDGEMENT = {
    "acknowledged": AT_ACKNOWLEDGED,
    "judged": AT_JUDGED,
    "judged_invalid": AT_JUDGED_INVALID,
    "assigned": AT_ASSIGNED,
    "analysed": AT_ANALYSED,
    "plan_proposed": AT_PROPOSED,
    "plan_approved": AT_APPROVED,
    "implemented": AT_IMPLEMENTED,
    "revisited": AT_SATISFIED,
    "reopened": AT_REOPENED,
}
OPEN = {"received": AT_RECEIVED, **OPEN_AFTER_ACKNOWLEDGEMENT}

# -- one sample of every command -----------------------------------------------------------

ALL_COMMANDS: list[Command] = [
    Acknowledge(actor=AGENT),
    Classify(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FACILITIES),
    AssignDepartment(actor=HEAD, department="工程部", deadline=NOW + timedelta(days=1)),
    AnalyseCause(actor=DEPT, cause="轴承磨损", responsible_party="维保单位"),
    ProposePlan(actor=DEPT, plan="更换轴承"),
    ApprovePlan(actor=SUPERVISOR, plan_id=1),
    RejectPlan(actor=SUPERVISOR, plan_id=1, reason="不合理"),
    ImplementPlan(actor=DEPT, plan_id=1, summary="已更换"),
    ReplyToOwner(actor=AGENT, message="正在处理"),
    CommitTime(actor=AGENT, promised_at=NOW + timedelta(hours=4), message="今天下午答复"),
    RecordRevisit(actor=AGENT, satisfied=True),
    Close(actor=HEAD),
    Reopen(actor=HEAD, reason="不满意"),
    RecordPreventiveMeasure(actor=DEPT, measure="每月检查轴承"),
    Withdraw(actor=AGENT, reason="业主撤诉"),
    Merge(actor=AGENT, into_complaint_id=OTHER_COMPLAINT),
    Resolve(
        actor=AGENT,
        validity=Validity.VALID,
        category=ServiceCategory.FACILITIES,
        summary="当场复位电梯门机",
    ),
    Rejudge(
        actor=HEAD, validity=Validity.ASSIST, category=ServiceCategory.FACILITIES, reason="复核"
    ),
    Suspend(actor=HEAD, reason="等待开发商答复", awaiting=Awaiting.DEVELOPER),
    Resume(actor=HEAD),
    TransferDepartment(actor=HEAD, to_department="秩序维护部", reason="门禁归秩序维护部"),
    SendBack(actor=DEPT, reason="非本部门职责"),
    TransferOffice(actor=PM, to_office="G小城", reason="该楼栋归G小城管理"),
    AcceptOfficeTransfer(actor=PM),
    FlagMajor(actor=PM, reason="媒体关注"),
    UnflagMajor(actor=PM, reason="经核实非重大"),
]

ADMINISTRATIVE = (TransferOffice, AcceptOfficeTransfer, FlagMajor, UnflagMajor)
"""Commands taken before acknowledgement too: whose the complaint is, how much it weighs."""


def named(commands: list[Command]) -> list[object]:
    """pytest params with the command's name as id."""
    return [pytest.param(c, id=c.name) for c in commands]


# -- given / when / then -------------------------------------------------------------------


def given(*events: EventData) -> State:
    """The state after these events, folded one by one with ``evolve``."""
    state = initial_state()
    for e in events:
        state = evolve(state, e)
    return state


def when(command: Command, *history: EventData, now: datetime = NOW) -> list[EventData]:
    """The events ``decide`` produces for ``command`` after ``history``."""
    return decide(command, given(*history), now=now)


def refusal(command: Command, *history: EventData, now: datetime = NOW) -> str:
    """The reason ``decide`` gives for refusing ``command`` after ``history`` (fails if it
    does not refuse)."""
    with pytest.raises(CommandRejected) as refused:
        decide(command, given(*history), now=now)
    return refused.value.reason


def test_command_samples_cover_every_command() -> None:
    assert {c.name for c in ALL_COMMANDS} == set(COMMANDS)


# ==========================================================================================
# evolve
# ==========================================================================================


def test_initial_state_is_new_with_nothing_folded() -> None:
    state = initial_state()
    assert (state.status, state.version, state.is_open) == (Status.NEW, 0, False)


def test_received_complaint_remembers_office_unit_and_channel() -> None:
    state = given(RECEIVED)
    assert (state.status, state.office, state.unit, state.channel) == (
        Status.RECEIVED,
        "Y园",
        "3栋1单元502",
        Channel.HOTLINE,
    )


def test_version_counts_every_event_folded() -> None:
    assert given(*AT_CLOSED).version == len(AT_CLOSED)


def test_redelivered_received_event_does_not_rewind_the_complaint() -> None:
    state = given(*AT_ASSIGNED, RECEIVED)
    assert state.status is Status.ASSIGNED
    assert state.department == "工程部"


def test_replay_equals_folding_with_evolve() -> None:
    assert replay(AT_REOPENED) == given(*AT_REOPENED)


SAMPLE_EVENTS: list[EventData] = [
    ACKNOWLEDGED,
    JUDGED_VALID,
    PROPOSED_DEPT,
    ASSIGNED,
    ANALYSED,
    PLAN_1,
    APPROVED_1,
    REJECTED_1,
    IMPLEMENTED_1,
    PROGRESS_REPLY,
    TimeCommitted(actor=AGENT, promised_at=NOW + timedelta(hours=3), message="下午答复"),
    SATISFIED,
    CLOSED,
    REOPENED,
    PreventiveMeasureRecorded(actor=DEPT, measure="每月检查"),
    MAJOR,
    ComplaintEscalated(level=EscalationLevel.CS_HEAD, reason="超时", timer="reply", deadline=NOW),
    WITHDRAWN,
    MERGED,
    ComplaintRejudged(
        actor=HEAD,
        validity=Validity.ASSIST,
        category=ServiceCategory.FACILITIES,
        previous_validity=Validity.VALID,
        previous_category=ServiceCategory.FACILITIES,
        reason="复核",
    ),
    ComplaintResolvedOnTheSpot(actor=AGENT, summary="当场解决", revisit=True),
    ComplaintSuspended(
        actor=HEAD, suspension_no=1, awaiting=Awaiting.DEVELOPER, reason="等待开发商"
    ),
    ComplaintResumed(actor=HEAD, suspension_no=1),
    OwnerNotReached(actor=AGENT, attempt_no=1),
    ComplaintTransferred(
        actor=HEAD, from_department="工程部", to_department="秩序维护部", reason="转派"
    ),
    ComplaintSentBack(actor=DEPT, department="工程部", reason="退单"),
    OfficeTransferRequested(actor=PM, to_office="G小城", reason="转办"),
    ComplaintOfficeTransferred(actor=PM, from_office="Y园", to_office="G小城", reason="转办"),
    MajorComplaintUnflagged(actor=PM, reason="经核实非重大"),
]


def test_event_samples_cover_every_lifecycle_event() -> None:
    # The newest version of each: older ones reach evolve only upcast to it.
    lifecycle = {
        latest_version(event_type)
        for (event_type, _), cls in registered_events().items()
        if cls.__module__.startswith("contracts.lifecycle")  # the package's modules
    }
    assert {type(e) for e in SAMPLE_EVENTS} == lifecycle


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.event_type)
def test_every_lifecycle_event_changes_more_than_the_version(event: EventData) -> None:
    # A resume changes something only where there is a suspension to end.
    suspended = ComplaintSuspended(
        actor=HEAD, suspension_no=1, awaiting=Awaiting.OWNER, reason="等待业主提供照片"
    )
    before = given(RECEIVED, suspended) if isinstance(event, ComplaintResumed) else given(RECEIVED)
    after = evolve(before, event)
    assert after.version == before.version + 1
    assert after != replace(before, version=after.version)


@pytest.mark.parametrize("event", SAMPLE_EVENTS, ids=lambda e: e.event_type)
def test_every_lifecycle_event_survives_the_trip_through_the_log(event: EventData) -> None:
    envelope = new_envelope(
        event,
        event_id=OTHER_COMPLAINT,
        complaint_id=OTHER_COMPLAINT,
        occurred_at=NOW,
        recorded_at=NOW,
        source="workflow",
    )
    assert decode_event(encode_event(envelope))[1] == event


def test_event_of_another_contract_only_advances_the_version() -> None:
    class SlaTimerStarted(EventData):  # not registered: a stand-in for another service's event
        event_type: ClassVar[str] = "SlaTimerStarted"
        schema_version: ClassVar[int] = 1

    before = given(*AT_ASSIGNED)
    after = evolve(before, SlaTimerStarted())
    assert after == replace(before, version=before.version + 1)


def test_rejected_plan_sends_the_complaint_back_to_analysed() -> None:
    state = given(*AT_PROPOSED, REJECTED_1)
    assert state.status is Status.ANALYSED
    assert state.plans[0].status is PlanStatus.REJECTED
    assert state.pending_plan is None


def test_new_plan_supersedes_an_approved_plan_not_carried_out() -> None:
    state = given(*AT_APPROVED, PLAN_2)
    assert [p.status for p in state.plans] == [PlanStatus.SUPERSEDED, PlanStatus.PROPOSED]
    assert state.approved_plan is None


def test_only_a_final_reply_counts_as_answered() -> None:
    assert not given(*AT_JUDGED_INVALID, PROGRESS_REPLY).answered
    state = given(*AT_JUDGED_INVALID, PROGRESS_REPLY, FINAL_REPLY)
    assert (state.answered, state.replies) == (True, 2)


def test_reopening_forgets_the_unsatisfied_answer_but_keeps_the_visit_count() -> None:
    state = given(*AT_REOPENED)
    assert (state.status, state.satisfied, state.revisits, state.reopened) == (
        Status.REOPENED,
        None,
        1,
        1,
    )


def test_major_complaint_sits_with_the_project_manager() -> None:
    state = given(*AT_RECEIVED, MAJOR)
    assert state.major
    assert state.escalation_level is EscalationLevel.PROJECT_MANAGER


def test_major_flag_never_lowers_an_escalation_already_at_the_company() -> None:
    to_company = ComplaintEscalated(
        level=EscalationLevel.COMPANY, reason="超时", timer="reply", deadline=NOW
    )
    assert given(*AT_RECEIVED, to_company, MAJOR).escalation_level is EscalationLevel.COMPANY


# ==========================================================================================
# decide: the refusals every command shares
# ==========================================================================================


@pytest.mark.parametrize("command", named(ALL_COMMANDS))
def test_any_command_for_a_complaint_never_received_is_refused(command: Command) -> None:
    assert "nothing was received" in refusal(command)


@pytest.mark.parametrize(
    "command",
    named(
        [
            c
            for c in ALL_COMMANDS
            if not isinstance(c, (Acknowledge, Withdraw, Merge, *ADMINISTRATIVE))
        ]
    ),
)
def test_any_step_before_acknowledgement_is_refused(command: Command) -> None:
    assert "acknowledge the complaint first" in refusal(command, *AT_RECEIVED)


@pytest.mark.parametrize("command", named(ALL_COMMANDS))
def test_any_command_on_a_withdrawn_complaint_is_refused(command: Command) -> None:
    assert "withdrawn" in refusal(command, *AT_WITHDRAWN)


@pytest.mark.parametrize("command", named(ALL_COMMANDS))
def test_any_command_on_a_merged_complaint_is_refused(command: Command) -> None:
    assert str(OTHER_COMPLAINT) in refusal(command, *AT_MERGED)


@pytest.mark.parametrize(
    "command", named([c for c in ALL_COMMANDS if not isinstance(c, RecordPreventiveMeasure)])
)
def test_any_command_but_a_preventive_measure_on_a_closed_complaint_is_refused(
    command: Command,
) -> None:
    assert "closed" in refusal(command, *AT_CLOSED)


def test_refusal_carries_the_state_it_was_refused_in() -> None:
    state = given(*AT_RECEIVED)
    with pytest.raises(CommandRejected) as refused:
        decide(Close(actor=HEAD), state, now=NOW)
    assert refused.value.state is state
    assert str(refused.value) == refused.value.reason


def test_deciding_with_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(Acknowledge(actor=AGENT), given(*AT_RECEIVED), now=NOW.replace(tzinfo=None))


# ==========================================================================================
# decide: step 2, first response (首问责任)
# ==========================================================================================


def test_acknowledging_a_received_complaint_makes_the_actor_its_owner() -> None:
    events = when(Acknowledge(actor=AGENT), *AT_RECEIVED)
    assert events == [ComplaintAcknowledged(actor=AGENT)]
    assert given(*AT_RECEIVED, *events).owner == AGENT


def test_second_acknowledgement_is_refused_naming_the_owner() -> None:
    assert "cs-007" in refusal(Acknowledge(actor=HEAD), *AT_ACKNOWLEDGED)


# ==========================================================================================
# decide: step 3, judging validity and category
# ==========================================================================================


def test_classifying_an_acknowledged_complaint_records_validity_and_category() -> None:
    command = Classify(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.SECURITY)
    assert when(command, *AT_ACKNOWLEDGED) == [
        ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.SECURITY)
    ]


def test_judging_again_before_assignment_corrects_the_judgement() -> None:
    command = Classify(actor=HEAD, validity=Validity.ASSIST, category=ServiceCategory.ENVIRONMENT)
    state = given(*AT_JUDGED, *when(command, *AT_JUDGED))
    assert (state.validity, state.category) == (Validity.ASSIST, ServiceCategory.ENVIRONMENT)


def test_invalid_complaint_may_be_judged_without_a_category() -> None:
    command = Classify(actor=AGENT, validity=Validity.INVALID)
    assert when(command, *AT_ACKNOWLEDGED) == [
        ComplaintJudged(actor=AGENT, validity=Validity.INVALID)
    ]


@pytest.mark.parametrize("validity", [Validity.VALID, Validity.ASSIST])
def test_valid_or_assist_judgement_without_a_category_is_refused(validity: Validity) -> None:
    reason = refusal(Classify(actor=AGENT, validity=validity), *AT_ACKNOWLEDGED)
    assert "service category" in reason


@pytest.mark.parametrize("history", [AT_ASSIGNED, AT_ANALYSED, AT_IMPLEMENTED, AT_REOPENED])
def test_judging_once_a_department_has_the_complaint_is_refused(
    history: tuple[EventData, ...],
) -> None:
    command = Classify(actor=AGENT, validity=Validity.INVALID)
    assert "before a department takes it" in refusal(command, *history)


# ==========================================================================================
# decide: step 4, responsible department and deadline
# ==========================================================================================


def test_assigning_the_proposed_department_is_recorded_as_the_routing_rule() -> None:
    deadline = NOW + timedelta(days=1)
    events = when(AssignDepartment(actor=HEAD, department="工程部", deadline=deadline), *AT_JUDGED)
    assert events == [
        DepartmentAssigned(
            actor=HEAD, department="工程部", deadline=deadline, reason="routing rule"
        )
    ]


def test_assigning_another_department_than_proposed_is_recorded_as_manual() -> None:
    command = AssignDepartment(
        actor=HEAD, department="秩序维护部", deadline=NOW + timedelta(days=1), note="涉及门禁"
    )
    [event] = when(command, *AT_JUDGED)
    assert isinstance(event, DepartmentAssigned)
    assert (event.reason, event.note) == ("manual", "涉及门禁")


def test_assist_complaint_can_be_given_to_a_department() -> None:
    assist = ComplaintJudged(
        actor=AGENT, validity=Validity.ASSIST, category=ServiceCategory.ENVIRONMENT
    )
    command = AssignDepartment(actor=HEAD, department="环境部", deadline=NOW + timedelta(hours=8))
    state = given(*AT_ACKNOWLEDGED, assist, *when(command, *AT_ACKNOWLEDGED, assist))
    assert (state.status, state.department) == (Status.ASSIGNED, "环境部")


@pytest.mark.parametrize("history", [AT_ASSIGNED, AT_ANALYSED, AT_REOPENED])
def test_department_can_be_changed_until_a_plan_is_proposed(
    history: tuple[EventData, ...],
) -> None:
    deadline = NOW + timedelta(days=3)
    command = AssignDepartment(actor=HEAD, department="会所", deadline=deadline)
    state = given(*history, *when(command, *history))
    assert (state.status, state.department, state.deadline) == (
        Status.ASSIGNED,
        "会所",
        deadline,
    )


def test_assigning_before_judgement_is_refused() -> None:
    command = AssignDepartment(actor=HEAD, department="工程部", deadline=NOW + timedelta(days=1))
    assert "judge the complaint" in refusal(command, *AT_ACKNOWLEDGED)


def test_assigning_an_invalid_complaint_to_a_department_is_refused() -> None:
    command = AssignDepartment(actor=HEAD, department="工程部", deadline=NOW + timedelta(days=1))
    assert "invalid complaint" in refusal(command, *AT_JUDGED_INVALID)


@pytest.mark.parametrize("deadline", [NOW - timedelta(minutes=1), NOW], ids=["past", "now"])
def test_assigning_with_a_deadline_not_in_the_future_is_refused(deadline: datetime) -> None:
    command = AssignDepartment(actor=HEAD, department="工程部", deadline=deadline)
    assert "future" in refusal(command, *AT_JUDGED)


@pytest.mark.parametrize("history", [AT_PROPOSED, AT_APPROVED, AT_IMPLEMENTED, AT_SATISFIED])
def test_changing_department_once_a_plan_is_under_way_is_refused(
    history: tuple[EventData, ...],
) -> None:
    command = AssignDepartment(actor=HEAD, department="会所", deadline=NOW + timedelta(days=1))
    assert "cannot be changed" in refusal(command, *history)


# ==========================================================================================
# decide: step 5, cause analysis
# ==========================================================================================


def test_assigned_department_records_cause_and_responsible_party() -> None:
    command = AnalyseCause(actor=DEPT, cause="轴承磨损", responsible_party="维保单位")
    assert when(command, *AT_ASSIGNED) == [
        CauseAnalysed(actor=DEPT, cause="轴承磨损", responsible_party="维保单位")
    ]


@pytest.mark.parametrize("history", [AT_ANALYSED, AT_REOPENED])
def test_cause_can_be_analysed_again(history: tuple[EventData, ...]) -> None:
    command = AnalyseCause(actor=DEPT, cause="控制柜故障", responsible_party="工程部")
    state = given(*history, *when(command, *history))
    assert (state.status, state.cause) == (Status.ANALYSED, "控制柜故障")


@pytest.mark.parametrize("history", [AT_JUDGED, AT_JUDGED_INVALID, AT_PROPOSED, AT_IMPLEMENTED])
def test_analysing_without_a_department_at_work_is_refused(
    history: tuple[EventData, ...],
) -> None:
    command = AnalyseCause(actor=DEPT, cause="x", responsible_party="y")
    assert "once a department has the complaint" in refusal(command, *history)


# ==========================================================================================
# decide: steps 6-7, plans and their approval
# ==========================================================================================


def test_first_plan_after_analysis_is_plan_1() -> None:
    assert when(ProposePlan(actor=DEPT, plan="更换轴承"), *AT_ANALYSED) == [
        ResolutionProposed(actor=DEPT, plan_id=1, plan="更换轴承")
    ]


def test_plan_after_a_rejected_one_gets_the_next_number() -> None:
    [event] = when(ProposePlan(actor=DEPT, plan="另一方案"), *AT_PROPOSED, REJECTED_1)
    assert isinstance(event, ResolutionProposed) and event.plan_id == 2


def test_new_plan_may_replace_an_approved_one_the_owner_declined() -> None:
    [event] = when(ProposePlan(actor=DEPT, plan="业主要求的方案"), *AT_APPROVED)
    assert isinstance(event, ResolutionProposed) and event.plan_id == 2


def test_reopened_complaint_may_get_a_new_plan_without_new_analysis() -> None:
    [event] = when(ProposePlan(actor=DEPT, plan="更换整套曳引机"), *AT_REOPENED)
    assert isinstance(event, ResolutionProposed) and event.plan_id == 2


@pytest.mark.parametrize("history", [AT_JUDGED, AT_ASSIGNED, AT_IMPLEMENTED])
def test_proposing_before_the_cause_is_analysed_or_after_implementation_is_refused(
    history: tuple[EventData, ...],
) -> None:
    assert "follows the cause analysis" in refusal(ProposePlan(actor=DEPT, plan="x"), *history)


def test_proposing_while_a_plan_awaits_approval_is_refused() -> None:
    assert "plan 1 awaits approval" in refusal(ProposePlan(actor=DEPT, plan="x"), *AT_PROPOSED)


@pytest.mark.parametrize("approver", [SUPERVISOR, PM, Actor(staff_id="q-1", role=Role.COMPANY)])
def test_supervisor_project_manager_or_company_approve_the_pending_plan(approver: Actor) -> None:
    command = ApprovePlan(actor=approver, plan_id=1, comment="同意")
    assert when(command, *AT_PROPOSED) == [PlanApproved(actor=approver, plan_id=1, comment="同意")]


def test_supervisor_rejects_the_pending_plan_with_a_reason() -> None:
    command = RejectPlan(actor=SUPERVISOR, plan_id=1, reason="赔偿不足")
    assert when(command, *AT_PROPOSED) == [
        PlanRejected(actor=SUPERVISOR, plan_id=1, reason="赔偿不足")
    ]


@pytest.mark.parametrize(
    "command",
    [ApprovePlan(actor=SUPERVISOR, plan_id=1), RejectPlan(actor=SUPERVISOR, plan_id=1, reason="x")],
    ids=["approve", "reject"],
)
@pytest.mark.parametrize(
    "history",
    [AT_ANALYSED, AT_APPROVED, (*AT_PROPOSED, REJECTED_1), AT_IMPLEMENTED],
    ids=["analysed", "approved", "rejected", "implemented"],
)
def test_approve_or_reject_without_a_pending_plan_is_refused(
    command: Command, history: tuple[EventData, ...]
) -> None:
    assert "no plan awaits approval" in refusal(command, *history)


def test_approving_another_plan_than_the_pending_one_is_refused() -> None:
    history = (*AT_PROPOSED, REJECTED_1, PLAN_2)
    assert "plan 2 does" in refusal(ApprovePlan(actor=SUPERVISOR, plan_id=1), *history)


@pytest.mark.parametrize("role", [Role.CS_AGENT, Role.CS_HEAD, Role.DEPARTMENT, Role.SYSTEM])
def test_approval_by_anyone_but_a_supervising_leader_is_refused(role: Role) -> None:
    command = ApprovePlan(actor=Actor(staff_id="x-1", role=role), plan_id=1)
    assert "cannot approve" in refusal(command, *AT_PROPOSED)


def test_rejection_by_the_department_itself_is_refused() -> None:
    command = RejectPlan(actor=DEPT, plan_id=1, reason="x")
    assert "cannot approve or reject" in refusal(command, *AT_PROPOSED)


# ==========================================================================================
# decide: step 8, implementation
# ==========================================================================================


def test_implementing_the_approved_plan_records_accountability() -> None:
    record = AccountabilityRecord(person="张工", measure="扣罚绩效", reason="巡检漏报")
    command = ImplementPlan(actor=DEPT, plan_id=1, summary="已更换", accountability=(record,))
    assert when(command, *AT_APPROVED) == [
        PlanImplemented(actor=DEPT, plan_id=1, summary="已更换", accountability=(record,))
    ]


@pytest.mark.parametrize(
    "history",
    [AT_ANALYSED, AT_PROPOSED, (*AT_PROPOSED, REJECTED_1), AT_IMPLEMENTED, (*AT_APPROVED, PLAN_2)],
    ids=["analysed", "pending", "rejected", "implemented", "superseded"],
)
def test_implementation_without_an_approved_plan_is_refused(
    history: tuple[EventData, ...],
) -> None:
    command = ImplementPlan(actor=DEPT, plan_id=1, summary="x")
    assert "no approved plan" in refusal(command, *history)


def test_implementing_another_plan_than_the_approved_one_is_refused() -> None:
    command = ImplementPlan(actor=DEPT, plan_id=2, summary="x")
    assert "plan 1 is" in refusal(command, *AT_APPROVED)


# ==========================================================================================
# decide: step 9, replies and time commitments
# ==========================================================================================


@pytest.mark.parametrize(
    "history", OPEN_AFTER_ACKNOWLEDGEMENT.values(), ids=list(OPEN_AFTER_ACKNOWLEDGEMENT)
)
def test_owner_can_be_answered_at_any_open_stage_after_acknowledgement(
    history: tuple[EventData, ...],
) -> None:
    command = ReplyToOwner(actor=AGENT, message="正在处理")
    assert when(command, *history) == [OwnerReplied(actor=AGENT, message="正在处理")]


@pytest.mark.parametrize(
    "history", OPEN_AFTER_ACKNOWLEDGEMENT.values(), ids=list(OPEN_AFTER_ACKNOWLEDGEMENT)
)
def test_time_can_be_committed_at_any_open_stage_after_acknowledgement(
    history: tuple[EventData, ...],
) -> None:
    promised = NOW + timedelta(hours=4)
    command = CommitTime(actor=AGENT, promised_at=promised, message="下午四点前答复")
    assert when(command, *history) == [
        TimeCommitted(actor=AGENT, promised_at=promised, message="下午四点前答复")
    ]


@pytest.mark.parametrize("promised", [NOW - timedelta(hours=1), NOW], ids=["past", "now"])
def test_time_commitment_not_in_the_future_is_refused(promised: datetime) -> None:
    command = CommitTime(actor=AGENT, promised_at=promised, message="x")
    assert "future" in refusal(command, *AT_ASSIGNED)


# ==========================================================================================
# decide: step 10, revisits
# ==========================================================================================


def test_first_revisit_after_implementation_is_visit_1() -> None:
    command = RecordRevisit(actor=AGENT, satisfied=True, remarks="已修好")
    assert when(command, *AT_IMPLEMENTED) == [
        RevisitRecorded(actor=AGENT, visit_no=1, satisfied=True, remarks="已修好")
    ]


def test_second_revisit_gets_the_next_number() -> None:
    [event] = when(RecordRevisit(actor=AGENT, satisfied=True), *AT_SATISFIED)
    assert isinstance(event, RevisitRecorded) and event.visit_no == 2


@pytest.mark.parametrize("history", [AT_ANALYSED, AT_APPROVED, AT_REOPENED, AT_JUDGED_INVALID])
def test_revisit_before_a_plan_was_implemented_is_refused(
    history: tuple[EventData, ...],
) -> None:
    assert "implemented plan" in refusal(RecordRevisit(actor=AGENT, satisfied=True), *history)


def test_major_complaint_revisit_by_a_customer_service_agent_is_refused() -> None:
    history = (*AT_IMPLEMENTED, MAJOR)
    command = RecordRevisit(actor=AGENT, satisfied=True)
    assert "project manager" in refusal(command, *history)


def test_major_complaint_is_revisited_by_the_project_manager() -> None:
    [event] = when(RecordRevisit(actor=PM, satisfied=True), *AT_IMPLEMENTED, MAJOR)
    assert isinstance(event, RevisitRecorded) and event.actor == PM


# ==========================================================================================
# decide: step 11, closing, and reopening
# ==========================================================================================


def test_complaint_closes_after_a_satisfied_revisit() -> None:
    assert when(Close(actor=HEAD, note="存档"), *AT_SATISFIED) == [
        ComplaintClosed(actor=HEAD, note="存档")
    ]


def test_invalid_complaint_closes_once_answered_without_a_department() -> None:
    history = (*AT_JUDGED_INVALID, FINAL_REPLY)
    state = given(*history, *when(Close(actor=HEAD), *history))
    assert (state.status, state.department) == (Status.CLOSED, None)


def test_closing_an_invalid_complaint_not_yet_answered_is_refused() -> None:
    assert "answer the owner" in refusal(Close(actor=HEAD), *AT_JUDGED_INVALID)


def test_closing_an_invalid_complaint_after_only_a_progress_update_is_refused() -> None:
    history = (*AT_JUDGED_INVALID, PROGRESS_REPLY)
    assert "answer the owner" in refusal(Close(actor=HEAD), *history)


@pytest.mark.parametrize(
    "history",
    [AT_ACKNOWLEDGED, AT_JUDGED, AT_ASSIGNED, AT_APPROVED, AT_IMPLEMENTED, AT_REOPENED],
)
def test_closing_without_a_satisfied_revisit_is_refused(history: tuple[EventData, ...]) -> None:
    assert "owner was satisfied" in refusal(Close(actor=HEAD), *history)


def test_answering_a_valid_complaint_does_not_allow_closing_it_without_revisit() -> None:
    history = (*AT_IMPLEMENTED, FINAL_REPLY)
    assert "revisit" in refusal(Close(actor=HEAD), *history)


def test_closing_after_an_unsatisfied_revisit_is_refused() -> None:
    assert "reopen it instead" in refusal(Close(actor=HEAD), *AT_UNSATISFIED)


def test_satisfied_second_revisit_after_an_unsatisfied_one_allows_closing() -> None:
    second = RevisitRecorded(actor=AGENT, visit_no=2, satisfied=True)
    assert when(Close(actor=HEAD), *AT_UNSATISFIED, second) == [ComplaintClosed(actor=HEAD)]


def test_unsatisfied_revisit_reopens_the_complaint() -> None:
    command = Reopen(actor=HEAD, reason="仍有异响")
    events = when(command, *AT_UNSATISFIED)
    assert events == [ComplaintReopened(actor=HEAD, reason="仍有异响")]
    assert given(*AT_UNSATISFIED, *events).status is Status.REOPENED


def test_reopening_after_a_satisfied_revisit_is_refused() -> None:
    assert "not satisfied" in refusal(Reopen(actor=HEAD, reason="x"), *AT_SATISFIED)


@pytest.mark.parametrize("history", [AT_ASSIGNED, AT_IMPLEMENTED, AT_REOPENED])
def test_reopening_without_an_unsatisfied_revisit_is_refused(
    history: tuple[EventData, ...],
) -> None:
    assert "not satisfied" in refusal(Reopen(actor=HEAD, reason="x"), *history)


def test_reopening_a_closed_complaint_is_refused() -> None:
    assert "record a new complaint" in refusal(Reopen(actor=HEAD, reason="x"), *AT_CLOSED)


def test_reopened_complaint_closes_only_after_a_new_plan_and_a_satisfied_revisit() -> None:
    # Given the reopened complaint, the old satisfied-looking history is not enough ...
    assert "revisit" in refusal(Close(actor=HEAD), *AT_REOPENED)
    # ... but a second plan, approved, carried out and found satisfying is.
    history = (
        *AT_REOPENED,
        PLAN_2,
        PlanApproved(actor=SUPERVISOR, plan_id=2),
        PlanImplemented(actor=DEPT, plan_id=2, summary="已更换曳引机"),
        RevisitRecorded(actor=AGENT, visit_no=2, satisfied=True),
    )
    assert when(Close(actor=HEAD), *history) == [ComplaintClosed(actor=HEAD)]


# ==========================================================================================
# decide: step 12, preventive measures
# ==========================================================================================


@pytest.mark.parametrize(
    "history",
    [AT_IMPLEMENTED, AT_SATISFIED, AT_CLOSED, AT_REOPENED],
    ids=["implemented", "revisited", "closed", "reopened"],
)
def test_preventive_measure_is_recorded_after_implementation(
    history: tuple[EventData, ...],
) -> None:
    command = RecordPreventiveMeasure(actor=DEPT, measure="每月检查轴承")
    assert when(command, *history) == [
        PreventiveMeasureRecorded(actor=DEPT, measure="每月检查轴承")
    ]


@pytest.mark.parametrize(
    "history",
    [AT_ANALYSED, AT_APPROVED, (*AT_JUDGED_INVALID, FINAL_REPLY, CLOSED)],
    ids=["analysed", "approved", "closed_invalid"],
)
def test_preventive_measure_before_any_implementation_is_refused(
    history: tuple[EventData, ...],
) -> None:
    command = RecordPreventiveMeasure(actor=DEPT, measure="x")
    assert "implemented plan" in refusal(command, *history)


# ==========================================================================================
# decide: withdrawal and merging
# ==========================================================================================


@pytest.mark.parametrize("history", OPEN.values(), ids=list(OPEN))
def test_open_complaint_can_be_withdrawn_which_ends_it_without_closing(
    history: tuple[EventData, ...],
) -> None:
    events = when(Withdraw(actor=AGENT, reason="业主撤诉"), *history)
    assert events == [ComplaintWithdrawn(actor=AGENT, reason="业主撤诉")]
    assert given(*history, *events).status is Status.WITHDRAWN


@pytest.mark.parametrize("history", OPEN.values(), ids=list(OPEN))
def test_open_duplicate_can_be_merged_into_another_complaint(
    history: tuple[EventData, ...],
) -> None:
    events = when(Merge(actor=AGENT, into_complaint_id=OTHER_COMPLAINT), *history)
    assert events == [ComplaintMerged(actor=AGENT, into_complaint_id=OTHER_COMPLAINT)]
    assert given(*history, *events).status is Status.MERGED


# ==========================================================================================
# the whole procedure
# ==========================================================================================


def test_valid_complaint_goes_from_receipt_to_archive_through_every_step() -> None:
    commands: list[Command] = [
        Acknowledge(actor=AGENT),
        Classify(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FACILITIES),
        AssignDepartment(actor=HEAD, department="工程部", deadline=NOW + timedelta(days=2)),
        CommitTime(actor=AGENT, promised_at=NOW + timedelta(days=1), message="明日答复"),
        AnalyseCause(actor=DEPT, cause="轴承磨损", responsible_party="维保单位"),
        ProposePlan(actor=DEPT, plan="更换轴承"),
        ApprovePlan(actor=SUPERVISOR, plan_id=1),
        ImplementPlan(actor=DEPT, plan_id=1, summary="已更换"),
        ReplyToOwner(actor=AGENT, message="已修复", final=True),
        RecordRevisit(actor=AGENT, satisfied=True),
        Close(actor=HEAD),
        RecordPreventiveMeasure(actor=DEPT, measure="每月检查轴承"),
    ]
    state = given(RECEIVED)
    statuses = []
    for command in commands:
        for event in decide(command, state, now=NOW):
            state = evolve(state, event)
        statuses.append(state.status.value)
    assert statuses == [
        "acknowledged",
        "judged",
        "assigned",
        "assigned",
        "analysed",
        "plan_proposed",
        "plan_approved",
        "implemented",
        "implemented",
        "revisited",
        "closed",
        "closed",
    ]
    assert (state.version, state.answered, state.preventive_measures) == (13, True, 1)

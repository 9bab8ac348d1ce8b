"""Issue 15 items 5, 6, 8, 9 in the Decider: transfer (转派), send-back (退单), the helping
department (协办), transfer to another office (跨项目转办), major complaints as policy data and
a person's judgment, merge checks, the closing summary, and a clock for every open complaint."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import given as hypothesis_given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import EventData
from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.lifecycle import (
    Actor,
    Awaiting,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintSentBack,
    ComplaintSuspended,
    ComplaintTransferred,
    DepartmentAssigned,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OfficeTransferRequested,
    OwnerReplied,
    Role,
)
from services.workflow.commands import (
    AcceptOfficeTransfer,
    Acknowledge,
    AnalyseCause,
    ApprovePlan,
    AssignDepartment,
    Classify,
    Close,
    Command,
    FlagMajor,
    ImplementPlan,
    Merge,
    ProposePlan,
    RecordRevisit,
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
)
from services.workflow.domain import (
    ENDED,
    RULES_ACTOR,
    CommandRejected,
    InvalidCommand,
    MergeTarget,
    PlanStatus,
    State,
    Status,
    Suspension,
    check_merge_target,
    clock_stage,
    decide,
    detect_major,
    evolve,
    judge_major,
    next_deadline,
)
from services.workflow.permissions import acting_office
from services.workflow.policy import (
    ClockPolicy,
    MajorPolicy,
    OfficePolicy,
    PolicyError,
    RepeatKey,
    load_office_policy,
    parse_office_policy,
)
from tests.unit.workflow.test_workflow_domain import (
    AGENT,
    AT_ACKNOWLEDGED,
    AT_ANALYSED,
    AT_APPROVED,
    AT_ASSIGNED,
    AT_IMPLEMENTED,
    AT_JUDGED,
    AT_JUDGED_INVALID,
    AT_PROPOSED,
    AT_RECEIVED,
    AT_REOPENED,
    AT_SATISFIED,
    AT_UNSATISFIED,
    DEPT,
    HEAD,
    MAJOR,
    NOW,
    OTHER_COMPLAINT,
    PM,
    RECEIVED,
    SUPERVISOR,
    given,
    refusal,
    when,
)

COMPANY = Actor(staff_id="pz-001", role=Role.COMPANY)
POLICY = load_office_policy()  # the shipped policy.yaml
NEW_DEADLINE = NOW + timedelta(days=5)

WITH_A_DEPARTMENT = {
    "assigned": AT_ASSIGNED,
    "analysed": AT_ANALYSED,
    "plan_proposed": AT_PROPOSED,
    "plan_approved": AT_APPROVED,
    "reopened": AT_REOPENED,
}
AFTER_IMPLEMENTATION = {"implemented": AT_IMPLEMENTED, "revisited": AT_SATISFIED}

# ==========================================================================================
# 转派: transfer to another department
# ==========================================================================================


def detect_major_of(received: Any, prior: Any, policy: Any) -> Any:
    """``detect_major`` with the owner in clear: these complaints' phones stand for their
    references (the rule compares them only for equality)."""
    return detect_major(received, prior, policy, owner=received.complainant.phone)


def transfer(**overrides: object) -> TransferDepartment:
    fields: dict[str, object] = {
        "actor": HEAD,
        "to_department": "秩序维护部",
        "reason": "门禁故障归秩序维护部",
    }
    return TransferDepartment.model_validate({**fields, **overrides})


@pytest.mark.parametrize("history", WITH_A_DEPARTMENT.values(), ids=list(WITH_A_DEPARTMENT))
def test_a_complaint_a_department_has_is_transferred_before_implementation(
    history: tuple[EventData, ...],
) -> None:
    [event] = when(transfer(helper_department="工程部", deadline=NEW_DEADLINE), *history)
    assert event == ComplaintTransferred(
        actor=HEAD,
        from_department="工程部",
        to_department="秩序维护部",
        reason="门禁故障归秩序维护部",
        deadline=NEW_DEADLINE,
        helper_department="工程部",
    )
    state = given(*history, event)
    assert (state.status, state.department, state.helper_department, state.deadline) == (
        Status.ASSIGNED,
        "秩序维护部",
        "工程部",
        NEW_DEADLINE,
    )
    assert state.transfers == 1
    # The new department starts from its own analysis: no plan of the old one waits.
    assert state.pending_plan is None and state.approved_plan is None


def test_a_transfer_without_a_new_deadline_keeps_the_assignment_s() -> None:
    [event] = when(transfer(), *AT_ANALYSED)
    assert given(*AT_ANALYSED, event).deadline == given(*AT_ANALYSED).deadline


def test_a_transferred_plan_not_carried_out_is_superseded() -> None:
    [event] = when(transfer(), *AT_APPROVED)
    assert [p.status for p in given(*AT_APPROVED, event).plans] == [PlanStatus.SUPERSEDED]


@pytest.mark.parametrize("actor", [PM, COMPANY], ids=["project_manager", "company"])
def test_the_project_manager_and_the_company_transfer_too(actor: Actor) -> None:
    [event] = when(transfer(actor=actor), *AT_ASSIGNED)
    assert isinstance(event, ComplaintTransferred) and event.actor == actor


def test_a_complaint_no_department_has_is_assigned_not_transferred() -> None:
    assert "assign it" in refusal(transfer(), *AT_JUDGED)
    assert "before its plan is carried out" in refusal(transfer(), *AT_JUDGED_INVALID)


@pytest.mark.parametrize("history", AFTER_IMPLEMENTATION.values(), ids=list(AFTER_IMPLEMENTATION))
def test_no_transfer_once_the_plan_was_carried_out(history: tuple[EventData, ...]) -> None:
    assert "before its plan is carried out" in refusal(transfer(), *history)


def test_a_transfer_to_the_department_that_has_it_is_refused() -> None:
    assert "with 工程部 already" in refusal(transfer(to_department="工程部"), *AT_ASSIGNED)


def test_a_transfer_with_a_deadline_in_the_past_is_refused() -> None:
    past = transfer(deadline=NOW - timedelta(minutes=1))
    assert "must lie in the future" in refusal(past, *AT_ASSIGNED)


@pytest.mark.parametrize("actor", [AGENT, DEPT, SUPERVISOR], ids=lambda a: a.role.value)
def test_others_do_not_transfer(actor: Actor) -> None:
    assert "cannot transfer" in refusal(transfer(actor=actor), *AT_ASSIGNED)


def test_a_suspended_complaint_is_resumed_before_a_transfer() -> None:
    suspended = ComplaintSuspended(
        actor=HEAD, suspension_no=1, awaiting=Awaiting.OWNER, reason="等业主"
    )
    assert "resume it first" in refusal(transfer(), *AT_ASSIGNED, suspended)


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (lambda: transfer(helper_department="秩序维护部"), "helper_department"),
        (
            lambda: AssignDepartment(
                actor=HEAD, department="工程部", deadline=NEW_DEADLINE, helper_department="工程部"
            ),
            "helper_department",
        ),
        (lambda: transfer(reason=""), "reason"),
    ],
)
def test_bad_transfer_input_is_refused_naming_the_field(command: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        command()  # type: ignore[operator]
    assert {e["loc"][0] for e in info.value.errors()} == {field}


# ==========================================================================================
# 协办: a helping department on an assignment
# ==========================================================================================


def test_an_assignment_may_name_a_helping_department() -> None:
    command = AssignDepartment(
        actor=HEAD, department="工程部", deadline=NEW_DEADLINE, helper_department="秩序维护部"
    )
    [event] = when(command, *AT_JUDGED)
    assert isinstance(event, DepartmentAssigned) and event.helper_department == "秩序维护部"
    state = given(*AT_JUDGED, event)
    assert (state.department, state.helper_department) == ("工程部", "秩序维护部")
    # A later assignment without one has none.
    again = AssignDepartment(actor=HEAD, department="工程部", deadline=NEW_DEADLINE)
    [event] = when(again, *AT_JUDGED, event)
    assert given(*AT_JUDGED, event).helper_department is None


# ==========================================================================================
# 退单: the department sends the complaint back
# ==========================================================================================

SEND_BACK = SendBack(actor=DEPT, reason="非本部门职责，应由秩序维护部处理")


@pytest.mark.parametrize("history", WITH_A_DEPARTMENT.values(), ids=list(WITH_A_DEPARTMENT))
def test_the_department_sends_a_complaint_back_and_it_waits_for_assignment(
    history: tuple[EventData, ...],
) -> None:
    [event] = when(SEND_BACK, *history)
    assert event == ComplaintSentBack(
        actor=DEPT, department="工程部", reason="非本部门职责，应由秩序维护部处理"
    )
    state = given(*history, event)
    assert (state.status, state.department, state.deadline, state.sent_back) == (
        Status.JUDGED,
        None,
        None,
        1,
    )
    assert state.pending_plan is None and state.approved_plan is None
    assert clock_stage(state) == "assignment"
    # ... and is assigned again.
    again = AssignDepartment(actor=HEAD, department="秩序维护部", deadline=NEW_DEADLINE)
    [assigned] = when(again, *history, event)
    assert given(*history, event, assigned).department == "秩序维护部"


@pytest.mark.parametrize("actor", [HEAD, PM, COMPANY, AGENT], ids=lambda a: a.role.value)
def test_only_the_department_sends_back(actor: Actor) -> None:
    command = SendBack(actor=actor, reason="x")
    assert "cannot send a complaint back" in refusal(command, *AT_ASSIGNED)


def test_nothing_to_send_back_before_assignment_or_after_implementation() -> None:
    assert "nothing to send back" in refusal(SEND_BACK, *AT_JUDGED)
    assert "before its plan is carried out" in refusal(SEND_BACK, *AT_IMPLEMENTED)


# ==========================================================================================
# 跨项目转办: transfer to another office
# ==========================================================================================

TO_G = TransferOffice(actor=PM, to_office="G小城", reason="该楼栋已划归G小城管理")
ACCEPT = AcceptOfficeTransfer(actor=Actor(staff_id="pm-g", role=Role.PROJECT_MANAGER))


def test_the_company_transfers_a_complaint_to_another_office_at_once() -> None:
    [event] = when(TO_G.model_copy(update={"actor": COMPANY}), *AT_ASSIGNED)
    assert event == ComplaintOfficeTransferred(
        actor=COMPANY, from_office="Y园", to_office="G小城", reason="该楼栋已划归G小城管理"
    )
    state = given(*AT_ASSIGNED, event)
    assert (state.office, state.office_transfers, state.status) == ("G小城", 1, Status.ASSIGNED)
    assert acting_office("assign", state) == "G小城"


def test_a_project_manager_asks_and_one_of_the_other_office_accepts() -> None:
    [asked] = when(TO_G, *AT_ASSIGNED)
    assert asked == OfficeTransferRequested(
        actor=PM, to_office="G小城", reason="该楼栋已划归G小城管理"
    )
    waiting = given(*AT_ASSIGNED, asked)
    assert waiting.office == "Y园" and waiting.office_request is not None
    # Until accepted it belongs to its office; the accepting is the other office's.
    assert acting_office("assign", waiting) == "Y园"
    assert acting_office("transfer-office/accept", waiting) == "G小城"
    [moved] = when(ACCEPT, *AT_ASSIGNED, asked)
    assert moved == ComplaintOfficeTransferred(
        actor=ACCEPT.actor, from_office="Y园", to_office="G小城", reason="该楼栋已划归G小城管理"
    )
    state = given(*AT_ASSIGNED, asked, moved)
    assert (state.office, state.office_request) == ("G小城", None)
    assert acting_office("transfer-office/accept", state) == "G小城"


def test_a_new_request_replaces_the_open_one() -> None:
    [first] = when(TO_G, *AT_ASSIGNED)
    [second] = when(TO_G.model_copy(update={"to_office": "*湾花园"}), *AT_ASSIGNED, first)
    request = given(*AT_ASSIGNED, first, second).office_request
    assert request is not None and request.to_office == "*湾花园"


def test_office_transfer_refusals() -> None:
    same = TO_G.model_copy(update={"to_office": "Y园"})
    assert "belongs to Y园 already" in refusal(same, *AT_ASSIGNED)
    assert "no transfer to another office awaits" in refusal(ACCEPT, *AT_ASSIGNED)
    [asked] = when(TO_G, *AT_ASSIGNED)
    by_company = AcceptOfficeTransfer(actor=COMPANY)
    assert "project manager of G小城 accepts" in refusal(by_company, *AT_ASSIGNED, asked)
    by_head = TO_G.model_copy(update={"actor": HEAD})
    assert "cannot hand a complaint to another office" in refusal(by_head, *AT_ASSIGNED)


def test_a_complaint_is_transferred_to_another_office_before_acknowledgement_or_suspended() -> None:
    assert isinstance(when(TO_G, *AT_RECEIVED)[0], OfficeTransferRequested)
    suspended = ComplaintSuspended(
        actor=HEAD, suspension_no=1, awaiting=Awaiting.OWNER, reason="等业主"
    )
    [asked] = when(TO_G, *AT_ASSIGNED, suspended)
    [moved] = when(ACCEPT, *AT_ASSIGNED, suspended, asked)
    state = given(*AT_ASSIGNED, suspended, asked, moved)
    assert (state.office, state.status) == ("G小城", Status.SUSPENDED)


# ==========================================================================================
# 重大投诉: a person's judgment
# ==========================================================================================

FLAG = FlagMajor(actor=PM, reason="业主向媒体投诉，影响较大")
UNFLAG = UnflagMajor(actor=COMPANY, reason="经核实为一般投诉")


def test_a_project_manager_flags_a_complaint_major() -> None:
    [event] = when(FLAG, *AT_ASSIGNED)
    assert event == MajorComplaintFlagged(
        rule=MajorRule.MANUAL, reason="业主向媒体投诉，影响较大", actor=PM
    )
    state = given(*AT_ASSIGNED, event)
    assert (state.major, state.major_rule, state.major_by_person) == (True, MajorRule.MANUAL, True)


def test_the_company_unflags_a_major_complaint() -> None:
    [event] = when(UNFLAG, *AT_ASSIGNED, MAJOR)
    assert event == MajorComplaintUnflagged(actor=COMPANY, reason="经核实为一般投诉")
    state = given(*AT_ASSIGNED, MAJOR, event)
    assert (state.major, state.major_rule, state.major_by_person) == (False, None, True)


def test_flagging_one_a_rule_made_major_makes_it_a_person_s_flag() -> None:
    [event] = when(FLAG, *AT_ASSIGNED, MAJOR)
    assert given(*AT_ASSIGNED, MAJOR, event).major_by_person


def test_major_flag_refusals() -> None:
    flagged = MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="x", actor=PM)
    assert "flagged major by a person already" in refusal(FLAG, *AT_ASSIGNED, flagged)
    assert "is not major" in refusal(UNFLAG, *AT_ASSIGNED)
    head = FlagMajor(actor=HEAD, reason="x")
    assert "cannot flag a complaint major" in refusal(head, *AT_ASSIGNED)
    agent = UnflagMajor(actor=AGENT, reason="x")
    assert "cannot unflag" in refusal(agent, *AT_ASSIGNED, MAJOR)
    assert "closed" in refusal(FLAG, *AT_SATISFIED, ComplaintClosed(actor=HEAD))


def test_a_complaint_is_flagged_major_before_acknowledgement_too() -> None:
    assert isinstance(when(FLAG, *AT_RECEIVED)[0], MajorComplaintFlagged)


# ==========================================================================================
# 重大投诉: the rules as policy data
# ==========================================================================================

SUPERVISION = RECEIVED.model_copy(
    update={"channel": Channel.SUPERVISION, "over_the_head": True, "submission_id": "sup-1"}
)
OVER_THE_HEAD = detect_major_of(SUPERVISION, [], POLICY.major)
assert OVER_THE_HEAD is not None
AT_SUPERVISION_ACKNOWLEDGED = (SUPERVISION, OVER_THE_HEAD, AT_ACKNOWLEDGED[-1])
INVALID = ComplaintJudged(actor=AGENT, validity=Validity.INVALID, note="物业无责")
VALID = ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.SECURITY)


def rejudged(validity: Validity, previous: Validity) -> ComplaintRejudged:
    category = None if validity is Validity.INVALID else ServiceCategory.SECURITY
    return ComplaintRejudged(
        actor=HEAD,
        validity=validity,
        category=category,
        previous_validity=previous,
        previous_category=None if previous is Validity.INVALID else ServiceCategory.SECURITY,
        reason="复核",
    )


def test_a_supervision_line_complaint_judged_invalid_is_unflagged_by_the_system() -> None:
    state = given(*AT_SUPERVISION_ACKNOWLEDGED, INVALID)
    verdict = judge_major(state, POLICY.major)
    assert isinstance(verdict, MajorComplaintUnflagged) and verdict.actor == RULES_ACTOR
    assert not given(*AT_SUPERVISION_ACKNOWLEDGED, INVALID, verdict).major


def test_re_judged_valid_again_the_rule_flags_it_again() -> None:
    unflagged = judge_major(given(*AT_SUPERVISION_ACKNOWLEDGED, INVALID), POLICY.major)
    assert unflagged is not None
    history = (
        *AT_SUPERVISION_ACKNOWLEDGED,
        INVALID,
        unflagged,
        rejudged(Validity.VALID, Validity.INVALID),
    )
    verdict = judge_major(given(*history), POLICY.major)
    assert isinstance(verdict, MajorComplaintFlagged)
    assert (verdict.rule, verdict.actor) == (MajorRule.OVER_THE_HEAD, None)


def test_a_person_s_flag_stands_against_an_invalid_judgment() -> None:
    flagged = MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="影响较大", actor=PM)
    state = given(*AT_SUPERVISION_ACKNOWLEDGED, flagged, INVALID)
    assert judge_major(state, POLICY.major) is None and state.major


def test_a_person_s_unflag_stands_against_the_rules() -> None:
    unflag = MajorComplaintUnflagged(actor=PM, reason="一般投诉")
    state = given(*AT_SUPERVISION_ACKNOWLEDGED, unflag, VALID)
    assert judge_major(state, POLICY.major) is None and not state.major


def test_a_valid_supervision_line_complaint_stays_major_without_a_new_flag() -> None:
    assert judge_major(given(*AT_SUPERVISION_ACKNOWLEDGED, VALID), POLICY.major) is None


def test_a_repeat_stays_major_whatever_the_judgment() -> None:
    assert judge_major(given(*AT_ACKNOWLEDGED, MAJOR, INVALID), POLICY.major) is None


def test_a_category_the_policy_makes_major_is_flagged_at_judgment_and_unflagged_if_rejudged() -> (
    None
):
    policy = MajorPolicy(categories=frozenset({ServiceCategory.SECURITY}))
    flagged = judge_major(given(*AT_ACKNOWLEDGED, VALID), policy)
    assert isinstance(flagged, MajorComplaintFlagged) and flagged.rule is MajorRule.CATEGORY
    other = ComplaintRejudged(
        actor=HEAD,
        validity=Validity.VALID,
        category=ServiceCategory.FEES,
        previous_validity=Validity.VALID,
        previous_category=ServiceCategory.SECURITY,
        reason="复核",
    )
    unflagged = judge_major(given(*AT_ACKNOWLEDGED, VALID, flagged, other), policy)
    assert isinstance(unflagged, MajorComplaintUnflagged)
    assert judge_major(given(*AT_ACKNOWLEDGED, VALID), MajorPolicy()) is None


def test_a_judgment_that_makes_a_complaint_major_gets_the_major_priority() -> None:
    policy = OfficePolicy(major=MajorPolicy(categories=frozenset({ServiceCategory.FEES})))
    command = Classify(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES)
    [judged] = decide(command, given(*AT_ACKNOWLEDGED), now=NOW, policy=policy)
    assert isinstance(judged, ComplaintJudged) and judged.priority is Priority.URGENT
    # An invalid supervision-line complaint will not be major: its own priority.
    invalid = Classify(actor=AGENT, validity=Validity.INVALID)
    [judged] = decide(invalid, given(*AT_SUPERVISION_ACKNOWLEDGED), now=NOW, policy=POLICY)
    assert isinstance(judged, ComplaintJudged) and judged.priority is Priority.NORMAL


def test_which_channels_are_over_the_head_is_policy_data() -> None:
    hotline = RECEIVED
    assert detect_major_of(hotline, [], MajorPolicy()) is None
    by_hotline = MajorPolicy(over_the_head_channels=frozenset({Channel.HOTLINE}))
    flagged = detect_major_of(hotline, [], by_hotline)
    assert flagged is not None and flagged.rule is MajorRule.OVER_THE_HEAD


def test_which_repeats_count_is_policy_data() -> None:
    earlier = (NOW - timedelta(days=2), RECEIVED.complainant.phone, "9栋101", "Y园")
    assert detect_major_of(RECEIVED, [earlier], MajorPolicy()) is not None
    units_only = MajorPolicy(repeat_by=frozenset({RepeatKey.UNIT}))
    assert detect_major_of(RECEIVED, [earlier], units_only) is None


def test_the_shipped_policy_holds_the_major_rules_and_the_clocks() -> None:
    assert POLICY.major.over_the_head_channels == {Channel.SUPERVISION}
    assert (POLICY.major.repeat_count, POLICY.major.window) == (2, timedelta(days=7))
    assert POLICY.major.repeat_by == set(RepeatKey)
    assert POLICY.clocks.first_response == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("major: {repeat_count: 1}", "major.repeat_count"),
        ("major: {window: 3 weeks}", "major.window"),
        ("major: {window: 0d}", "major.window"),
        ("major: {categories: [gardening]}", "major.categories.0"),
        ("major: {over_the_head_channels: [pigeon]}", "major.over_the_head_channels.0"),
        ("major: {repeat_by: [building]}", "major.repeat_by.0"),
        ("clocks: {review: soon}", "clocks.review"),
        ("clocks: {revisit_after: 3d}", "clocks.revisit_after"),
        ("major: [", "not YAML"),
    ],
)
def test_a_bad_policy_is_refused_at_load_naming_the_key(text: str, names: str) -> None:
    with pytest.raises(PolicyError, match=f"^workflow policy: .*{names}"):
        parse_office_policy(text)


def test_durations_are_written_in_minutes_hours_or_days() -> None:
    clocks = parse_office_policy("clocks: {judgment: 90m, close: 1.5h, review: 14d}").clocks
    assert (clocks.judgment, clocks.close, clocks.review) == (
        timedelta(minutes=90),
        timedelta(hours=1.5),
        timedelta(days=14),
    )


# ==========================================================================================
# merge: the target exists, is open, and belongs to the same office
# ==========================================================================================

CID = UUID("00000000-0000-4000-8000-00000000000a")
MERGE = Merge(actor=HEAD, into_complaint_id=OTHER_COMPLAINT, reason="重复投诉")


def test_a_merge_into_an_open_complaint_of_the_same_office_passes() -> None:
    target = MergeTarget(Status.ASSIGNED, "Y园")
    check_merge_target(CID, MERGE, given(*AT_ACKNOWLEDGED), target)  # no refusal


def test_a_merge_into_itself_or_nothing_is_bad_input() -> None:
    state = given(*AT_ACKNOWLEDGED)
    into_itself = MERGE.model_copy(update={"into_complaint_id": CID})
    with pytest.raises(InvalidCommand, match="into itself") as info:
        check_merge_target(CID, into_itself, state, MergeTarget(Status.ACKNOWLEDGED, "Y园"))
    assert info.value.field == "into_complaint_id"
    with pytest.raises(InvalidCommand, match=f"no complaint {OTHER_COMPLAINT}"):
        check_merge_target(CID, MERGE, state, None)


@pytest.mark.parametrize("status", sorted(ENDED), ids=str)
def test_a_merge_into_an_ended_complaint_is_refused(status: Status) -> None:
    with pytest.raises(CommandRejected, match=f"is {status.value}: merge only into an open"):
        check_merge_target(CID, MERGE, given(*AT_ACKNOWLEDGED), MergeTarget(status, "Y园"))


def test_a_merge_into_a_complaint_of_another_office_is_refused() -> None:
    target = MergeTarget(Status.ASSIGNED, "G小城")
    with pytest.raises(CommandRejected, match="belongs to G小城, this one to Y园") as info:
        check_merge_target(CID, MERGE, given(*AT_ACKNOWLEDGED), target)
    assert not isinstance(info.value, InvalidCommand)


# ==========================================================================================
# close with the closing summary (总结评价)
# ==========================================================================================


def test_close_records_the_closing_summary() -> None:
    command = Close(actor=HEAD, summary="处理及时，业主满意；已加强巡检")
    [event] = when(command, *AT_SATISFIED)
    assert isinstance(event, ComplaintClosed) and event.summary == "处理及时，业主满意；已加强巡检"
    assert given(*AT_SATISFIED, event).summary == "处理及时，业主满意；已加强巡检"
    with pytest.raises(ValidationError, match="summary"):
        Close(actor=HEAD, summary="很" * 2001)


# ==========================================================================================
# 8: no open complaint without a clock
# ==========================================================================================

CLOCKS = ClockPolicy()
SINCE = NOW + timedelta(hours=3)
REPLIED = OwnerReplied(actor=AGENT, message="已处理完毕", final=True)


@pytest.mark.parametrize(
    ("history", "kind", "due"),
    [
        (AT_RECEIVED, "first_response", RECEIVED.occurred_at + CLOCKS.first_response),
        (AT_ACKNOWLEDGED, "judgment", SINCE + CLOCKS.judgment),
        (AT_JUDGED, "assignment", SINCE + CLOCKS.assignment),
        (AT_JUDGED_INVALID, "reply", SINCE + CLOCKS.reply),
        ((*AT_JUDGED_INVALID, REPLIED), "close", SINCE + CLOCKS.close),
        (AT_ASSIGNED, "department", NOW + timedelta(days=2)),
        (AT_IMPLEMENTED, "reply", SINCE + CLOCKS.reply),
        ((*AT_IMPLEMENTED, REPLIED), "revisit", SINCE + CLOCKS.revisit),
        ((*AT_IMPLEMENTED, REPLIED, AT_SATISFIED[-1]), "close", SINCE + CLOCKS.close),
        ((*AT_IMPLEMENTED, AT_UNSATISFIED[-1]), "reopen", SINCE + CLOCKS.reopen),
        (
            (
                *AT_ASSIGNED,
                ComplaintSuspended(
                    actor=HEAD, suspension_no=1, awaiting=Awaiting.DEVELOPER, reason="等开发商"
                ),
            ),
            "review",
            SINCE + CLOCKS.review,
        ),
        (
            (*AT_ASSIGNED, ComplaintSentBack(actor=DEPT, department="工程部", reason="x")),
            "assignment",
            SINCE + CLOCKS.assignment,
        ),
    ],
)
def test_each_step_names_its_clock(history: tuple[EventData, ...], kind: str, due: object) -> None:
    assert next_deadline(given(*history), RECEIVED.occurred_at, SINCE, CLOCKS) == (kind, due)


def test_the_spans_are_the_policy_s() -> None:
    slow = ClockPolicy(judgment=timedelta(days=3))
    assert next_deadline(given(*AT_ACKNOWLEDGED), NOW, SINCE, slow) == (
        "judgment",
        SINCE + timedelta(days=3),
    )


STATE_VARIANTS = list(
    itertools.product(
        [None, Validity.VALID, Validity.INVALID],  # validity
        [False, True],  # answered
        [False, True],  # revisit_due
        [None, NOW + timedelta(days=1)],  # the department's deadline
        [False, True],  # reply_due
        [None, True, False],  # satisfied
        [None, NOW + timedelta(days=9)],  # a suspension's until (suspended only)
        [None, NOW + timedelta(hours=5)],  # an open time commitment
    )
)


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_every_open_status_names_a_next_deadline_whatever_else_the_state_holds(
    status: Status,
) -> None:
    for (
        validity,
        answered,
        revisit_due,
        deadline,
        reply_due,
        satisfied,
        until,
        promise,
    ) in STATE_VARIANTS:
        suspension = (
            Suspension(1, Awaiting.OWNER, "x", until, Status.ASSIGNED)
            if status is Status.SUSPENDED
            else None
        )
        state = State(
            status=status,
            validity=validity,
            answered=answered,
            revisit_due=revisit_due,
            deadline=deadline,
            reply_due=reply_due,
            satisfied=satisfied,
            suspension=suspension,
            open_commitment=promise,
        )
        found = next_deadline(state, RECEIVED.occurred_at, SINCE, CLOCKS)
        if status is Status.NEW or status in ENDED:
            assert found is None, state
        else:
            assert found is not None, state
            assert found[1] >= min(RECEIVED.occurred_at, NOW), state


# A property test: whatever staff do, in whatever order, while a complaint is open its next
# deadline is named, and once it ended none is.

LATER = NOW + timedelta(days=3)
STEPS: list[Command] = [
    Acknowledge(actor=AGENT),
    Classify(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FACILITIES),
    Classify(actor=AGENT, validity=Validity.INVALID),
    Resolve(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES, summary="当场"),
    Resolve(actor=AGENT, validity=Validity.ASSIST, category=ServiceCategory.FEES, summary="当场"),
    Rejudge(actor=HEAD, validity=Validity.INVALID, reason="复核"),
    Rejudge(actor=HEAD, validity=Validity.VALID, category=ServiceCategory.SECURITY, reason="复核"),
    AssignDepartment(actor=HEAD, department="工程部", deadline=LATER, helper_department="保洁"),
    TransferDepartment(actor=HEAD, to_department="秩序维护部", reason="转派"),
    TransferDepartment(actor=PM, to_department="工程部", reason="转回", deadline=LATER),
    SendBack(actor=DEPT, reason="退单"),
    AnalyseCause(actor=DEPT, cause="原因", responsible_party="责任方"),
    ProposePlan(actor=DEPT, plan="方案"),
    ApprovePlan(actor=SUPERVISOR, plan_id=1),
    ApprovePlan(actor=SUPERVISOR, plan_id=2),
    ImplementPlan(actor=DEPT, plan_id=1, summary="已实施"),
    ImplementPlan(actor=DEPT, plan_id=2, summary="已实施"),
    ReplyToOwner(actor=AGENT, message="答复", final=True),
    ReplyToOwner(actor=AGENT, message="进展"),
    RecordRevisit(actor=PM, satisfied=True),
    RecordRevisit(actor=PM, satisfied=False),
    RecordRevisit(actor=PM, reached=False),
    Reopen(actor=HEAD, reason="不满意"),
    Close(actor=HEAD),
    Suspend(actor=HEAD, reason="等业主", awaiting=Awaiting.OWNER),
    Suspend(actor=HEAD, reason="等开发商", awaiting=Awaiting.DEVELOPER, until=LATER),
    Resume(actor=HEAD),
    TransferOffice(actor=COMPANY, to_office="G小城", reason="转办"),
    FlagMajor(actor=PM, reason="重大"),
    UnflagMajor(actor=PM, reason="非重大"),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@hypothesis_given(st.lists(st.sampled_from(range(len(STEPS))), max_size=40))
def test_no_open_complaint_is_ever_without_a_next_deadline(steps: list[int]) -> None:
    state = given(SUPERVISION)
    since = SUPERVISION.occurred_at
    for n, step in enumerate(steps):
        at = NOW + timedelta(minutes=n)
        try:
            events = decide(STEPS[step], state, now=at, policy=POLICY)
        except CommandRejected:
            continue
        for event in events:
            before, state = state, evolve(state, event)
            since = at if clock_stage(state) != clock_stage(before) else since
            # the workflow's own rule on a judgment, as the service runs it
            if isinstance(event, ComplaintJudged | ComplaintRejudged):
                verdict = judge_major(state, POLICY.major)
                if verdict is not None:
                    state = evolve(state, verdict)
        found = next_deadline(state, SUPERVISION.occurred_at, since, POLICY.clocks)
        assert (found is not None) == state.is_open, (state.status, found)

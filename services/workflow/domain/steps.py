"""What the first steps decide: acknowledging, judging, suspending and routing a complaint,
and the moves between departments and offices."""

from __future__ import annotations

from datetime import datetime

from contracts.enums import ServiceCategory, Validity
from contracts.envelope import EventData
from contracts.lifecycle import (
    ComplaintAcknowledged,
    ComplaintJudged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintResolvedOnTheSpot,
    ComplaintResumed,
    ComplaintSentBack,
    ComplaintSuspended,
    ComplaintTransferred,
    DepartmentAssigned,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OfficeTransferRequested,
    Role,
)
from services.workflow.commands import (
    AcceptOfficeTransfer,
    Acknowledge,
    AssignDepartment,
    Classify,
    FlagMajor,
    Rejudge,
    Resolve,
    Resume,
    SendBack,
    Suspend,
    TransferDepartment,
    TransferOffice,
    UnflagMajor,
)
from services.workflow.domain.refusals import (
    _BEFORE_IMPLEMENTATION,
    MAJOR_JUDGE_ROLES,
    REJUDGE_ROLES,
    SEND_BACK_ROLES,
    TRANSFER_ROLES,
    _refuse,
    _require,
    _require_role,
)
from services.workflow.domain.rules import (
    judge_major,
)
from services.workflow.domain.state import (
    State,
    Status,
    replace,
)
from services.workflow.policy import OfficePolicy


def _acknowledge(command: Acknowledge, state: State) -> list[EventData]:
    if state.status is not Status.RECEIVED:
        who = state.owner.staff_id if state.owner else "someone"
        _refuse(f"already acknowledged by {who}, who owns the complaint", state)
    return [ComplaintAcknowledged(actor=command.actor)]


def _classify(command: Classify, state: State, policy: OfficePolicy) -> list[EventData]:
    _require(
        state.status in (Status.ACKNOWLEDGED, Status.JUDGED),
        "a complaint is judged before a department takes it, not after; re-judge it instead",
        state,
    )
    return [_judgment(command, state, policy)]


def _judgment(command: Classify | Resolve, state: State, policy: OfficePolicy) -> ComplaintJudged:
    _require_category(command.validity, command.category, state)
    # Major as it will be once judged: the judgment itself may make it major, or not.
    judged = replace(state, validity=command.validity, category=command.category)
    verdict = judge_major(judged, policy.major)
    major = state.major if verdict is None else isinstance(verdict, MajorComplaintFlagged)
    return ComplaintJudged(
        actor=command.actor,
        validity=command.validity,
        category=command.category,
        priority=command.priority or policy.priority.default_for(command.category, major),
        note=command.note,
    )


def _require_category(validity: Validity, category: ServiceCategory | None, state: State) -> None:
    _require(
        category is not None or validity is Validity.INVALID,
        f"a {validity.label} needs its service category (投诉内容分类)",
        state,
    )


def _resolve(command: Resolve, state: State, policy: OfficePolicy) -> list[EventData]:
    _require(
        state.status is Status.ACKNOWLEDGED,
        "only a complaint not yet judged is resolved on the spot (当场解决 is judgment and "
        "answer in one step)",
        state,
    )
    owner = state.owner
    _require(
        owner is not None and owner.staff_id == command.actor.staff_id,
        f"only the first responder ({owner.staff_id if owner else '-'}) resolves it on the spot",
        state,
    )
    judged = _judgment(command, state, policy)
    return [
        judged,
        ComplaintResolvedOnTheSpot(
            actor=command.actor,
            summary=command.summary,
            revisit=command.validity in policy.revisit.after_on_the_spot,
        ),
    ]


def _rejudge(command: Rejudge, state: State) -> list[EventData]:
    _require(
        state.validity is not None,
        "judge the complaint first (classify); 复核 corrects a judgment",
        state,
    )
    assert state.validity is not None
    _require(
        command.actor.role in REJUDGE_ROLES,
        f"a {command.actor.role.label} cannot re-judge; the customer-service head, the project "
        "manager or the company can",
        state,
    )
    _require_category(command.validity, command.category, state)
    _require(
        (command.validity, command.category) != (state.validity, state.category),
        "the re-judgment is the same as the judgment: nothing to correct",
        state,
    )
    return [
        ComplaintRejudged(
            actor=command.actor,
            validity=command.validity,
            category=command.category,
            previous_validity=state.validity,
            previous_category=state.category,
            reason=command.reason,
        )
    ]


def _suspend(command: Suspend, state: State, now: datetime) -> list[EventData]:
    _require(
        command.until is None or command.until > now,
        "a suspension's until must lie in the future",
        state,
    )
    return [
        ComplaintSuspended(
            actor=command.actor,
            suspension_no=state.suspensions + 1,
            awaiting=command.awaiting,
            reason=command.reason,
            until=command.until,
        )
    ]


def _assign(command: AssignDepartment, state: State, now: datetime) -> list[EventData]:
    if state.status is Status.ACKNOWLEDGED:
        _refuse("judge the complaint before assigning a department", state)
    _require(
        state.status in (Status.JUDGED, Status.ASSIGNED, Status.ANALYSED, Status.REOPENED),
        "a department cannot be changed while a plan is pending, approved or carried out",
        state,
    )
    _require(
        state.validity in (Validity.VALID, Validity.ASSIST),
        "an invalid complaint is answered, not given to a department",
        state,
    )
    _require(command.deadline > now, "the deadline (限期解决) must lie in the future", state)
    reason = "routing rule" if command.department == state.proposed_department else "manual"
    return [
        DepartmentAssigned(
            actor=command.actor,
            department=command.department,
            deadline=command.deadline,
            reason=reason,
            note=command.note,
            helper_department=command.helper_department,
        )
    ]


def _transfer(command: TransferDepartment, state: State, now: datetime) -> list[EventData]:
    _require_role(command.actor, TRANSFER_ROLES, "transfer a complaint (转派)", state)
    _require_with_department(state, "transfer")
    assert state.department is not None
    _require(
        command.to_department != state.department,
        f"the complaint is with {state.department} already: transfer it to another department",
        state,
    )
    _require(
        command.deadline is None or command.deadline > now,
        "the new deadline (限期解决) must lie in the future",
        state,
    )
    return [
        ComplaintTransferred(
            actor=command.actor,
            from_department=state.department,
            to_department=command.to_department,
            reason=command.reason,
            deadline=command.deadline,
            helper_department=command.helper_department,
        )
    ]


def _send_back(command: SendBack, state: State) -> list[EventData]:
    _require_role(command.actor, SEND_BACK_ROLES, "send a complaint back (退单)", state)
    _require_with_department(state, "send back")
    assert state.department is not None
    return [
        ComplaintSentBack(actor=command.actor, department=state.department, reason=command.reason)
    ]


def _require_with_department(state: State, what: str) -> None:
    if state.status is Status.JUDGED and state.validity is not Validity.INVALID:
        _refuse(f"no department has the complaint yet: assign it; nothing to {what}", state)
    _require(
        state.status in _BEFORE_IMPLEMENTATION and state.department is not None,
        f"{what} only while a department has the complaint, before its plan is carried out",
        state,
    )


def _transfer_office(command: TransferOffice, state: State) -> list[EventData]:
    _require(
        command.to_office != state.office,
        f"the complaint belongs to {state.office} already",
        state,
    )
    assert state.office is not None  # received: it has an office
    if command.actor.role is Role.COMPANY:  # 品质部 moves it at once
        return [
            ComplaintOfficeTransferred(
                actor=command.actor,
                from_office=state.office,
                to_office=command.to_office,
                reason=command.reason,
            )
        ]
    _require(
        command.actor.role is Role.PROJECT_MANAGER,
        f"a {command.actor.role.label} cannot hand a complaint to another office; its project "
        "manager asks, or the company transfers it",
        state,
    )
    return [
        OfficeTransferRequested(
            actor=command.actor, to_office=command.to_office, reason=command.reason
        )
    ]


def _accept_office_transfer(command: AcceptOfficeTransfer, state: State) -> list[EventData]:
    request = state.office_request
    if request is None:
        _refuse("no transfer to another office awaits acceptance", state)
    _require(
        command.actor.role is Role.PROJECT_MANAGER,
        f"the project manager of {request.to_office} accepts the transfer",
        state,
    )
    assert state.office is not None
    return [
        ComplaintOfficeTransferred(
            actor=command.actor,
            from_office=state.office,
            to_office=request.to_office,
            reason=request.reason,
        )
    ]


def _flag_major(command: FlagMajor, state: State) -> list[EventData]:
    _require_role(command.actor, MAJOR_JUDGE_ROLES, "flag a complaint major", state)
    # Flagging one a rule made major is allowed: the flag is then a person's, which no rule
    # takes back (an invalid judgment of a supervision-line complaint, say).
    _require(
        not (state.major and state.major_by_person),
        "the complaint was flagged major by a person already",
        state,
    )
    return [
        MajorComplaintFlagged(rule=MajorRule.MANUAL, reason=command.reason, actor=command.actor)
    ]


def _resume(command: Resume, state: State) -> list[EventData]:
    suspension = state.suspension
    _require(suspension is not None, "the complaint is not suspended", state)
    assert suspension is not None
    return [
        ComplaintResumed(
            actor=command.actor, suspension_no=suspension.suspension_no, note=command.note
        )
    ]


def _unflag_major(command: UnflagMajor, state: State) -> list[EventData]:
    _require_role(command.actor, MAJOR_JUDGE_ROLES, "unflag a major complaint", state)
    _require(state.major, "the complaint is not major: nothing to unflag", state)
    return [MajorComplaintUnflagged(actor=command.actor, reason=command.reason)]

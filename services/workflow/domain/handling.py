"""What the handling decides: the cause, plans and their approval, replies and promises,
revisits, closing and reopening, and the ways a complaint ends early."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from contracts.enums import Validity
from contracts.envelope import EventData
from contracts.lifecycle import (
    Actor,
    CauseAnalysed,
    CloseOutcome,
    ComplaintClosed,
    ComplaintMerged,
    ComplaintReopened,
    ComplaintWithdrawn,
    OwnerNotReached,
    OwnerReplied,
    PlanApproved,
    PlanImplemented,
    PlanRejected,
    PreventiveMeasureRecorded,
    ResolutionProposed,
    RevisitRecorded,
    TimeCommitted,
)
from services.workflow.commands import (
    AnalyseCause,
    ApprovePlan,
    Close,
    CommitTime,
    ImplementPlan,
    Merge,
    ProposePlan,
    RecordPreventiveMeasure,
    RecordRevisit,
    RejectPlan,
    Reopen,
    ReplyToOwner,
    Withdraw,
)
from services.workflow.domain.refusals import (
    APPROVER_ROLES,
    MAJOR_REVISIT_ROLES,
    UNSATISFIED_CLOSE_ROLES,
    InvalidCommand,
    _refuse,
    _require,
)
from services.workflow.domain.state import (
    ENDED,
    State,
    Status,
)
from services.workflow.policy import OfficePolicy


def _analyse_cause(command: AnalyseCause, state: State) -> list[EventData]:
    _require(
        state.status in (Status.ASSIGNED, Status.ANALYSED, Status.REOPENED),
        "analyse the cause once a department has the complaint",
        state,
    )
    return [
        CauseAnalysed(
            actor=command.actor,
            cause=command.cause,
            responsible_party=command.responsible_party,
        )
    ]


def _propose(command: ProposePlan, state: State) -> list[EventData]:
    pending = state.pending_plan
    if pending is not None:
        # One plan at a time before the supervisor, so approve/reject is never ambiguous.
        _refuse(f"plan {pending.plan_id} awaits approval; approve or reject it first", state)
    _require(
        state.status in (Status.ANALYSED, Status.PLAN_APPROVED, Status.REOPENED),
        "a plan follows the cause analysis (分析投诉原因)",
        state,
    )
    return [
        ResolutionProposed(actor=command.actor, plan_id=len(state.plans) + 1, plan=command.plan)
    ]


def _pending_plan_for(plan_id: int, actor: Actor, state: State) -> int:
    pending = state.pending_plan
    if pending is None:
        _refuse("no plan awaits approval", state)
    if pending.plan_id != plan_id:
        _refuse(f"plan {plan_id} does not await approval; plan {pending.plan_id} does", state)
    _require(
        actor.role in APPROVER_ROLES,
        f"a {actor.role.label} cannot approve or reject plans (主管领导批示)",
        state,
    )
    return plan_id


def _approve_plan(command: ApprovePlan, state: State) -> list[EventData]:
    plan_id = _pending_plan_for(command.plan_id, command.actor, state)
    return [PlanApproved(actor=command.actor, plan_id=plan_id, comment=command.comment)]


def _reject_plan(command: RejectPlan, state: State) -> list[EventData]:
    plan_id = _pending_plan_for(command.plan_id, command.actor, state)
    return [PlanRejected(actor=command.actor, plan_id=plan_id, reason=command.reason)]


def _implement(command: ImplementPlan, state: State) -> list[EventData]:
    approved = state.approved_plan
    if approved is None:
        _refuse("no approved plan to carry out", state)
    _require(
        approved.plan_id == command.plan_id,
        f"plan {command.plan_id} is not the approved plan; plan {approved.plan_id} is",
        state,
    )
    return [
        PlanImplemented(
            actor=command.actor,
            plan_id=command.plan_id,
            summary=command.summary,
            accountability=command.accountability,
        )
    ]


def _reply_to_owner(command: ReplyToOwner, state: State) -> list[EventData]:
    _require(
        not command.fulfils_commitment or state.open_commitment is not None,
        "no time commitment (时间承诺) is open for this reply to fulfil",
        state,
    )
    return [
        OwnerReplied(
            actor=command.actor,
            message=command.message,
            final=command.final,
            fulfils_commitment=command.fulfils_commitment,
        )
    ]


def _commit_time(command: CommitTime, state: State, now: datetime) -> list[EventData]:
    _require(command.promised_at > now, "a promised time must lie in the future", state)
    return [
        TimeCommitted(actor=command.actor, promised_at=command.promised_at, message=command.message)
    ]


def _revisit(command: RecordRevisit, state: State) -> list[EventData]:
    _require(
        state.status in (Status.IMPLEMENTED, Status.REVISITED)
        or (state.status is Status.RESOLVED and state.revisit_due),
        "a revisit follows an implemented plan (回访)"
        if not state.resolved_on_the_spot
        else "this on-the-spot resolution is not revisited (policy); close it",
        state,
    )
    _require(
        not state.major or command.actor.role in MAJOR_REVISIT_ROLES,
        "a major complaint is revisited by the project manager",
        state,
    )
    if not command.reached:
        return [
            OwnerNotReached(
                actor=command.actor,
                attempt_no=state.revisit_attempts + 1,
                remarks=command.remarks,
            )
        ]
    assert command.satisfied is not None  # the command's validator: reached says it
    return [
        RevisitRecorded(
            actor=command.actor,
            visit_no=state.revisits + 1,
            satisfied=command.satisfied,
            remarks=command.remarks,
        )
    ]


def _close(command: Close, state: State, policy: OfficePolicy) -> list[EventData]:
    match command.outcome:
        case CloseOutcome.SATISFIED:
            _check_close_satisfied(state)
        case CloseOutcome.UNSATISFIED:
            _require(
                command.actor.role in UNSATISFIED_CLOSE_ROLES,
                "only the project manager or the company close a complaint the owner is not "
                "satisfied with",
                state,
            )
            _require(
                (state.status is Status.REVISITED and state.satisfied is False)
                or state.status is Status.REOPENED,
                "close unsatisfied only after a revisit in which the owner was not satisfied",
                state,
            )
        case CloseOutcome.UNREACHABLE:
            needed = policy.revisit.unreachable_after_attempts
            _require(
                state.status in (Status.IMPLEMENTED, Status.REVISITED, Status.RESOLVED)
                and state.revisit_attempts >= needed,
                f"close as unreachable only after {needed} revisit attempts that did not reach "
                f"the owner ({state.revisit_attempts} so far)",
                state,
            )
    return [
        ComplaintClosed(
            actor=command.actor,
            outcome=command.outcome,
            reason=command.reason,
            note=command.note,
            summary=command.summary,
        )
    ]


def _check_close_satisfied(state: State) -> None:
    if state.status is Status.JUDGED and state.validity is Validity.INVALID:
        # Step 3: an invalid complaint needs no department; answering the owner ends it.
        _require(state.answered, "answer the owner before closing an invalid complaint", state)
    elif state.status is Status.RESOLVED:
        _require(
            not state.revisit_due,
            "an on-the-spot resolution of a valid complaint is revisited before closing (回访)",
            state,
        )
    elif state.status is Status.REVISITED:
        _require(bool(state.satisfied), "the owner was not satisfied: reopen it instead", state)
    else:
        _refuse("close after a revisit in which the owner was satisfied (回访满意)", state)


def _reopen(command: Reopen, state: State) -> list[EventData]:
    _require(
        state.status is Status.REVISITED and state.satisfied is False,
        "only a revisit in which the owner was not satisfied reopens a complaint",
        state,
    )
    return [ComplaintReopened(actor=command.actor, reason=command.reason)]


def _record_preventive_measure(command: RecordPreventiveMeasure, state: State) -> list[EventData]:
    _require(state.implemented, "preventive measures follow an implemented plan", state)
    return [PreventiveMeasureRecorded(actor=command.actor, measure=command.measure)]


def _withdraw(command: Withdraw, state: State) -> list[EventData]:
    return [ComplaintWithdrawn(actor=command.actor, reason=command.reason)]


def _merge(command: Merge, state: State) -> list[EventData]:
    return [
        ComplaintMerged(
            actor=command.actor,
            into_complaint_id=command.into_complaint_id,
            reason=command.reason,
        )
    ]


class MergeTarget(NamedTuple):
    """What ``check_merge_target`` needs of the complaint another is merged into."""

    status: Status
    office: str


def check_merge_target(
    complaint_id: UUID, command: Merge, state: State, target: MergeTarget | None
) -> None:
    """Refuse a merge (合并重复投诉) whose target cannot carry the complaint on.

    ``target`` is the complaint ``command.into_complaint_id`` as stored (``None``: there is no
    such complaint). ``InvalidCommand`` (bad input) for the complaint itself or one that does
    not exist; ``CommandRejected`` for one that ended or belongs to another office.
    """
    into = command.into_complaint_id
    if into == complaint_id:
        raise InvalidCommand("into_complaint_id", "a complaint cannot be merged into itself", state)
    if target is None or target.status is Status.NEW:
        raise InvalidCommand("into_complaint_id", f"no complaint {into}", state)
    _require(
        target.status not in ENDED,
        f"complaint {into} is {target.status.value}: merge only into an open complaint",
        state,
    )
    _require(
        target.office == state.office,
        f"complaint {into} belongs to {target.office}, this one to {state.office}: merge only "
        "within one office",
        state,
    )

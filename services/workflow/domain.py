"""The complaint lifecycle as a Decider: ``initial_state``, ``evolve`` and ``decide``.

Pure: values in, values out. Time arrives as ``now``; the only I/O in this module is
``load_routing_rules`` reading its YAML file, kept apart from the lookup it feeds.

Statuses (``Status``) and the commands each one accepts (→ the status the event leads to):

=============  ==============================================================================
new            nothing; only ``ComplaintReceived`` (from intake) starts a complaint
received       acknowledge → acknowledged
acknowledged   classify → judged; resolve (当场解决, by the first responder) → resolved
judged         classify (judge again) → judged; assign (valid/assist only) → assigned;
               close (invalid, once answered) → closed
resolved       revisit (when the policy wants one after an on-the-spot resolution) → revisited;
               close (when it does not) → closed
assigned       assign (re-route, new deadline) → assigned; analyse → analysed
analysed       assign → assigned; analyse (revise) → analysed; propose → plan_proposed
plan_proposed  approve → plan_approved; reject → analysed
plan_approved  implement → implemented; propose (the owner declined it) → plan_proposed
implemented    revisit → revisited
revisited      revisit (again) → revisited; close (last one satisfied) → closed;
               reopen (last one unsatisfied) → reopened; close unsatisfied (project manager
               or company, with a reason) → closed
reopened       assign → assigned; analyse → analysed; propose → plan_proposed
               (assigned to reopened: transfer (转派, to another department) → assigned;
               send-back (退单, by the department) → judged, waiting for assignment again)
suspended      resume → the status it was suspended in (also by itself at ``until``)
closed         prevent; rejudge by the company within the report's month (no reopening: a
               new complaint is recorded instead)
withdrawn      nothing (withdrawing ends the complaint; no close follows)
merged         nothing (the complaint it was merged into carries on)
=============  ==============================================================================

In every open status, before acknowledgement and while suspended too: transfer-office (the
company moves it at once; its project manager asks and one of the other office accepts:
transfer-office/accept), flag-major and unflag-major (a person's judgment, which the rules
then leave alone). In every open status after ``received``: reply and commit (step 9
allows a time commitment whenever no answer can be given at once), withdraw and merge;
suspend (暂缓) when not suspended; rejudge (复核) once judged. A revisit that did not reach
the owner (``reached: false``) is recorded as an attempt; after the policy's number of
attempts the complaint may close as ``unreachable``. While suspended only resume, reply,
commit, rejudge, prevent, withdraw, merge and the commands above are taken: the procedure
itself waits. ``prevent`` wherever a plan was implemented, closed complaints included.
Role rules: only a supervisor, project manager or the company approve or reject a plan
(主管领导批示); a major complaint is revisited by its project manager
(DOMAIN: 重大投诉由项目经理回访);
only the project manager or the company close a complaint unsatisfied; the
customer-service head, the project manager or the company re-judge, and after closing only
the company.

The office's own rules that are data, not code (``services.workflow.policy``): the
priority a judgment gets by default, which on-the-spot resolutions are revisited, how many
unreached revisit attempts allow closing as unreachable, how long after closing the company
may still re-judge, when a complaint is major by rule, and how long each step may take
(``next_deadline``: every open complaint has one).

The automatic rules (``route``, ``detect_major``, ``judge_major``, ``escalate``) return events
with their reason; the service appends them like any other. ``check_merge_target`` judges the
complaint a merge names, which the service looks up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, Self, TypeVar
from uuid import UUID

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.envelope import EventData
from contracts.intake import ComplaintReceived
from contracts.lifecycle import (
    Actor,
    Awaiting,
    CauseAnalysed,
    CloseOutcome,
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
    Department,
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
from services.workflow.policy import ClockPolicy, MajorPolicy, OfficePolicy, RepeatKey

# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


class Status(StrEnum):
    """Where a complaint stands in the procedure; see the module docstring for the moves."""

    NEW = "new"
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    JUDGED = "judged"
    ASSIGNED = "assigned"
    ANALYSED = "analysed"
    PLAN_PROPOSED = "plan_proposed"
    PLAN_APPROVED = "plan_approved"
    IMPLEMENTED = "implemented"
    REVISITED = "revisited"
    REOPENED = "reopened"
    RESOLVED = "resolved"  # 当场解决: solved and answered at first contact
    SUSPENDED = "suspended"  # 暂缓: waiting for the owner, the developer, the government, ...
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"

    @property
    def label(self) -> str:
        """The zh-CN word shown on the workbench's pages (the reporting console's words)."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.NEW: "未受理",
    Status.RECEIVED: "已登记",
    Status.ACKNOWLEDGED: "已响应",
    Status.JUDGED: "已判定",
    Status.ASSIGNED: "已派单",
    Status.ANALYSED: "已分析原因",
    Status.PLAN_PROPOSED: "方案待批",
    Status.PLAN_APPROVED: "方案已批",
    Status.IMPLEMENTED: "已实施",
    Status.REVISITED: "已回访",
    Status.REOPENED: "重新处理",
    Status.RESOLVED: "当场解决",
    Status.SUSPENDED: "暂缓",
    Status.CLOSED: "已关闭",
    Status.WITHDRAWN: "已撤诉",
    Status.MERGED: "已合并",
}


ENDED = frozenset({Status.CLOSED, Status.WITHDRAWN, Status.MERGED})
"""Statuses in which the complaint is no longer handled."""


class PlanStatus(StrEnum):
    """What became of one resolution plan."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a later plan replaced it before it was carried out
    IMPLEMENTED = "implemented"


_Frozen = TypeVar("_Frozen")

if TYPE_CHECKING:
    from dataclasses import replace as replace  # what mypy checks: the changes' names, types
else:

    def replace(obj: _Frozen, /, **changes: Any) -> _Frozen:
        """``dataclasses.replace`` for this module's frozen dataclasses, without calling
        ``__init__``: the new object's attributes are the old one's with ``changes``.

        ``State`` has 41 fields, and its ``__init__`` sets each with ``object.__setattr__``:
        two ``replace`` per event were a quarter of a workflow rebuild. The classes here have
        no ``__post_init__``, no ``InitVar`` and no field left out of ``__init__``, so copying
        the attributes makes exactly the object ``__init__`` would
        (``tests/unit/workflow/test_domain_replace.py``)."""
        unknown = changes.keys() - _field_names(type(obj))
        if unknown:
            raise TypeError(f"{type(obj).__name__} has no field {', '.join(sorted(unknown))}")
        new = object.__new__(type(obj))
        attributes = new.__dict__
        attributes.update(obj.__dict__)
        attributes.update(changes)
        return new


@cache
def _field_names(cls: type) -> frozenset[str]:
    """The fields ``replace`` may change; a class it cannot copy this way is refused."""
    if hasattr(cls, "__post_init__") or hasattr(cls, "__slots__"):
        raise TypeError(f"replace copies plain frozen dataclasses, not {cls.__name__}")
    found = fields(cls)
    if not all(f.init for f in found):
        raise TypeError(f"{cls.__name__} has fields outside __init__")
    return frozenset(f.name for f in found)


@dataclass(frozen=True)
class Plan:
    """One resolution plan of a complaint, by its sequence number."""

    plan_id: int
    text: str
    status: PlanStatus


@dataclass(frozen=True)
class Suspension:
    """An open suspension (暂缓): whom it waits for, until when, and where it resumes."""

    suspension_no: int
    awaiting: Awaiting
    reason: str
    until: datetime | None
    since: Status  # the status it was suspended in, and resumes to


@dataclass(frozen=True)
class OfficeRequest:
    """An open request to hand the complaint over to another office (跨项目转办)."""

    to_office: str
    reason: str
    by: str  # the project manager who asked (工号)


@dataclass(frozen=True)
class State:
    """What the workflow knows of one complaint, folded from its events.

    ``version`` counts every event folded, known to this module or not, so that it equals the
    stream position a store compares for optimistic concurrency.
    """

    status: Status = Status.NEW
    version: int = 0
    office: str | None = None  # the office it belongs to now (after any office transfer)
    unit: str | None = None
    channel: Channel | None = None
    over_the_head: bool = False  # 越级投诉, as intake recorded it
    owner: Actor | None = None  # 首问责任人: whoever acknowledged it
    received_at: datetime | None = None
    validity: Validity | None = None
    category: ServiceCategory | None = None
    priority: Priority | None = None
    rejudged: int = 0  # how many times the judgment was corrected (复核)
    proposed_department: str | None = None
    department: str | None = None
    helper_department: str | None = None  # 协办部门
    deadline: datetime | None = None
    transfers: int = 0  # 转派 to another department
    sent_back: int = 0  # 退单 by the department
    office_request: OfficeRequest | None = None  # a transfer to another office not yet accepted
    office_transfers: int = 0
    cause: str | None = None
    responsible_party: str | None = None
    plans: tuple[Plan, ...] = ()
    replies: int = 0
    answered: bool = False  # a final reply (答复结果) was given
    reply_due: bool = False  # a plan was carried out and no final reply followed yet
    commitments: tuple[datetime, ...] = ()
    open_commitment: datetime | None = None  # the promise not yet kept by a fulfilling reply
    revisits: int = 0
    revisit_attempts: int = 0  # revisits that did not reach the owner, this round
    satisfied: bool | None = None  # what the owner said at the latest revisit of this round
    resolved_on_the_spot: bool = False
    revisit_due: bool = False  # an on-the-spot resolution that the policy wants revisited
    suspension: Suspension | None = None
    suspensions: int = 0
    outcome: CloseOutcome | None = None
    summary: str = ""  # 总结评价, written at close
    reopened: int = 0
    preventive_measures: int = 0
    major: bool = False
    major_rule: MajorRule | None = None  # why it is major, while it is
    major_by_person: bool = False  # the latest flag or unflag was a person's: rules keep off
    escalation_level: EscalationLevel = EscalationLevel.STAFF
    escalations: frozenset[tuple[str, datetime]] = frozenset()  # (timer, deadline) escalated
    merged_into: str | None = None

    @property
    def is_open(self) -> bool:
        """Received and not yet closed, withdrawn or merged."""
        return self.status is not Status.NEW and self.status not in ENDED

    @property
    def pending_plan(self) -> Plan | None:
        """The plan awaiting the supervisor's decision, if any."""
        return self._plan_in(PlanStatus.PROPOSED)

    @property
    def approved_plan(self) -> Plan | None:
        """The approved plan not yet carried out, if any."""
        return self._plan_in(PlanStatus.APPROVED)

    @property
    def implemented(self) -> bool:
        """Whether any plan was carried out (preventive measures may follow)."""
        return self._plan_in(PlanStatus.IMPLEMENTED) is not None

    def _plan_in(self, status: PlanStatus) -> Plan | None:
        return next((p for p in reversed(self.plans) if p.status is status), None)


def initial_state() -> State:
    """The state before any event: status ``new``, version 0."""
    return State()


# --------------------------------------------------------------------------------------------
# evolve
# --------------------------------------------------------------------------------------------


def evolve(state: State, event: EventData) -> State:
    """The state after one more event.

    Events are facts, so nothing is refused here. Every intake and lifecycle event is handled;
    an event of another contract (say, an SLA service's) only advances ``version``. A
    redelivered ``ComplaintReceived`` never rewinds a complaint that already moved on.
    """
    return replace(_apply(state, event), version=state.version + 1)


def replay(events: Iterable[EventData]) -> State:
    """The state of a complaint from its whole stream of events, oldest first."""
    state = initial_state()
    for e in events:
        state = evolve(state, e)
    return state


def _apply(s: State, e: EventData) -> State:
    match e:
        case ComplaintReceived():
            if s.status is not Status.NEW:
                return s
            return replace(
                s,
                status=Status.RECEIVED,
                office=e.office,
                unit=e.unit,
                channel=e.channel,
                over_the_head=e.over_the_head,
                received_at=e.occurred_at,
            )
        case ComplaintAcknowledged():
            return replace(s, status=Status.ACKNOWLEDGED, owner=e.actor)
        case ComplaintJudged():
            return replace(
                s,
                status=Status.JUDGED,
                validity=e.validity,
                category=e.category,
                priority=e.priority,
            )
        case ComplaintRejudged():
            # A correction of the judgment, not a step: the complaint stays where it is.
            return replace(s, validity=e.validity, category=e.category, rejudged=s.rejudged + 1)
        case ComplaintResolvedOnTheSpot():
            return replace(
                s,
                status=Status.RESOLVED,
                answered=True,
                resolved_on_the_spot=True,
                revisit_due=e.revisit,
                revisit_attempts=0,
            )
        case ComplaintSuspended():
            if s.suspension is not None:
                return s  # suspended already: the first suspension still says where to resume
            suspension = Suspension(e.suspension_no, e.awaiting, e.reason, e.until, s.status)
            return replace(
                s, status=Status.SUSPENDED, suspension=suspension, suspensions=e.suspension_no
            )
        case ComplaintResumed():
            # A resume of another suspension (a scheduled one that crossed a staff resume and a
            # new suspension) changes nothing: the current suspension still holds.
            if s.suspension is None or s.suspension.suspension_no != e.suspension_no:
                return s
            return replace(s, status=s.suspension.since, suspension=None)
        case DepartmentProposed():
            return replace(s, proposed_department=e.department)
        case DepartmentAssigned():
            return replace(
                s,
                status=Status.ASSIGNED,
                department=e.department,
                helper_department=e.helper_department,
                deadline=e.deadline,
            )
        case ComplaintTransferred():
            # The new department starts from its own analysis: plans not carried out lapse.
            return replace(
                s,
                status=Status.ASSIGNED,
                department=e.to_department,
                helper_department=e.helper_department,
                deadline=e.deadline or s.deadline,
                plans=_supersede(s.plans),
                transfers=s.transfers + 1,
            )
        case ComplaintSentBack():
            # Back to the customer-service head: judged, waiting for a department again.
            return replace(
                s,
                status=Status.JUDGED,
                department=None,
                helper_department=None,
                deadline=None,
                plans=_supersede(s.plans),
                sent_back=s.sent_back + 1,
            )
        case OfficeTransferRequested():
            request = OfficeRequest(e.to_office, e.reason, e.actor.staff_id)
            return replace(s, office_request=request)
        case ComplaintOfficeTransferred():
            return replace(
                s,
                office=e.to_office,
                office_request=None,
                office_transfers=s.office_transfers + 1,
            )
        case CauseAnalysed():
            return replace(
                s, status=Status.ANALYSED, cause=e.cause, responsible_party=e.responsible_party
            )
        case ResolutionProposed():
            # A new plan replaces any plan still waiting or approved but not carried out.
            new = Plan(e.plan_id, e.plan, PlanStatus.PROPOSED)
            return replace(s, status=Status.PLAN_PROPOSED, plans=(*_supersede(s.plans), new))
        case PlanApproved():
            plans = _mark(s.plans, e.plan_id, PlanStatus.APPROVED)
            return replace(s, status=Status.PLAN_APPROVED, plans=plans)
        case PlanRejected():
            # Back to the analysed cause: the department proposes again.
            plans = _mark(s.plans, e.plan_id, PlanStatus.REJECTED)
            return replace(s, status=Status.ANALYSED, plans=plans)
        case PlanImplemented():
            plans = _mark(s.plans, e.plan_id, PlanStatus.IMPLEMENTED)
            return replace(
                s, status=Status.IMPLEMENTED, plans=plans, revisit_attempts=0, reply_due=True
            )
        case OwnerReplied():
            kept = e.fulfils_commitment and s.open_commitment is not None
            return replace(
                s,
                replies=s.replies + 1,
                answered=s.answered or e.final,
                reply_due=s.reply_due and not e.final,
                open_commitment=None if kept else s.open_commitment,
            )
        case TimeCommitted():
            # A new promise replaces the one still open.
            return replace(
                s, commitments=(*s.commitments, e.promised_at), open_commitment=e.promised_at
            )
        case RevisitRecorded():
            return replace(
                s, status=Status.REVISITED, revisits=s.revisits + 1, satisfied=e.satisfied
            )
        case OwnerNotReached():
            return replace(s, revisit_attempts=s.revisit_attempts + 1)
        case ComplaintClosed():
            return replace(
                s, status=Status.CLOSED, outcome=e.outcome, summary=e.summary, suspension=None
            )
        case ComplaintReopened():
            return replace(
                s,
                status=Status.REOPENED,
                satisfied=None,
                reopened=s.reopened + 1,
                revisit_attempts=0,
                revisit_due=False,
                reply_due=False,
            )
        case PreventiveMeasureRecorded():
            return replace(s, preventive_measures=s.preventive_measures + 1)
        case MajorComplaintFlagged():
            # The project manager takes a major complaint over at once, so it sits at that
            # level of the escalation chain from now on (never lower).
            level = max(s.escalation_level, EscalationLevel.PROJECT_MANAGER, key=_rank)
            return replace(
                s,
                major=True,
                major_rule=e.rule,
                major_by_person=e.actor is not None,
                escalation_level=level,
            )
        case MajorComplaintUnflagged():
            # Whoever answers for it now still does: unflagging lowers no escalation.
            return replace(
                s, major=False, major_rule=None, major_by_person=e.actor.role is not Role.SYSTEM
            )
        case ComplaintEscalated():
            return replace(
                s,
                escalation_level=e.level,
                escalations=s.escalations | {(e.timer, e.deadline)},
            )
        case ComplaintWithdrawn():
            return replace(s, status=Status.WITHDRAWN, suspension=None)
        case ComplaintMerged():
            return replace(
                s, status=Status.MERGED, merged_into=str(e.into_complaint_id), suspension=None
            )
        case _:
            return s


def _mark(plans: tuple[Plan, ...], plan_id: int, status: PlanStatus) -> tuple[Plan, ...]:
    return tuple(replace(p, status=status) if p.plan_id == plan_id else p for p in plans)


def _supersede(plans: tuple[Plan, ...]) -> tuple[Plan, ...]:
    """The plans with every one still waiting or approved, not carried out, superseded."""
    return tuple(
        replace(p, status=PlanStatus.SUPERSEDED)
        if p.status in (PlanStatus.PROPOSED, PlanStatus.APPROVED)
        else p
        for p in plans
    )


# --------------------------------------------------------------------------------------------
# decide
# --------------------------------------------------------------------------------------------


class CommandRejected(Exception):
    """The procedure forbids this command now; ``reason`` says why, ``state`` is where it was."""

    def __init__(self, reason: str, state: State) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


class InvalidCommand(CommandRejected):
    """The command names something that cannot be (``field`` says which): bad input, not a
    matter of the complaint's state."""

    def __init__(self, field: str, reason: str, state: State) -> None:
        super().__init__(reason, state)
        self.field = field


APPROVER_ROLES = frozenset({Role.SUPERVISOR, Role.PROJECT_MANAGER, Role.COMPANY})
"""Who may approve or reject a plan (主管领导批示)."""

MAJOR_REVISIT_ROLES = frozenset({Role.PROJECT_MANAGER})
"""Who may revisit a major complaint (重大投诉由项目经理回访)."""


UNSATISFIED_CLOSE_ROLES = frozenset({Role.PROJECT_MANAGER, Role.COMPANY})
"""Who may close a complaint the owner stays unsatisfied with."""

REJUDGE_ROLES = frozenset({Role.CS_HEAD, Role.PROJECT_MANAGER, Role.COMPANY})
"""Who may re-judge (复核) an open complaint; after closing only the company."""

TRANSFER_ROLES = frozenset({Role.CS_HEAD, Role.PROJECT_MANAGER, Role.COMPANY})
"""Who may transfer a complaint to another department (转派)."""

SEND_BACK_ROLES = frozenset({Role.DEPARTMENT})
"""Who sends a complaint back to the customer-service head (退单): the department."""

MAJOR_JUDGE_ROLES = frozenset({Role.PROJECT_MANAGER, Role.COMPANY})
"""Who may flag or unflag a complaint as major by hand."""

RULES_ACTOR = Actor(staff_id="workflow-rules", role=Role.SYSTEM)
"""Who unflags a major complaint when the rule that made it major no longer holds."""

_BEFORE_IMPLEMENTATION = frozenset(
    {Status.ASSIGNED, Status.ANALYSED, Status.PLAN_PROPOSED, Status.PLAN_APPROVED, Status.REOPENED}
)
"""A department has the complaint and has not carried out a plan for it (yet, or again)."""

_ADMINISTRATIVE = (TransferOffice, AcceptOfficeTransfer, FlagMajor, UnflagMajor)
"""Commands about whose the complaint is and how much it weighs, not steps of the procedure:
taken before acknowledgement and while suspended too."""

WHILE_SUSPENDED = (
    Resume,
    ReplyToOwner,
    CommitTime,
    Rejudge,
    RecordPreventiveMeasure,
    Withdraw,
    Merge,
    *_ADMINISTRATIVE,
)
"""What may be done while a complaint is suspended: the procedure itself waits, but the owner
may still be answered or promised a time, the judgment corrected, the complaint ended, handed
to another office, or flagged or unflagged as major."""


def decide(
    command: Command, state: State, *, now: datetime, policy: OfficePolicy | None = None
) -> list[EventData]:
    """The events a command leads to in ``state``, or ``CommandRejected`` with the reason.

    ``now`` (timezone-aware) is when the command is decided: deadlines, promised times and a
    suspension's ``until`` must lie after it. ``policy`` holds the office's rules as data
    (the shipped defaults when left out).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    policy = policy or OfficePolicy()
    _check_stage(command, state, now, policy)
    match command:
        case Acknowledge():
            return _acknowledge(command, state)
        case Classify():
            return _classify(command, state, policy)
        case Resolve():
            return _resolve(command, state, policy)
        case Rejudge():
            return _rejudge(command, state)
        case Suspend():
            return _suspend(command, state, now)
        case Resume():
            suspension = state.suspension
            _require(suspension is not None, "the complaint is not suspended", state)
            assert suspension is not None
            return [
                ComplaintResumed(
                    actor=command.actor, suspension_no=suspension.suspension_no, note=command.note
                )
            ]
        case AssignDepartment():
            return _assign(command, state, now)
        case TransferDepartment():
            return _transfer(command, state, now)
        case SendBack():
            return _send_back(command, state)
        case TransferOffice():
            return _transfer_office(command, state)
        case AcceptOfficeTransfer():
            return _accept_office_transfer(command, state)
        case FlagMajor():
            return _flag_major(command, state)
        case UnflagMajor():
            _require_role(command.actor, MAJOR_JUDGE_ROLES, "unflag a major complaint", state)
            _require(state.major, "the complaint is not major: nothing to unflag", state)
            return [MajorComplaintUnflagged(actor=command.actor, reason=command.reason)]
        case AnalyseCause():
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
        case ProposePlan():
            return _propose(command, state)
        case ApprovePlan():
            plan_id = _pending_plan_for(command.plan_id, command.actor, state)
            return [PlanApproved(actor=command.actor, plan_id=plan_id, comment=command.comment)]
        case RejectPlan():
            plan_id = _pending_plan_for(command.plan_id, command.actor, state)
            return [PlanRejected(actor=command.actor, plan_id=plan_id, reason=command.reason)]
        case ImplementPlan():
            return _implement(command, state)
        case ReplyToOwner():
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
        case CommitTime():
            _require(command.promised_at > now, "a promised time must lie in the future", state)
            return [
                TimeCommitted(
                    actor=command.actor, promised_at=command.promised_at, message=command.message
                )
            ]
        case RecordRevisit():
            return _revisit(command, state)
        case Close():
            return _close(command, state, policy)
        case Reopen():
            return _reopen(command, state)
        case RecordPreventiveMeasure():
            _require(state.implemented, "preventive measures follow an implemented plan", state)
            return [PreventiveMeasureRecorded(actor=command.actor, measure=command.measure)]
        case Withdraw():
            return [ComplaintWithdrawn(actor=command.actor, reason=command.reason)]
        case Merge():
            return [
                ComplaintMerged(
                    actor=command.actor,
                    into_complaint_id=command.into_complaint_id,
                    reason=command.reason,
                )
            ]


def _check_stage(command: Command, state: State, now: datetime, policy: OfficePolicy) -> None:
    """The refusals shared by every command: no complaint, an ended one, not yet owned, and
    a suspended one."""
    if state.status is Status.NEW:
        _refuse("no such complaint: nothing was received", state)
    if state.status is Status.WITHDRAWN:
        _refuse("the complaint was withdrawn; nothing more happens to it", state)
    if state.status is Status.MERGED:
        _refuse(f"the complaint was merged into {state.merged_into}; act on that one", state)
    if state.status is Status.CLOSED:
        if isinstance(command, Rejudge):
            _check_rejudge_after_close(command, state, now, policy)
        elif not isinstance(command, RecordPreventiveMeasure):
            # A closed complaint stays closed; if the owner complains again, that is a new
            # complaint, and the repeat rule may make it a major one.
            _refuse("the complaint is closed; record a new complaint instead", state)
    if state.status is Status.RECEIVED and not isinstance(
        command, (Acknowledge, Withdraw, Merge, *_ADMINISTRATIVE)
    ):
        _refuse("acknowledge the complaint first: the first responder owns it (首问责任)", state)
    if state.suspension is not None and not isinstance(command, WHILE_SUSPENDED):
        s = state.suspension
        until = f" until {s.until.isoformat()}" if s.until else ""
        _refuse(
            f"the complaint is suspended (暂缓){until}, awaiting the {s.awaiting.value} "
            f"({s.awaiting.label}): resume it first",
            state,
        )


def stage_refusal(
    command: Command, state: State, *, now: datetime, policy: OfficePolicy | None = None
) -> str | None:
    """Why ``decide`` refuses every command of this kind in ``state`` whatever its fields (no
    complaint, an ended one, not yet acknowledged, suspended: the refusals shared by every
    command, which look at the state and at who gives it only), or ``None``. Pure and cheap:
    the workbench puts the forms it refuses after the others, without a table of its own."""
    try:
        _check_stage(command, state, now, policy or OfficePolicy())
    except CommandRejected as rejected:
        return rejected.reason
    return None


def _check_rejudge_after_close(
    command: Rejudge, state: State, now: datetime, policy: OfficePolicy
) -> None:
    _require(
        command.actor.role is Role.COMPANY,
        "the complaint is closed: after closing only the company (品质管理部) re-judges it",
        state,
    )
    assert state.received_at is not None  # a closed complaint was received
    last = policy.rejudge.last_instant(state.received_at)
    _require(
        now <= last,
        f"the report's month of this complaint is over: re-judging ended {last.isoformat()}",
        state,
    )


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


def _require_role(actor: Actor, roles: frozenset[Role], what: str, state: State) -> None:
    who = "、".join(r.label for r in sorted(roles))
    _require(actor.role in roles, f"a {actor.role.label} cannot {what}; {who} can", state)


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


def _require(condition: bool, reason: str, state: State) -> None:
    if not condition:
        _refuse(reason, state)


def _refuse(reason: str, state: State) -> NoReturn:
    raise CommandRejected(reason, state)


# --------------------------------------------------------------------------------------------
# The next deadline the workflow itself knows of
# --------------------------------------------------------------------------------------------

FIRST_RESPONSE = ClockPolicy().first_response
"""首问责任制: the first person reached responds within 30 minutes (wall clock), unless the
policy's ``clocks.first_response`` says otherwise."""

_HANDLING = frozenset(
    {Status.ASSIGNED, Status.ANALYSED, Status.PLAN_PROPOSED, Status.PLAN_APPROVED, Status.REOPENED}
)


def clock_stage(state: State) -> str | None:
    """The step an open complaint waits for, named as its clock; ``None`` once it ended.

    Every open status names one, so no open complaint is without a deadline:

    ============================  ==================================================
    received                      ``first_response`` (首问责任)
    acknowledged                  ``judgment``
    judged valid/assist, or sent  ``assignment``
    back (退单)
    judged invalid                ``reply``, once answered ``close``
    resolved on the spot          ``revisit`` when one is owed, else ``close``
    a department has it           ``department`` (its 限期解决)
    implemented                   ``reply``, once answered ``revisit``
    revisited                     ``close`` when satisfied, else ``reopen``
    suspended                     ``resume`` at its ``until``, else ``review``
    ============================  ==================================================
    """
    match state.status:
        case Status.NEW | Status.CLOSED | Status.WITHDRAWN | Status.MERGED:
            return None
        case Status.RECEIVED:
            return "first_response"
        case Status.ACKNOWLEDGED:
            return "judgment"
        case Status.JUDGED:
            if state.validity is not Validity.INVALID:
                return "assignment"
            return "close" if state.answered else "reply"
        case Status.RESOLVED:
            return "revisit" if state.revisit_due else "close"
        case (
            Status.ASSIGNED
            | Status.ANALYSED
            | Status.PLAN_PROPOSED
            | Status.PLAN_APPROVED
            | Status.REOPENED
        ):
            return "department" if state.deadline is not None else "assignment"
        case Status.IMPLEMENTED:
            return "reply" if state.reply_due else "revisit"
        case Status.REVISITED:
            return "close" if state.satisfied else "reopen"
        case Status.SUSPENDED:
            until = state.suspension.until if state.suspension else None
            return "resume" if until is not None else "review"


def next_deadline(
    state: State,
    occurred_at: datetime,
    since: datetime | None = None,
    clocks: ClockPolicy | None = None,
) -> tuple[str, datetime] | None:
    """The earliest deadline the workflow itself knows of for an open complaint; ``None``
    only once it ended.

    The clock of the step it waits for (``clock_stage``): the first response from when it
    happened (``occurred_at``), the department's own deadline, a suspension's ``until``, or
    else the policy's span for the step (``clocks``) from ``since``, when that step began
    (``occurred_at`` when not given). An open time commitment counts too, until a reply
    fulfils it. The SLA service keeps the exact clocks, pauses and working days included.
    """
    stage = clock_stage(state)
    if stage is None:
        return None
    clocks = clocks or ClockPolicy()
    start = since or occurred_at
    if stage == "first_response":
        at = occurred_at + clocks.first_response
    elif stage == "department" and state.deadline is not None:
        at = state.deadline
    elif stage == "resume" and state.suspension is not None and state.suspension.until:
        at = state.suspension.until
    else:
        at = start + getattr(clocks, stage)
    due = [(at, stage)]
    if state.open_commitment is not None:
        due.append((state.open_commitment, "promise"))
    at, kind = min(due)
    return kind, at


# --------------------------------------------------------------------------------------------
# Automatic rule: routing (确定责任部门 suggestion)
# --------------------------------------------------------------------------------------------

DEFAULT_ROUTING_FILE = Path(__file__).with_name("routing.yaml")


class RoutingRules(BaseModel):
    """Which department handles a service category: a company default, and office overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: dict[ServiceCategory, Department]
    offices: dict[str, dict[ServiceCategory, Department]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_covers_every_category(self) -> Self:
        # Then every lookup finds a department: no complaint waits for a missing rule.
        missing = [c.value for c in ServiceCategory if c not in self.default]
        if missing:
            raise ValueError(f"the default routing lacks categories: {', '.join(missing)}")
        return self


def parse_routing_rules(text: str) -> RoutingRules:
    """Routing rules from the text of a routing YAML file (see ``routing.yaml``)."""
    return RoutingRules.model_validate(yaml.safe_load(text))


def load_routing_rules(path: Path = DEFAULT_ROUTING_FILE) -> RoutingRules:
    """Read and parse a routing YAML file: the one I/O of this module."""
    return parse_routing_rules(path.read_text(encoding="utf-8"))


def route(category: ServiceCategory, office: str, rules: RoutingRules) -> DepartmentProposed:
    """The department the rules suggest for a category at an office, with the rule that matched.

    A suggestion, not an assignment: the assignment needs a deadline, which a person sets
    (限期解决) when they confirm or change the department.
    """
    override = rules.offices.get(office, {}).get(category)
    if override is not None:
        return DepartmentProposed(
            department=override, reason=f"{office}分派规则：{category.label} → {override}"
        )
    department = rules.default[category]
    return DepartmentProposed(
        department=department, reason=f"公司默认分派：{category.label} → {department}"
    )


# --------------------------------------------------------------------------------------------
# Automatic rule: major complaints (重大投诉)
# --------------------------------------------------------------------------------------------


class PriorComplaint(NamedTuple):
    """An earlier-recorded complaint, as far as the repeat rule needs it."""

    occurred_at: datetime
    owner: str  # the complainant's reference (services.runtime.vault)
    unit: str
    office: str


def detect_major(
    received: ComplaintReceived,
    prior: Iterable[tuple[datetime, str, str, str]],
    policy: MajorPolicy,
    *,
    owner: str,
) -> MajorComplaintFlagged | None:
    """Whether a received complaint is major, and by which rule; ``None`` when it is not.

    ``prior`` holds the complaints recorded before this one, as ``PriorComplaint`` or plain
    ``(occurred_at, owner, unit, office)`` tuples, this complaint itself excluded; ``owner``
    is this complaint's complainant the same way (their reference: the phone is sealed). Rules,
    first match wins: over the head (one of the policy's channels, or so marked by intake);
    the same owner complaining for the ``repeat_count``-th time within ``window``; the
    same unit (office + unit) likewise (each as the policy's ``repeat_by`` says). Times are
    compared, not arrival order: a complaint recorded late still counts where it happened, so
    neither of two close complaints falls through. (The categories that are always major are
    judged with the complaint: ``judge_major``.)
    """
    if received.over_the_head or received.channel in policy.over_the_head_channels:
        return MajorComplaintFlagged(
            rule=MajorRule.OVER_THE_HEAD,
            reason=f"经{received.channel.label}越级投诉，未经管理处",
        )
    earlier = [PriorComplaint(*p) for p in prior]
    at = received.occurred_at
    by_owner = [p.occurred_at for p in earlier if p.owner == owner]
    hits = _closest_run(at, by_owner, policy.window)
    if RepeatKey.OWNER in policy.repeat_by and len(hits) + 1 >= policy.repeat_count:
        who = "同一业主"  # no phone, not even masked: the reason is kept in the log forever
        return MajorComplaintFlagged(
            rule=MajorRule.REPEAT_OWNER, reason=_repeat_reason(who, at, hits, policy)
        )
    by_unit = [
        p.occurred_at
        for p in earlier
        if p.office == received.office and p.unit.strip() == received.unit
    ]
    hits = _closest_run(at, by_unit, policy.window)
    if RepeatKey.UNIT in policy.repeat_by and len(hits) + 1 >= policy.repeat_count:
        where = f"同一房号（{received.office} {received.unit}）"
        return MajorComplaintFlagged(
            rule=MajorRule.REPEAT_UNIT, reason=_repeat_reason(where, at, hits, policy)
        )
    return None


def judge_major(
    state: State, policy: MajorPolicy
) -> MajorComplaintFlagged | MajorComplaintUnflagged | None:
    """What the rules say of a complaint just judged or re-judged (``state``: after it).

    A person's flag or unflag stands: the rules say nothing then. Otherwise: a complaint over
    the head (the policy's channels, or so marked by intake) or of a category the policy makes
    always major is major unless judged invalid; one the repeat rule made major at receipt
    stays major (no judgment changes that it was repeated). Returns the flag when it becomes
    major, the unflag (by ``RULES_ACTOR``) when the rule that made it major no longer holds,
    ``None`` when nothing changes.
    """
    if state.major_by_person or state.validity is None:
        return None
    founded = state.validity is not Validity.INVALID
    over = founded and (state.over_the_head or state.channel in policy.over_the_head_channels)
    by_category = founded and state.category in policy.categories
    if state.major:
        if state.major_rule in (MajorRule.OVER_THE_HEAD, MajorRule.CATEGORY) and not (
            over or by_category
        ):
            return MajorComplaintUnflagged(
                actor=RULES_ACTOR,
                reason=f"判定为{state.validity.label}，不再按规则认定为重大投诉（未经人工认定）",
            )
        return None
    if over:
        channel = state.channel.label if state.channel else "越级渠道"
        return MajorComplaintFlagged(
            rule=MajorRule.OVER_THE_HEAD,
            reason=f"经{channel}越级投诉，判定为{state.validity.label}",
        )
    if by_category:
        assert state.category is not None
        return MajorComplaintFlagged(
            rule=MajorRule.CATEGORY,
            reason=f"{state.category.label}类投诉一律按重大投诉处理（政策）",
        )
    return None


def _closest_run(at: datetime, others: list[datetime], window: timedelta) -> list[datetime]:
    """The largest set of ``others`` that fits with ``at`` into one span of length ``window``."""
    near = sorted(t for t in others if abs(t - at) <= window)
    best: list[datetime] = []
    for start in [t for t in near if t <= at] + [at]:
        run = [t for t in near if start <= t <= start + window]
        if len(run) > len(best):
            best = run
    return best


REASON_DATES = 10
"""How many earlier dates a repeat's reason lists: a serial complainer's hundreds would not fit
an event's text, and the latest few say what matters."""


def _repeat_reason(who: str, at: datetime, hits: list[datetime], policy: MajorPolicy) -> str:
    shown = sorted(hits, key=lambda t: abs(t - at))[:REASON_DATES]
    dates = "、".join(f"{t.astimezone(at.tzinfo):%Y-%m-%d %H:%M}" for t in sorted(shown))
    more = f"等{len(hits)}次" if len(hits) > len(shown) else ""
    return f"{who}{_span(policy.window)}内第{len(hits) + 1}次投诉（另见：{dates}{more}）"


def _span(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        return f"{window.days}天"
    return f"{window.total_seconds() / 3600:g}小时"


# --------------------------------------------------------------------------------------------
# Automatic rule: escalation (升级)
# --------------------------------------------------------------------------------------------

ESCALATION_CHAIN = (
    EscalationLevel.STAFF,
    EscalationLevel.CS_HEAD,
    EscalationLevel.PROJECT_MANAGER,
    EscalationLevel.COMPANY,
)
"""Who answers for an overdue complaint, lowest first."""


def _rank(level: EscalationLevel) -> int:
    return ESCALATION_CHAIN.index(level)


def escalate(
    state: State, *, timer: str, deadline: datetime, now: datetime
) -> ComplaintEscalated | None:
    """One level up the chain when ``timer``'s ``deadline`` passed; ``None`` when nothing to do.

    ``None`` when: the complaint is not open; the deadline has not passed yet; this very
    (timer, deadline) was escalated already (the SLA service may report a breach twice, and
    a repeat must not climb two levels); or it already sits with the company, the top of the
    chain — the breach then stays visible to the SLA service, but there is no one to escalate
    to. A major complaint sits with its project manager from the moment it is flagged, so its
    first escalation goes to the company.
    """
    if not state.is_open or now < deadline or (timer, deadline) in state.escalations:
        return None
    current = state.escalation_level
    if current is EscalationLevel.COMPANY:
        return None
    higher = ESCALATION_CHAIN[_rank(current) + 1]
    return ComplaintEscalated(
        level=higher,
        reason=f"{timer} 已于 {deadline:%Y-%m-%d %H:%M %z} 到期未完成：由{current.label}升级至"
        f"{higher.label}",
        timer=timer,
        deadline=deadline,
    )


__all__ = [
    "APPROVER_ROLES",
    "ENDED",
    "ESCALATION_CHAIN",
    "FIRST_RESPONSE",
    "MAJOR_JUDGE_ROLES",
    "MAJOR_REVISIT_ROLES",
    "REJUDGE_ROLES",
    "RULES_ACTOR",
    "SEND_BACK_ROLES",
    "TRANSFER_ROLES",
    "UNSATISFIED_CLOSE_ROLES",
    "WHILE_SUSPENDED",
    "ClockPolicy",
    "CommandRejected",
    "InvalidCommand",
    "MajorPolicy",
    "MergeTarget",
    "OfficePolicy",
    "OfficeRequest",
    "Plan",
    "PlanStatus",
    "PriorComplaint",
    "RoutingRules",
    "State",
    "Status",
    "Suspension",
    "check_merge_target",
    "clock_stage",
    "decide",
    "detect_major",
    "escalate",
    "evolve",
    "initial_state",
    "judge_major",
    "load_routing_rules",
    "next_deadline",
    "parse_routing_rules",
    "replay",
    "route",
]

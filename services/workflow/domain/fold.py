"""How each event changes a complaint's state (``evolve``): the fold of its history, one
step per fact."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from contracts.envelope import EventData
from contracts.intake import ComplaintReceived
from contracts.lifecycle import (
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
from services.workflow.domain.state import (
    OfficeRequest,
    Plan,
    PlanStatus,
    State,
    Status,
    Suspension,
    _rank,
    initial_state,
    replace,
)

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
    """The state after ``e``, its version not yet advanced (an event of no step here: ``s``)."""
    step = _STEPS.get(type(e))
    if step is None:
        step = _step_for(type(e))
    return step(s, e)


def _step_for(kind: type) -> Step:
    """The step of the nearest class in ``kind``'s ancestry that has one (an event's later
    version subclasses its type), remembered for next time."""
    step = next((_BY_EVENT[c] for c in kind.__mro__ if c in _BY_EVENT), _unchanged)
    _STEPS[kind] = step
    return step


def _unchanged(s: State, e: Any) -> State:
    return s


def _complaint_received(s: State, e: ComplaintReceived) -> State:
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


def _complaint_acknowledged(s: State, e: ComplaintAcknowledged) -> State:
    return replace(s, status=Status.ACKNOWLEDGED, owner=e.actor)


def _complaint_judged(s: State, e: ComplaintJudged) -> State:
    return replace(
        s,
        status=Status.JUDGED,
        validity=e.validity,
        category=e.category,
        priority=e.priority,
    )


def _complaint_rejudged(s: State, e: ComplaintRejudged) -> State:
    # A correction of the judgment, not a step: the complaint stays where it is.
    return replace(s, validity=e.validity, category=e.category, rejudged=s.rejudged + 1)


def _complaint_resolved_on_the_spot(s: State, e: ComplaintResolvedOnTheSpot) -> State:
    return replace(
        s,
        status=Status.RESOLVED,
        answered=True,
        resolved_on_the_spot=True,
        revisit_due=e.revisit,
        revisit_attempts=0,
    )


def _complaint_suspended(s: State, e: ComplaintSuspended) -> State:
    if s.suspension is not None:
        return s  # suspended already: the first suspension still says where to resume
    suspension = Suspension(e.suspension_no, e.awaiting, e.reason, e.until, s.status)
    return replace(s, status=Status.SUSPENDED, suspension=suspension, suspensions=e.suspension_no)


def _complaint_resumed(s: State, e: ComplaintResumed) -> State:
    # A resume of another suspension (a scheduled one that crossed a staff resume and a
    # new suspension) changes nothing: the current suspension still holds.
    if s.suspension is None or s.suspension.suspension_no != e.suspension_no:
        return s
    return replace(s, status=s.suspension.since, suspension=None)


def _department_proposed(s: State, e: DepartmentProposed) -> State:
    return replace(s, proposed_department=e.department)


def _department_assigned(s: State, e: DepartmentAssigned) -> State:
    return replace(
        s,
        status=Status.ASSIGNED,
        department=e.department,
        helper_department=e.helper_department,
        deadline=e.deadline,
    )


def _complaint_transferred(s: State, e: ComplaintTransferred) -> State:
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


def _complaint_sent_back(s: State, e: ComplaintSentBack) -> State:
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


def _office_transfer_requested(s: State, e: OfficeTransferRequested) -> State:
    request = OfficeRequest(e.to_office, e.reason, e.actor.staff_id)
    return replace(s, office_request=request)


def _complaint_office_transferred(s: State, e: ComplaintOfficeTransferred) -> State:
    return replace(
        s,
        office=e.to_office,
        office_request=None,
        office_transfers=s.office_transfers + 1,
    )


def _cause_analysed(s: State, e: CauseAnalysed) -> State:
    return replace(s, status=Status.ANALYSED, cause=e.cause, responsible_party=e.responsible_party)


def _resolution_proposed(s: State, e: ResolutionProposed) -> State:
    # A new plan replaces any plan still waiting or approved but not carried out.
    new = Plan(e.plan_id, e.plan, PlanStatus.PROPOSED)
    return replace(s, status=Status.PLAN_PROPOSED, plans=(*_supersede(s.plans), new))


def _plan_approved(s: State, e: PlanApproved) -> State:
    plans = _mark(s.plans, e.plan_id, PlanStatus.APPROVED)
    return replace(s, status=Status.PLAN_APPROVED, plans=plans)


def _plan_rejected(s: State, e: PlanRejected) -> State:
    # Back to the analysed cause: the department proposes again.
    plans = _mark(s.plans, e.plan_id, PlanStatus.REJECTED)
    return replace(s, status=Status.ANALYSED, plans=plans)


def _plan_implemented(s: State, e: PlanImplemented) -> State:
    plans = _mark(s.plans, e.plan_id, PlanStatus.IMPLEMENTED)
    return replace(s, status=Status.IMPLEMENTED, plans=plans, revisit_attempts=0, reply_due=True)


def _owner_replied(s: State, e: OwnerReplied) -> State:
    kept = e.fulfils_commitment and s.open_commitment is not None
    return replace(
        s,
        replies=s.replies + 1,
        answered=s.answered or e.final,
        reply_due=s.reply_due and not e.final,
        open_commitment=None if kept else s.open_commitment,
    )


def _time_committed(s: State, e: TimeCommitted) -> State:
    # A new promise replaces the one still open.
    return replace(s, commitments=(*s.commitments, e.promised_at), open_commitment=e.promised_at)


def _revisit_recorded(s: State, e: RevisitRecorded) -> State:
    return replace(s, status=Status.REVISITED, revisits=s.revisits + 1, satisfied=e.satisfied)


def _owner_not_reached(s: State, e: OwnerNotReached) -> State:
    return replace(s, revisit_attempts=s.revisit_attempts + 1)


def _complaint_closed(s: State, e: ComplaintClosed) -> State:
    return replace(s, status=Status.CLOSED, outcome=e.outcome, summary=e.summary, suspension=None)


def _complaint_reopened(s: State, e: ComplaintReopened) -> State:
    return replace(
        s,
        status=Status.REOPENED,
        satisfied=None,
        reopened=s.reopened + 1,
        revisit_attempts=0,
        revisit_due=False,
        reply_due=False,
    )


def _preventive_measure_recorded(s: State, e: PreventiveMeasureRecorded) -> State:
    return replace(s, preventive_measures=s.preventive_measures + 1)


def _major_complaint_flagged(s: State, e: MajorComplaintFlagged) -> State:
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


def _major_complaint_unflagged(s: State, e: MajorComplaintUnflagged) -> State:
    # Whoever answers for it now still does: unflagging lowers no escalation.
    return replace(s, major=False, major_rule=None, major_by_person=e.actor.role is not Role.SYSTEM)


def _complaint_escalated(s: State, e: ComplaintEscalated) -> State:
    return replace(
        s,
        escalation_level=e.level,
        escalations=s.escalations | {(e.timer, e.deadline)},
    )


def _complaint_withdrawn(s: State, e: ComplaintWithdrawn) -> State:
    return replace(s, status=Status.WITHDRAWN, suspension=None)


def _complaint_merged(s: State, e: ComplaintMerged) -> State:
    return replace(s, status=Status.MERGED, merged_into=str(e.into_complaint_id), suspension=None)


Step = Callable[[State, Any], State]
_BY_EVENT: dict[type, Step] = {
    ComplaintReceived: _complaint_received,
    ComplaintAcknowledged: _complaint_acknowledged,
    ComplaintJudged: _complaint_judged,
    ComplaintRejudged: _complaint_rejudged,
    ComplaintResolvedOnTheSpot: _complaint_resolved_on_the_spot,
    ComplaintSuspended: _complaint_suspended,
    ComplaintResumed: _complaint_resumed,
    DepartmentProposed: _department_proposed,
    DepartmentAssigned: _department_assigned,
    ComplaintTransferred: _complaint_transferred,
    ComplaintSentBack: _complaint_sent_back,
    OfficeTransferRequested: _office_transfer_requested,
    ComplaintOfficeTransferred: _complaint_office_transferred,
    CauseAnalysed: _cause_analysed,
    ResolutionProposed: _resolution_proposed,
    PlanApproved: _plan_approved,
    PlanRejected: _plan_rejected,
    PlanImplemented: _plan_implemented,
    OwnerReplied: _owner_replied,
    TimeCommitted: _time_committed,
    RevisitRecorded: _revisit_recorded,
    OwnerNotReached: _owner_not_reached,
    ComplaintClosed: _complaint_closed,
    ComplaintReopened: _complaint_reopened,
    PreventiveMeasureRecorded: _preventive_measure_recorded,
    MajorComplaintFlagged: _major_complaint_flagged,
    MajorComplaintUnflagged: _major_complaint_unflagged,
    ComplaintEscalated: _complaint_escalated,
    ComplaintWithdrawn: _complaint_withdrawn,
    ComplaintMerged: _complaint_merged,
}
"""Each event type's step: one function per fact, in the procedure's order."""
_STEPS: dict[type, Step] = dict(_BY_EVENT)  # also the subclasses met, by ``_step_for``


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

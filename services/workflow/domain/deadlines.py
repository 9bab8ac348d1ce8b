"""The next deadline the workflow itself knows of, for every open status."""

from __future__ import annotations

from datetime import datetime

from contracts.enums import Validity
from services.workflow.domain.state import (
    State,
    Status,
)
from services.workflow.policy import ClockPolicy

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

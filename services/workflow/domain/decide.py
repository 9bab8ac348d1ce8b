"""The Decider: the events a command leads to in a state, or the reason it is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts.envelope import EventData
from contracts.lifecycle import (
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
from services.workflow.domain.handling import (
    _analyse_cause,
    _approve_plan,
    _close,
    _commit_time,
    _implement,
    _merge,
    _propose,
    _record_preventive_measure,
    _reject_plan,
    _reopen,
    _reply_to_owner,
    _revisit,
    _withdraw,
)
from services.workflow.domain.refusals import (
    _ADMINISTRATIVE,
    WHILE_SUSPENDED,
    CommandRejected,
    _refuse,
    _require,
)
from services.workflow.domain.state import (
    State,
    Status,
)
from services.workflow.domain.steps import (
    _accept_office_transfer,
    _acknowledge,
    _assign,
    _classify,
    _flag_major,
    _rejudge,
    _resolve,
    _resume,
    _send_back,
    _suspend,
    _transfer,
    _transfer_office,
    _unflag_major,
)
from services.workflow.policy import OfficePolicy


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
    return _DECIDE[type(command)](command, state, now, policy)


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


Decider = Callable[[Any, State, datetime, OfficePolicy], list[EventData]]
_DECIDE: dict[type[Command], Decider] = {
    Acknowledge: lambda c, s, now, policy: _acknowledge(c, s),
    Classify: lambda c, s, now, policy: _classify(c, s, policy),
    Resolve: lambda c, s, now, policy: _resolve(c, s, policy),
    Rejudge: lambda c, s, now, policy: _rejudge(c, s),
    Suspend: lambda c, s, now, policy: _suspend(c, s, now),
    Resume: lambda c, s, now, policy: _resume(c, s),
    AssignDepartment: lambda c, s, now, policy: _assign(c, s, now),
    TransferDepartment: lambda c, s, now, policy: _transfer(c, s, now),
    SendBack: lambda c, s, now, policy: _send_back(c, s),
    TransferOffice: lambda c, s, now, policy: _transfer_office(c, s),
    AcceptOfficeTransfer: lambda c, s, now, policy: _accept_office_transfer(c, s),
    FlagMajor: lambda c, s, now, policy: _flag_major(c, s),
    UnflagMajor: lambda c, s, now, policy: _unflag_major(c, s),
    AnalyseCause: lambda c, s, now, policy: _analyse_cause(c, s),
    ProposePlan: lambda c, s, now, policy: _propose(c, s),
    ApprovePlan: lambda c, s, now, policy: _approve_plan(c, s),
    RejectPlan: lambda c, s, now, policy: _reject_plan(c, s),
    ImplementPlan: lambda c, s, now, policy: _implement(c, s),
    ReplyToOwner: lambda c, s, now, policy: _reply_to_owner(c, s),
    CommitTime: lambda c, s, now, policy: _commit_time(c, s, now),
    RecordRevisit: lambda c, s, now, policy: _revisit(c, s),
    Close: lambda c, s, now, policy: _close(c, s, policy),
    Reopen: lambda c, s, now, policy: _reopen(c, s),
    RecordPreventiveMeasure: lambda c, s, now, policy: _record_preventive_measure(c, s),
    Withdraw: lambda c, s, now, policy: _withdraw(c, s),
    Merge: lambda c, s, now, policy: _merge(c, s),
}
"""Each command's step (``services.workflow.domain.steps``), by the command's type."""

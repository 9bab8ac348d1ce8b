"""Why a command is refused: the errors, who may do what, and what may be done while
suspended."""

from __future__ import annotations

from typing import NoReturn

from contracts.lifecycle import (
    Actor,
    Role,
)
from services.workflow.commands import (
    AcceptOfficeTransfer,
    CommitTime,
    FlagMajor,
    Merge,
    RecordPreventiveMeasure,
    Rejudge,
    ReplyToOwner,
    Resume,
    TransferOffice,
    UnflagMajor,
    Withdraw,
)
from services.workflow.domain.state import (
    State,
    Status,
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


def _require_role(actor: Actor, roles: frozenset[Role], what: str, state: State) -> None:
    who = "、".join(r.label for r in sorted(roles))
    _require(actor.role in roles, f"a {actor.role.label} cannot {what}; {who} can", state)


def _require(condition: bool, reason: str, state: State) -> None:
    if not condition:
        _refuse(reason, state)


def _refuse(reason: str, state: State) -> NoReturn:
    raise CommandRejected(reason, state)

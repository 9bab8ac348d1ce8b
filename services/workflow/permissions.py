"""Who may give which command (the procedure's division of labour), as data."""

from __future__ import annotations

from contracts.lifecycle import CloseOutcome, Role
from services.workflow.commands import AcceptOfficeTransfer, Close, Command
from services.workflow.domain import State

_CS = {Role.CS_AGENT, Role.CS_HEAD}
_LEAD = {Role.CS_HEAD, Role.PROJECT_MANAGER}

ALLOWED: dict[str, frozenset[Role]] = {
    # 首问责任: whoever is reached first at the customer service centre, or the manager.
    "acknowledge": frozenset(_CS | {Role.PROJECT_MANAGER}),
    "classify": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    # 当场解决: whoever was reached first (the Decider checks it is the complaint's owner).
    "resolve": frozenset(_CS | {Role.PROJECT_MANAGER}),
    # 复核: the customer-service head, the project manager, the quality department.
    "rejudge": frozenset({Role.CS_HEAD, Role.PROJECT_MANAGER, Role.COMPANY}),
    # 暂缓 / 恢复处理
    "suspend": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "resume": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "assign": frozenset(_LEAD | {Role.COMPANY}),
    # 转派 by those who assign; 退单 by the department that has it.
    "transfer": frozenset(_LEAD | {Role.COMPANY}),
    "send-back": frozenset({Role.DEPARTMENT}),
    # 跨项目转办: the company at once; a project manager asks, one of the other office accepts
    # (the API checks that office: see ``acting_office``).
    "transfer-office": frozenset({Role.PROJECT_MANAGER, Role.COMPANY}),
    "transfer-office/accept": frozenset({Role.PROJECT_MANAGER}),
    # 重大投诉 by a person's judgment
    "flag-major": frozenset({Role.PROJECT_MANAGER, Role.COMPANY}),
    "unflag-major": frozenset({Role.PROJECT_MANAGER, Role.COMPANY}),
    "analyse": frozenset({Role.DEPARTMENT} | _LEAD),
    "propose": frozenset({Role.DEPARTMENT} | _LEAD),
    # 主管领导批示
    "approve": frozenset({Role.SUPERVISOR, Role.PROJECT_MANAGER, Role.COMPANY}),
    "reject": frozenset({Role.SUPERVISOR, Role.PROJECT_MANAGER, Role.COMPANY}),
    "implement": frozenset({Role.DEPARTMENT, Role.PROJECT_MANAGER}),
    "reply": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "commit": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "revisit": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    # The company closes only without satisfaction (see BY_OUTCOME); the Decider agrees.
    "close": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "reopen": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "prevent": frozenset({Role.DEPARTMENT, Role.PROJECT_MANAGER}),
    "withdraw": frozenset(_CS),
    "merge": frozenset(_LEAD),
}


CLOSE_BY_OUTCOME: dict[CloseOutcome, frozenset[Role]] = {
    CloseOutcome.SATISFIED: frozenset(_CS | {Role.PROJECT_MANAGER}),
    # 不满意关闭: a decision above the customer service centre.
    CloseOutcome.UNSATISFIED: frozenset({Role.PROJECT_MANAGER, Role.COMPANY}),
    CloseOutcome.UNREACHABLE: frozenset(_CS | {Role.PROJECT_MANAGER}),
}
"""Who may close a complaint with each outcome."""


def may_give(role: str, command: str) -> bool:
    """Whether ``role`` may give ``command`` at all (the office is checked separately).

    Roles outside the procedure (the analyst, who only reads) may give none.
    """
    return role in {r.value for r in ALLOWED.get(command, frozenset())}


def role_refusal(role: str, command: Command) -> str | None:
    """Why ``role`` may not give this very command (its body matters), or ``None``.

    ``may_give`` answers per command name; this adds the rules that depend on what is asked,
    such as the outcome of a close.
    """
    if isinstance(command, Close):
        allowed = CLOSE_BY_OUTCOME[command.outcome]
        if role not in {r.value for r in allowed}:
            return f"role: a {role} may not close a complaint as {command.outcome.value}"
    return None


def acting_office(command: str, state: State) -> str | None:
    """The office whose staff may give ``command`` for a complaint in ``state``: the office
    it belongs to now, or, to accept a transfer to another office, the office asked to take
    it over (while such a request is open)."""
    request = state.office_request
    if command == AcceptOfficeTransfer.name and request is not None:
        return request.to_office
    return state.office

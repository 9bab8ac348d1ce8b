"""Who may give which command (the procedure's division of labour), as data."""

from __future__ import annotations

from contracts.lifecycle import Role

_CS = {Role.CS_AGENT, Role.CS_HEAD}
_LEAD = {Role.CS_HEAD, Role.PROJECT_MANAGER}

ALLOWED: dict[str, frozenset[Role]] = {
    # 首问责任: whoever is reached first at the customer service centre, or the manager.
    "acknowledge": frozenset(_CS | {Role.PROJECT_MANAGER}),
    "classify": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "assign": frozenset(_LEAD | {Role.COMPANY}),
    "analyse": frozenset({Role.DEPARTMENT} | _LEAD),
    "propose": frozenset({Role.DEPARTMENT} | _LEAD),
    # 主管领导批示
    "approve": frozenset({Role.SUPERVISOR, Role.PROJECT_MANAGER, Role.COMPANY}),
    "reject": frozenset({Role.SUPERVISOR, Role.PROJECT_MANAGER, Role.COMPANY}),
    "implement": frozenset({Role.DEPARTMENT, Role.PROJECT_MANAGER}),
    "reply": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "commit": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "revisit": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "close": frozenset(_CS | {Role.PROJECT_MANAGER}),
    "reopen": frozenset(_CS | {Role.PROJECT_MANAGER, Role.COMPANY}),
    "prevent": frozenset({Role.DEPARTMENT, Role.PROJECT_MANAGER}),
    "withdraw": frozenset(_CS),
    "merge": frozenset(_LEAD),
}


def may_give(role: str, command: str) -> bool:
    """Whether ``role`` may give ``command`` at all (the office is checked separately).

    Roles outside the procedure (the analyst, who only reads) may give none.
    """
    return role in {r.value for r in ALLOWED.get(command, frozenset())}

"""A complaint's state: its status, plans, suspension and everything a decision reads.
``STATE_FORMAT`` in ``services.workflow.store`` is the digest of this module and ``fold``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.lifecycle import (
    Actor,
    Awaiting,
    CloseOutcome,
    EscalationLevel,
    MajorRule,
)

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


ESCALATION_CHAIN = (
    EscalationLevel.STAFF,
    EscalationLevel.CS_HEAD,
    EscalationLevel.PROJECT_MANAGER,
    EscalationLevel.COMPANY,
)
"""Who answers for an overdue complaint, lowest first."""


def _rank(level: EscalationLevel) -> int:
    return ESCALATION_CHAIN.index(level)

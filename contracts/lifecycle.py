"""Lifecycle events of a complaint after it was received (steps 2-13 of the procedure).

One event per fact, named in the past tense, each version published once (see
``contracts.envelope``). The bodies hold plain values only: *whether* a fact may happen is the
workflow's decision (``services.workflow.domain``), never the contract's. When a fact is caused
by a person the event says who (``actor``); the automatic facts (a routing suggestion, a major
complaint, an escalation) carry the rule or timer that produced them instead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.enums import Priority, ServiceCategory, Validity
from contracts.envelope import EventData, event, upcaster

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Note = Annotated[str, Field(max_length=2000, description="Free remark (may be empty)")]
Department = Annotated[
    str, Field(min_length=1, max_length=50, description="责任部门, e.g. 工程部, 秩序维护部")
]
PlanId = Annotated[
    int, Field(ge=1, description="Sequence number of the plan within its complaint: 1, 2, ...")
]


class Role(StrEnum):
    """What a member of staff acts as when they cause a lifecycle fact."""

    CS_AGENT = "cs_agent"
    CS_HEAD = "cs_head"
    DEPARTMENT = "department"
    SUPERVISOR = "supervisor"
    PROJECT_MANAGER = "project_manager"
    COMPANY = "company"
    SYSTEM = "system"

    @property
    def label(self) -> str:
        """The zh-CN label shown on pages and in reports."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    Role.CS_AGENT: "客服专员",
    Role.CS_HEAD: "客服主管",
    Role.DEPARTMENT: "责任部门",
    Role.SUPERVISOR: "主管领导",
    Role.PROJECT_MANAGER: "项目经理",
    Role.COMPANY: "品质管理部",
    Role.SYSTEM: "系统",
}


class EscalationLevel(StrEnum):
    """Who answers for an overdue complaint (升级): the chain from staff up to the company."""

    STAFF = "staff"
    CS_HEAD = "cs_head"
    PROJECT_MANAGER = "project_manager"
    COMPANY = "company"

    @property
    def label(self) -> str:
        """The zh-CN label shown on pages and in reports."""
        return _LEVEL_LABELS[self]


_LEVEL_LABELS = {
    EscalationLevel.STAFF: "经办人员",
    EscalationLevel.CS_HEAD: "客服主管",
    EscalationLevel.PROJECT_MANAGER: "项目经理",
    EscalationLevel.COMPANY: "公司",
}


class MajorRule(StrEnum):
    """Why a complaint counts as major (重大投诉)."""

    OVER_THE_HEAD = "over_the_head"
    REPEAT_OWNER = "repeat_owner"
    REPEAT_UNIT = "repeat_unit"
    CATEGORY = "category"  # the workflow policy names categories that are always major
    MANUAL = "manual"  # a person flagged it (flag-major)

    @property
    def label(self) -> str:
        """The zh-CN label shown on pages and in reports."""
        return _MAJOR_LABELS[self]


_MAJOR_LABELS = {
    MajorRule.OVER_THE_HEAD: "越级投诉",
    MajorRule.REPEAT_OWNER: "同一业主连续投诉",
    MajorRule.REPEAT_UNIT: "同一房号连续投诉",
    MajorRule.CATEGORY: "重大投诉类别",
    MajorRule.MANUAL: "人工认定",
}


class _PublishedV1:
    """The enums exactly as the first versions of the events published them: their schemas
    list the members of that time, so later members do not change a published schema."""

    class MajorRule(StrEnum):
        """Why a complaint counts as major (重大投诉)."""

        OVER_THE_HEAD = "over_the_head"
        REPEAT_OWNER = "repeat_owner"
        REPEAT_UNIT = "repeat_unit"


class Awaiting(StrEnum):
    """Whom a suspended complaint waits for (暂缓: 等待业主、开发商、政府部门或其他)."""

    OWNER = "owner"
    DEVELOPER = "developer"
    GOVERNMENT = "government"
    OTHER = "other"

    @property
    def label(self) -> str:
        """The zh-CN label shown on pages and in reports."""
        return _AWAITING_LABELS[self]


_AWAITING_LABELS = {
    Awaiting.OWNER: "业主",
    Awaiting.DEVELOPER: "开发商",
    Awaiting.GOVERNMENT: "政府部门",
    Awaiting.OTHER: "其他",
}


class CloseOutcome(StrEnum):
    """How a complaint ended when it was closed; counted apart in the report."""

    SATISFIED = "satisfied"  # the procedure's own end: revisit satisfied (or invalid, answered)
    UNSATISFIED = "unsatisfied"  # the owner stays unsatisfied after every reasonable effort
    UNREACHABLE = "unreachable"  # the owner could not be reached for the revisit

    @property
    def label(self) -> str:
        """The zh-CN label shown on pages and in reports."""
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    CloseOutcome.SATISFIED: "满意关闭",
    CloseOutcome.UNSATISFIED: "不满意关闭",
    CloseOutcome.UNREACHABLE: "无法联系关闭",
}


class Actor(BaseModel):
    """The member of staff who caused a fact (经办人)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    staff_id: Annotated[str, Field(min_length=1, max_length=64, description="工号")]
    role: Role


class AccountabilityRecord(BaseModel):
    """One person held to account when a plan was carried out (责任追究)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    person: Annotated[str, Field(min_length=1, max_length=50, description="责任人")]
    measure: Annotated[
        str, Field(min_length=1, max_length=200, description="处罚措施, e.g. 扣罚绩效")
    ]
    reason: Text


class _LifecycleEvent(EventData):
    """Lifecycle bodies trim the whitespace around their texts, as intake's do."""

    model_config = ConfigDict(str_strip_whitespace=True)


@event
class ComplaintAcknowledged(_LifecycleEvent):
    """The first person reached took ownership of the complaint (首问责任)."""

    event_type: ClassVar[str] = "ComplaintAcknowledged"
    schema_version: ClassVar[int] = 1

    actor: Annotated[Actor, Field(description="The first responder, who now owns the complaint")]


@event
class ComplaintJudgedV1(_LifecycleEvent):
    """Validity and service category were judged (判断投诉是否成立, 投诉内容分类)."""

    # Version 1 exactly as published (title and description are part of its schema): kept so
    # that the old events in the log are read forever, upcast to the newest version.
    model_config = ConfigDict(title="ComplaintJudged")

    event_type: ClassVar[str] = "ComplaintJudged"
    schema_version: ClassVar[int] = 1

    actor: Actor
    validity: Validity
    category: Annotated[
        ServiceCategory | None,
        Field(description="投诉内容分类; null only for an invalid complaint"),
    ] = None
    note: Note = ""


@event
class ComplaintJudged(_LifecycleEvent):
    """Validity, service category and priority were judged (判断投诉是否成立, 投诉内容分类,
    轻重缓急).

    Version 2 adds ``priority``: set at judgment, by the person or by the policy's defaults
    (per category; major complaints).
    """

    event_type: ClassVar[str] = "ComplaintJudged"
    schema_version: ClassVar[int] = 2

    actor: Actor
    validity: Validity
    category: Annotated[
        ServiceCategory | None,
        Field(description="投诉内容分类; null only for an invalid complaint"),
    ] = None
    priority: Annotated[
        Priority, Field(description="轻重缓急: urgent, normal or low (normal unless judged)")
    ] = Priority.NORMAL
    note: Note = ""


@upcaster("ComplaintJudged", 1)
def _judged_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 knew no priority: every complaint judged then was handled as a normal one."""
    return {**data, "priority": Priority.NORMAL.value}


@event
class ComplaintRejudged(_LifecycleEvent):
    """Validity and category were judged again (复核), after investigation or by the quality
    department; the earlier judgment stays in the history, and the report counts the latest."""

    event_type: ClassVar[str] = "ComplaintRejudged"
    schema_version: ClassVar[int] = 1

    actor: Actor
    validity: Validity
    category: Annotated[
        ServiceCategory | None,
        Field(description="投诉内容分类; null only for an invalid complaint"),
    ] = None
    previous_validity: Annotated[Validity, Field(description="The judgment this one corrects")]
    previous_category: ServiceCategory | None = None
    reason: Annotated[Text, Field(description="复核理由")]


@event
class DepartmentProposed(_LifecycleEvent):
    """The routing rules suggested a responsible department (责任部门建议); staff confirm it."""

    event_type: ClassVar[str] = "DepartmentProposed"
    schema_version: ClassVar[int] = 1

    department: Department
    reason: Annotated[Text, Field(description="The rule that matched, e.g. office override")]


@event
class DepartmentAssignedV1(_LifecycleEvent):
    """A responsible department was given the complaint with a deadline (确定责任部门, 限期解决)."""

    # Version 1 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="DepartmentAssigned")

    event_type: ClassVar[str] = "DepartmentAssigned"
    schema_version: ClassVar[int] = 1

    actor: Actor
    department: Department
    deadline: Annotated[AwareDatetime, Field(description="限期解决: when it must be solved")]
    reason: Annotated[
        Text, Field(description="'routing rule' when the proposal was taken, else 'manual'")
    ]
    note: Note = ""


@event
class DepartmentAssigned(_LifecycleEvent):
    """A responsible department was given the complaint with a deadline (确定责任部门, 限期解决).

    Version 2 adds ``helper_department``: a second department that assists (协办); the
    responsible department still answers for the complaint.
    """

    event_type: ClassVar[str] = "DepartmentAssigned"
    schema_version: ClassVar[int] = 2

    actor: Actor
    department: Department
    deadline: Annotated[AwareDatetime, Field(description="限期解决: when it must be solved")]
    reason: Annotated[
        Text, Field(description="'routing rule' when the proposal was taken, else 'manual'")
    ]
    note: Note = ""
    helper_department: Annotated[
        Department | None, Field(description="协办部门: assists the responsible one (or null)")
    ] = None


@upcaster("DepartmentAssigned", 1)
def _assigned_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 knew no helper department (协办): one department handled each complaint."""
    return {**data, "helper_department": None}


@event
class CauseAnalysed(_LifecycleEvent):
    """The department found the cause and who is responsible (分析投诉原因)."""

    event_type: ClassVar[str] = "CauseAnalysed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    cause: Annotated[Text, Field(description="投诉原因")]
    responsible_party: Annotated[
        str, Field(min_length=1, max_length=200, description="责任方: person, team or contractor")
    ]


@event
class ResolutionProposed(_LifecycleEvent):
    """A resolution plan was proposed (提出处理方案); it awaits the supervisor's decision."""

    event_type: ClassVar[str] = "ResolutionProposed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    plan: Annotated[Text, Field(description="处理方案")]


@event
class PlanApproved(_LifecycleEvent):
    """The supervisor approved a plan (主管领导批示: 同意)."""

    event_type: ClassVar[str] = "PlanApproved"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    comment: Annotated[str, Field(max_length=2000, description="批示 (may be empty)")] = ""


@event
class PlanRejected(_LifecycleEvent):
    """The supervisor rejected a plan (主管领导批示: 不同意); another must be proposed."""

    event_type: ClassVar[str] = "PlanRejected"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    reason: Text


@event
class PlanImplemented(_LifecycleEvent):
    """An approved plan was carried out and the owner notified (实施处理方案)."""

    event_type: ClassVar[str] = "PlanImplemented"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    summary: Annotated[Text, Field(description="处理结果")]
    accountability: Annotated[
        tuple[AccountabilityRecord, ...],
        Field(description="处罚/扣罚绩效 of those responsible (may be empty)"),
    ] = ()


@event
class OwnerRepliedV1(_LifecycleEvent):
    """The owner was answered (答复业主)."""

    # Version 1 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="OwnerReplied")

    event_type: ClassVar[str] = "OwnerReplied"
    schema_version: ClassVar[int] = 1

    actor: Actor
    message: Annotated[Text, Field(description="答复内容")]
    final: Annotated[
        bool,
        Field(description="True: the answer itself (答复结果); false: a progress update"),
    ] = False


@event
class OwnerReplied(_LifecycleEvent):
    """The owner was answered (答复业主).

    Version 2 adds ``fulfils_commitment``: a time commitment (时间承诺) is kept by the reply
    that says it answers it, not by any reply.
    """

    event_type: ClassVar[str] = "OwnerReplied"
    schema_version: ClassVar[int] = 2

    actor: Actor
    message: Annotated[Text, Field(description="答复内容")]
    final: Annotated[
        bool,
        Field(description="True: the answer itself (答复结果); false: a progress update"),
    ] = False
    fulfils_commitment: Annotated[
        bool,
        Field(description="True: this is the answer promised by the open time commitment"),
    ] = False


@upcaster("OwnerReplied", 1)
def _replied_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Under v1 any reply kept an open time commitment; upcast so, old clocks stay the same
    on every rebuild (a reply without an open commitment fulfils nothing either way)."""
    return {**data, "fulfils_commitment": True}


@event
class TimeCommitted(_LifecycleEvent):
    """The owner was promised an answer by a given time (时间承诺)."""

    event_type: ClassVar[str] = "TimeCommitted"
    schema_version: ClassVar[int] = 1

    actor: Actor
    promised_at: Annotated[AwareDatetime, Field(description="When the owner will be answered")]
    message: Annotated[Text, Field(description="What the owner was told")]


@event
class RevisitRecorded(_LifecycleEvent):
    """The owner was visited or called back after the resolution (回访)."""

    event_type: ClassVar[str] = "RevisitRecorded"
    schema_version: ClassVar[int] = 1

    actor: Actor
    visit_no: Annotated[int, Field(ge=1, description="1 for the first revisit, then 2, ...")]
    satisfied: Annotated[bool, Field(description="Whether the owner said they are satisfied")]
    remarks: Note = ""


@event
class ComplaintClosedV1(_LifecycleEvent):
    """The complaint was closed and archived (关闭/存档)."""

    # Version 1 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="ComplaintClosed")

    event_type: ClassVar[str] = "ComplaintClosed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    note: Note = ""


@event
class ComplaintClosedV2(_LifecycleEvent):
    """The complaint was closed and archived (关闭/存档).

    Version 2 adds the ``outcome``: closed the procedure's way (satisfied), or without the
    owner's satisfaction (unsatisfied, with the ``reason``), or because the owner could not be
    reached for the revisit (unreachable). The report counts them apart.
    """

    # Version 2 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="ComplaintClosed")

    event_type: ClassVar[str] = "ComplaintClosed"
    schema_version: ClassVar[int] = 2

    actor: Actor
    outcome: Annotated[CloseOutcome, Field(description="satisfied, unsatisfied or unreachable")] = (
        CloseOutcome.SATISFIED
    )
    reason: Annotated[
        str,
        Field(max_length=2000, description="Why it closed without satisfaction (may be empty)"),
    ] = ""
    note: Note = ""


@upcaster("ComplaintClosed", 1)
def _closed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 closed only the procedure's way: after a satisfied revisit, or an invalid complaint
    once answered."""
    return {**data, "outcome": CloseOutcome.SATISFIED.value, "reason": ""}


@event
class ComplaintClosed(_LifecycleEvent):
    """The complaint was closed and archived (关闭/存档).

    Version 2 added the ``outcome`` (satisfied, unsatisfied with the ``reason``, or
    unreachable); version 3 adds the ``summary``: the closing evaluation (总结评价) that the
    monthly report's case write-ups quote.
    """

    event_type: ClassVar[str] = "ComplaintClosed"
    schema_version: ClassVar[int] = 3

    actor: Actor
    outcome: Annotated[CloseOutcome, Field(description="satisfied, unsatisfied or unreachable")] = (
        CloseOutcome.SATISFIED
    )
    reason: Annotated[
        str,
        Field(max_length=2000, description="Why it closed without satisfaction (may be empty)"),
    ] = ""
    note: Note = ""
    summary: Annotated[
        str, Field(max_length=2000, description="总结评价: the closing evaluation (may be empty)")
    ] = ""


@upcaster("ComplaintClosed", 2)
def _closed_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 recorded no closing evaluation (总结评价)."""
    return {**data, "summary": ""}


@event
class OwnerNotReached(_LifecycleEvent):
    """A revisit was attempted but the owner could not be reached (回访未联系上)."""

    event_type: ClassVar[str] = "OwnerNotReached"
    schema_version: ClassVar[int] = 1

    actor: Actor
    attempt_no: Annotated[
        int, Field(ge=1, description="1 for the first failed attempt of this round, then 2, ...")
    ]
    remarks: Note = ""


@event
class ComplaintResolvedOnTheSpot(_LifecycleEvent):
    """The first responder solved the complaint at first contact and answered the owner at
    once (当场解决, 能解决的应马上答复): no department, plan or approval."""

    event_type: ClassVar[str] = "ComplaintResolvedOnTheSpot"
    schema_version: ClassVar[int] = 1

    actor: Actor
    summary: Annotated[Text, Field(description="What was done and answered (处理结果)")]
    revisit: Annotated[
        bool, Field(description="Whether a revisit (回访) follows, per the policy at the time")
    ]


@event
class ComplaintSuspended(_LifecycleEvent):
    """Handling was suspended (暂缓) while waiting for the owner, the developer, the government
    or someone else; the clocks the SLA policy names pause until it resumes."""

    event_type: ClassVar[str] = "ComplaintSuspended"
    schema_version: ClassVar[int] = 1

    actor: Actor
    suspension_no: Annotated[int, Field(ge=1, description="1 for the first suspension, then 2")]
    awaiting: Awaiting
    reason: Annotated[Text, Field(description="暂缓原因")]
    until: Annotated[
        AwareDatetime | None,
        Field(description="When it resumes by itself (null: only when someone resumes it)"),
    ] = None


@event
class ComplaintResumed(_LifecycleEvent):
    """Handling resumed after a suspension (恢复处理); the paused clocks count again with the
    time they had left."""

    event_type: ClassVar[str] = "ComplaintResumed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    suspension_no: Annotated[int, Field(ge=1, description="The suspension this ends")]
    scheduled: Annotated[
        bool, Field(description="True: resumed by itself at the suspension's `until`")
    ] = False
    note: Note = ""


# Fixed forever: changing it would give a republished scheduled resume a new id.
RESUME_NAMESPACE = uuid.UUID("6c1d2e8a-4f3b-5a97-b2c4-91e0d7f5a3b8")

SCHEDULER = Actor(staff_id="sla-scheduler", role=Role.SYSTEM)
"""Who resumes a suspension by itself at its ``until``."""


def scheduled_resume_id(complaint_id: UUID, suspension_no: int, until: datetime) -> UUID:
    """The id of the resume that ends suspension ``suspension_no`` at ``until`` by itself.

    Derived from exactly those, so the SLA service publishing it again (a restart, a second
    copy, a rebuild) republishes the same id and consumers drop the duplicate.
    """
    if until.tzinfo is None or until.utcoffset() is None:
        raise ValueError("until must be timezone-aware")
    instant = until.astimezone(UTC).isoformat()
    return uuid.uuid5(RESUME_NAMESPACE, f"resume:{complaint_id}:{suspension_no}:{instant}")


@event
class ComplaintReopened(_LifecycleEvent):
    """The owner was not satisfied at the revisit, so handling starts again (重新处理)."""

    event_type: ClassVar[str] = "ComplaintReopened"
    schema_version: ClassVar[int] = 1

    actor: Actor
    reason: Text


@event
class PreventiveMeasureRecorded(_LifecycleEvent):
    """The department recorded a measure against recurrence (预防措施)."""

    event_type: ClassVar[str] = "PreventiveMeasureRecorded"
    schema_version: ClassVar[int] = 1

    actor: Actor
    measure: Annotated[Text, Field(description="预防措施")]


@event
class MajorComplaintFlaggedV1(_LifecycleEvent):
    """The complaint was found to be major (重大投诉); the project manager takes it over."""

    # Version 1 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="MajorComplaintFlagged")

    event_type: ClassVar[str] = "MajorComplaintFlagged"
    schema_version: ClassVar[int] = 1

    rule: _PublishedV1.MajorRule
    reason: Annotated[Text, Field(description="What matched, in words, e.g. the earlier dates")]


@event
class MajorComplaintFlagged(_LifecycleEvent):
    """The complaint was found to be major (重大投诉); the project manager takes it over.

    Version 2 adds the ``actor``: the person who flagged it (``rule`` manual), or null when a
    rule of the policy did. Whether a complaint is major at an instant is said by the latest
    of ``MajorComplaintFlagged`` and ``MajorComplaintUnflagged`` before it (by ``occurred_at``,
    then log order).
    """

    event_type: ClassVar[str] = "MajorComplaintFlagged"
    schema_version: ClassVar[int] = 2

    rule: MajorRule
    reason: Annotated[Text, Field(description="What matched, in words, e.g. the earlier dates")]
    actor: Annotated[
        Actor | None, Field(description="Who flagged it (null: a rule of the policy did)")
    ] = None


@upcaster("MajorComplaintFlagged", 1)
def _flagged_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 was only ever emitted by the rules, never by a person."""
    return {**data, "actor": None}


@event
class MajorComplaintUnflagged(_LifecycleEvent):
    """The complaint no longer counts as major (撤销重大投诉): a person withdrew the flag, or
    the system did when a supervision-line complaint was judged invalid (unless a person had
    flagged it)."""

    event_type: ClassVar[str] = "MajorComplaintUnflagged"
    schema_version: ClassVar[int] = 1

    actor: Actor
    reason: Annotated[Text, Field(description="撤销理由")]


@event
class ComplaintEscalated(_LifecycleEvent):
    """An agreed time passed without the step done, so the complaint went up a level (升级)."""

    event_type: ClassVar[str] = "ComplaintEscalated"
    schema_version: ClassVar[int] = 1

    level: Annotated[EscalationLevel, Field(description="The level that now answers for it")]
    reason: Text
    timer: Annotated[
        str,
        Field(min_length=1, max_length=64, description="The missed timer, e.g. first_response"),
    ]
    deadline: Annotated[AwareDatetime, Field(description="The missed deadline of that timer")]


@event
class ComplaintWithdrawn(_LifecycleEvent):
    """The owner withdrew the complaint (撤诉); this also ends it, no closing follows."""

    event_type: ClassVar[str] = "ComplaintWithdrawn"
    schema_version: ClassVar[int] = 1

    actor: Actor
    reason: Text


@event
class ComplaintMerged(_LifecycleEvent):
    """The complaint duplicated another and was merged into it (合并重复投诉); this one ends."""

    event_type: ClassVar[str] = "ComplaintMerged"
    schema_version: ClassVar[int] = 1

    actor: Actor
    into_complaint_id: Annotated[UUID, Field(description="The complaint that carries on")]
    reason: Note = ""


@event
class ComplaintTransferred(_LifecycleEvent):
    """The complaint was re-assigned to another department before the plan was carried out
    (转派); the new department answers for it from now on."""

    event_type: ClassVar[str] = "ComplaintTransferred"
    schema_version: ClassVar[int] = 1

    actor: Actor
    from_department: Department
    to_department: Department
    reason: Annotated[Text, Field(description="转派理由")]
    deadline: Annotated[
        AwareDatetime | None,
        Field(description="New 限期解决 (null: the deadline of the assignment still holds)"),
    ] = None
    helper_department: Annotated[
        Department | None, Field(description="协办部门 of the new assignment (or null)")
    ] = None


@event
class ComplaintSentBack(_LifecycleEvent):
    """The department sent the complaint back to the customer-service head (退单), e.g. it is
    not theirs; it waits for assignment again."""

    event_type: ClassVar[str] = "ComplaintSentBack"
    schema_version: ClassVar[int] = 1

    actor: Actor
    department: Annotated[Department, Field(description="The department that sends it back")]
    reason: Annotated[Text, Field(description="退单理由")]


@event
class OfficeTransferRequested(_LifecycleEvent):
    """A project manager of the complaint's office asked to hand it over to another office
    (跨项目转办); it moves when a project manager of that office accepts."""

    event_type: ClassVar[str] = "OfficeTransferRequested"
    schema_version: ClassVar[int] = 1

    actor: Actor
    to_office: Annotated[str, Field(min_length=1, max_length=50, description="接收项目")]
    reason: Text


@event
class ComplaintOfficeTransferred(_LifecycleEvent):
    """The complaint moved to another office (跨项目转办): from its ``occurred_at`` it counts
    for ``to_office`` in every office-scoped check and report."""

    event_type: ClassVar[str] = "ComplaintOfficeTransferred"
    schema_version: ClassVar[int] = 1

    actor: Actor
    from_office: Annotated[str, Field(min_length=1, max_length=50, description="原项目")]
    to_office: Annotated[str, Field(min_length=1, max_length=50, description="接收项目")]
    reason: Text

"""The words the lifecycle events share: roles, levels, rules, outcomes, who acted, the
base of every lifecycle body."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventData

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


class PublishedV1:
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


class LifecycleEvent(EventData):
    """Lifecycle bodies trim the whitespace around their texts, as intake's do."""

    model_config = ConfigDict(str_strip_whitespace=True)

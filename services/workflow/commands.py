"""What staff ask the workflow to do, one command per step they take.

A command is a request, not a fact: ``domain.decide`` turns it into lifecycle events or refuses
it. Each carries the ``actor`` asking, and only what that person chooses; the numbers the
complaint already knows (the next plan id, the next visit number) are filled in by ``decide``.
``name`` is the command's word in URLs and logs.
"""

from __future__ import annotations

from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from contracts.enums import Priority, ServiceCategory, Validity
from contracts.lifecycle import (
    AccountabilityRecord,
    Actor,
    Awaiting,
    CloseOutcome,
    Department,
    Note,
    PlanId,
    Text,
)


class _Command(BaseModel):
    """Base of every command: immutable, no unknown field, and who asks."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: ClassVar[str]

    actor: Actor


class Acknowledge(_Command):
    """Take ownership as the first person reached (首问责任)."""

    name: ClassVar[str] = "acknowledge"


class Classify(_Command):
    """Judge validity and service category (判断投诉是否成立, 投诉内容分类)."""

    name: ClassVar[str] = "classify"

    validity: Validity
    category: ServiceCategory | None = None
    priority: Annotated[
        Priority | None,
        Field(description="轻重缓急; left out: the policy's default for the category"),
    ] = None
    note: Note = ""


class Resolve(_Command):
    """Solve at first contact and answer at once (当场解决): judgment and reply in one step."""

    name: ClassVar[str] = "resolve"

    validity: Validity
    category: ServiceCategory | None = None
    priority: Annotated[
        Priority | None,
        Field(description="轻重缓急; left out: the policy's default for the category"),
    ] = None
    summary: Text
    note: Note = ""


class Rejudge(_Command):
    """Judge validity and category again (复核), with the reason."""

    name: ClassVar[str] = "rejudge"

    validity: Validity
    category: ServiceCategory | None = None
    reason: Text


class Suspend(_Command):
    """Suspend handling while waiting for someone (暂缓); the clocks pause."""

    name: ClassVar[str] = "suspend"

    reason: Text
    awaiting: Awaiting
    until: Annotated[
        AwareDatetime | None,
        Field(description="Resume by itself at this time (left out: only when resumed)"),
    ] = None


class Resume(_Command):
    """Resume handling after a suspension (恢复处理); the clocks count on."""

    name: ClassVar[str] = "resume"

    note: Note = ""


class AssignDepartment(_Command):
    """Give the complaint to a responsible department with a deadline (确定责任部门, 限期解决)."""

    name: ClassVar[str] = "assign"

    department: Department
    deadline: AwareDatetime
    note: Note = ""
    helper_department: Annotated[
        Department | None, Field(description="协办部门: a department that assists (optional)")
    ] = None

    @field_validator("helper_department")
    @classmethod
    def _helper_is_another_department(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _another_department(value, info.data.get("department"))


class TransferDepartment(_Command):
    """Re-assign the complaint to another department before the plan is carried out (转派)."""

    name: ClassVar[str] = "transfer"

    to_department: Department
    reason: Annotated[Text, Field(description="转派理由")]
    deadline: Annotated[
        AwareDatetime | None,
        Field(description="New 限期解决 (left out: the assignment's deadline still holds)"),
    ] = None
    helper_department: Annotated[
        Department | None, Field(description="协办部门 of the new assignment (optional)")
    ] = None

    @field_validator("helper_department")
    @classmethod
    def _helper_is_another_department(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _another_department(value, info.data.get("to_department"))


def _another_department(helper: str | None, responsible: str | None) -> str | None:
    if helper is not None and helper == responsible:
        raise ValueError("the helping department (协办) is the responsible one itself")
    return helper


class SendBack(_Command):
    """The department sends the complaint back to the customer-service head (退单); it waits
    for assignment again."""

    name: ClassVar[str] = "send-back"

    reason: Annotated[Text, Field(description="退单理由")]


OfficeName = Annotated[str, Field(min_length=1, max_length=50, description="管理处/项目")]


class TransferOffice(_Command):
    """Hand the complaint over to another office (跨项目转办): at once by the company, else
    asked by the complaint's project manager and accepted by one of ``to_office``."""

    name: ClassVar[str] = "transfer-office"

    to_office: OfficeName
    reason: Text


class AcceptOfficeTransfer(_Command):
    """A project manager of the office asked to take the complaint accepts it (接收转办)."""

    name: ClassVar[str] = "transfer-office/accept"


class FlagMajor(_Command):
    """Judge the complaint major (人工认定重大投诉), with the reason."""

    name: ClassVar[str] = "flag-major"

    reason: Text


class UnflagMajor(_Command):
    """Judge the complaint not major after all (撤销重大投诉), with the reason."""

    name: ClassVar[str] = "unflag-major"

    reason: Text


class AnalyseCause(_Command):
    """Record the cause and who is responsible (分析投诉原因)."""

    name: ClassVar[str] = "analyse"

    cause: Text
    responsible_party: Annotated[str, Field(min_length=1, max_length=200)]


class ProposePlan(_Command):
    """Propose a resolution plan (提出处理方案)."""

    name: ClassVar[str] = "propose"

    plan: Text


class ApprovePlan(_Command):
    """Approve the pending plan (主管领导批示: 同意); names it, so a stale page cannot approve
    a plan that was replaced meanwhile."""

    name: ClassVar[str] = "approve"

    plan_id: PlanId
    comment: Annotated[str, Field(max_length=2000)] = ""


class RejectPlan(_Command):
    """Reject the pending plan (主管领导批示: 不同意)."""

    name: ClassVar[str] = "reject"

    plan_id: PlanId
    reason: Text


class ImplementPlan(_Command):
    """Record that the approved plan was carried out (实施处理方案), with accountability."""

    name: ClassVar[str] = "implement"

    plan_id: PlanId
    summary: Text
    accountability: tuple[AccountabilityRecord, ...] = ()


class ReplyToOwner(_Command):
    """Answer the owner (答复): the answer itself (``final``) or a progress update."""

    name: ClassVar[str] = "reply"

    message: Text
    final: bool = False
    fulfils_commitment: Annotated[
        bool, Field(description="True: this is the answer promised by the open time commitment")
    ] = False


class CommitTime(_Command):
    """Promise the owner an answer by a given time (时间承诺)."""

    name: ClassVar[str] = "commit"

    promised_at: AwareDatetime
    message: Text


class RecordRevisit(_Command):
    """Record a revisit and whether the owner is satisfied (回访), or an attempt that did not
    reach the owner (``reached: false``)."""

    name: ClassVar[str] = "revisit"

    reached: Annotated[bool, Field(description="False: the owner could not be reached")] = True
    satisfied: Annotated[
        bool | None,
        Field(
            description="Whether the owner is satisfied; only when reached",
            validate_default=True,
        ),
    ] = None
    remarks: Note = ""

    @field_validator("satisfied")
    @classmethod
    def _satisfied_only_when_reached(cls, value: bool | None, info: ValidationInfo) -> bool | None:
        reached = info.data.get("reached", True)
        if reached and value is None:
            raise ValueError("say whether the owner is satisfied (回访满意与否)")
        if not reached and value is not None:
            raise ValueError("an owner who was not reached said nothing: leave it out")
        return value


class Close(_Command):
    """Close and archive the complaint (关闭/存档): satisfied, unsatisfied or unreachable."""

    name: ClassVar[str] = "close"

    outcome: CloseOutcome = CloseOutcome.SATISFIED
    reason: Annotated[
        str,
        Field(
            max_length=2000,
            description="Why, when closing unsatisfied (required then)",
            validate_default=True,
        ),
    ] = ""
    note: Note = ""
    summary: Annotated[
        str, Field(max_length=2000, description="总结评价: the closing evaluation (optional)")
    ] = ""

    @field_validator("reason")
    @classmethod
    def _unsatisfied_needs_a_reason(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("outcome") is CloseOutcome.UNSATISFIED and not value:
            raise ValueError("closing without the owner's satisfaction needs the reason")
        return value


class Reopen(_Command):
    """Start handling again after an unsatisfied revisit (重新处理)."""

    name: ClassVar[str] = "reopen"

    reason: Text


class RecordPreventiveMeasure(_Command):
    """Record a measure against recurrence (预防措施)."""

    name: ClassVar[str] = "prevent"

    measure: Text


class Withdraw(_Command):
    """The owner withdraws the complaint (撤诉)."""

    name: ClassVar[str] = "withdraw"

    reason: Text


class Merge(_Command):
    """Merge this duplicate into another complaint (合并重复投诉)."""

    name: ClassVar[str] = "merge"

    into_complaint_id: UUID
    reason: Note = ""


Command = (
    Acknowledge
    | Classify
    | Resolve
    | Rejudge
    | Suspend
    | Resume
    | AssignDepartment
    | TransferDepartment
    | SendBack
    | TransferOffice
    | AcceptOfficeTransfer
    | FlagMajor
    | UnflagMajor
    | AnalyseCause
    | ProposePlan
    | ApprovePlan
    | RejectPlan
    | ImplementPlan
    | ReplyToOwner
    | CommitTime
    | RecordRevisit
    | Close
    | Reopen
    | RecordPreventiveMeasure
    | Withdraw
    | Merge
)

COMMANDS: dict[str, type[Command]] = {
    cls.name: cls
    for cls in (
        Acknowledge,
        Classify,
        Resolve,
        Rejudge,
        Suspend,
        Resume,
        AssignDepartment,
        TransferDepartment,
        SendBack,
        TransferOffice,
        AcceptOfficeTransfer,
        FlagMajor,
        UnflagMajor,
        AnalyseCause,
        ProposePlan,
        ApprovePlan,
        RejectPlan,
        ImplementPlan,
        ReplyToOwner,
        CommitTime,
        RecordRevisit,
        Close,
        Reopen,
        RecordPreventiveMeasure,
        Withdraw,
        Merge,
    )
}
"""Every command class by its ``name``, for an API that takes ``/commands/{name}``."""

"""Handling a complaint, from its first responder to the reply to the owner (steps 2-9)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, ConfigDict, Field

from contracts.enums import Priority, ServiceCategory, Validity
from contracts.envelope import event, upcaster
from contracts.lifecycle.vocabulary import (
    AccountabilityRecord,
    Actor,
    Department,
    LifecycleEvent,
    Note,
    PlanId,
    Text,
)


@event
class ComplaintAcknowledged(LifecycleEvent):
    """The first person reached took ownership of the complaint (首问责任)."""

    event_type: ClassVar[str] = "ComplaintAcknowledged"
    schema_version: ClassVar[int] = 1

    actor: Annotated[Actor, Field(description="The first responder, who now owns the complaint")]


@event
class ComplaintJudgedV1(LifecycleEvent):
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
class ComplaintJudged(LifecycleEvent):
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
class ComplaintRejudged(LifecycleEvent):
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
class DepartmentProposed(LifecycleEvent):
    """The routing rules suggested a responsible department (责任部门建议); staff confirm it."""

    event_type: ClassVar[str] = "DepartmentProposed"
    schema_version: ClassVar[int] = 1

    department: Department
    reason: Annotated[Text, Field(description="The rule that matched, e.g. office override")]


@event
class DepartmentAssignedV1(LifecycleEvent):
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
class DepartmentAssigned(LifecycleEvent):
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
class CauseAnalysed(LifecycleEvent):
    """The department found the cause and who is responsible (分析投诉原因)."""

    event_type: ClassVar[str] = "CauseAnalysed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    cause: Annotated[Text, Field(description="投诉原因")]
    responsible_party: Annotated[
        str, Field(min_length=1, max_length=200, description="责任方: person, team or contractor")
    ]


@event
class ResolutionProposed(LifecycleEvent):
    """A resolution plan was proposed (提出处理方案); it awaits the supervisor's decision."""

    event_type: ClassVar[str] = "ResolutionProposed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    plan: Annotated[Text, Field(description="处理方案")]


@event
class PlanApproved(LifecycleEvent):
    """The supervisor approved a plan (主管领导批示: 同意)."""

    event_type: ClassVar[str] = "PlanApproved"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    comment: Annotated[str, Field(max_length=2000, description="批示 (may be empty)")] = ""


@event
class PlanRejected(LifecycleEvent):
    """The supervisor rejected a plan (主管领导批示: 不同意); another must be proposed."""

    event_type: ClassVar[str] = "PlanRejected"
    schema_version: ClassVar[int] = 1

    actor: Actor
    plan_id: PlanId
    reason: Text


@event
class PlanImplemented(LifecycleEvent):
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
class OwnerRepliedV1(LifecycleEvent):
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
class OwnerReplied(LifecycleEvent):
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
class TimeCommitted(LifecycleEvent):
    """The owner was promised an answer by a given time (时间承诺)."""

    event_type: ClassVar[str] = "TimeCommitted"
    schema_version: ClassVar[int] = 1

    actor: Actor
    promised_at: Annotated[AwareDatetime, Field(description="When the owner will be answered")]
    message: Annotated[Text, Field(description="What the owner was told")]

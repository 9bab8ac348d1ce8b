"""Who answers for a complaint: major complaints, escalation, transfers, merges, withdrawal."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from contracts.envelope import event, upcaster
from contracts.lifecycle.vocabulary import (
    Actor,
    Department,
    EscalationLevel,
    LifecycleEvent,
    MajorRule,
    Note,
    PublishedV1,
    Text,
)


@event
class MajorComplaintFlaggedV1(LifecycleEvent):
    """The complaint was found to be major (重大投诉); the project manager takes it over."""

    # Version 1 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="MajorComplaintFlagged")

    event_type: ClassVar[str] = "MajorComplaintFlagged"
    schema_version: ClassVar[int] = 1

    rule: PublishedV1.MajorRule
    reason: Annotated[Text, Field(description="What matched, in words, e.g. the earlier dates")]


@event
class MajorComplaintFlagged(LifecycleEvent):
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
class MajorComplaintUnflagged(LifecycleEvent):
    """The complaint no longer counts as major (撤销重大投诉): a person withdrew the flag, or
    the system did when a supervision-line complaint was judged invalid (unless a person had
    flagged it)."""

    event_type: ClassVar[str] = "MajorComplaintUnflagged"
    schema_version: ClassVar[int] = 1

    actor: Actor
    reason: Annotated[Text, Field(description="撤销理由")]


@event
class ComplaintEscalated(LifecycleEvent):
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
class ComplaintWithdrawn(LifecycleEvent):
    """The owner withdrew the complaint (撤诉); this also ends it, no closing follows."""

    event_type: ClassVar[str] = "ComplaintWithdrawn"
    schema_version: ClassVar[int] = 1

    actor: Actor
    reason: Text


@event
class ComplaintMerged(LifecycleEvent):
    """The complaint duplicated another and was merged into it (合并重复投诉); this one ends."""

    event_type: ClassVar[str] = "ComplaintMerged"
    schema_version: ClassVar[int] = 1

    actor: Actor
    into_complaint_id: Annotated[UUID, Field(description="The complaint that carries on")]
    reason: Note = ""


@event
class ComplaintTransferred(LifecycleEvent):
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
class ComplaintSentBack(LifecycleEvent):
    """The department sent the complaint back to the customer-service head (退单), e.g. it is
    not theirs; it waits for assignment again."""

    event_type: ClassVar[str] = "ComplaintSentBack"
    schema_version: ClassVar[int] = 1

    actor: Actor
    department: Annotated[Department, Field(description="The department that sends it back")]
    reason: Annotated[Text, Field(description="退单理由")]


@event
class OfficeTransferRequested(LifecycleEvent):
    """A project manager of the complaint's office asked to hand it over to another office
    (跨项目转办); it moves when a project manager of that office accepts."""

    event_type: ClassVar[str] = "OfficeTransferRequested"
    schema_version: ClassVar[int] = 1

    actor: Actor
    to_office: Annotated[str, Field(min_length=1, max_length=50, description="接收项目")]
    reason: Text


@event
class ComplaintOfficeTransferred(LifecycleEvent):
    """The complaint moved to another office (跨项目转办): from its ``occurred_at`` it counts
    for ``to_office`` in every office-scoped check and report."""

    event_type: ClassVar[str] = "ComplaintOfficeTransferred"
    schema_version: ClassVar[int] = 1

    actor: Actor
    from_office: Annotated[str, Field(min_length=1, max_length=50, description="原项目")]
    to_office: Annotated[str, Field(min_length=1, max_length=50, description="接收项目")]
    reason: Text

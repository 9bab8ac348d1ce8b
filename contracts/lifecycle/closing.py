"""Revisiting and closing a complaint, and what pauses, ends early or reopens it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field

from contracts.envelope import event, upcaster
from contracts.lifecycle.vocabulary import (
    Actor,
    Awaiting,
    CloseOutcome,
    LifecycleEvent,
    Note,
    Role,
    Text,
)


@event
class RevisitRecorded(LifecycleEvent):
    """The owner was visited or called back after the resolution (回访)."""

    event_type: ClassVar[str] = "RevisitRecorded"
    schema_version: ClassVar[int] = 1

    actor: Actor
    visit_no: Annotated[int, Field(ge=1, description="1 for the first revisit, then 2, ...")]
    satisfied: Annotated[bool, Field(description="Whether the owner said they are satisfied")]
    remarks: Note = ""


@event
class ComplaintClosedV1(LifecycleEvent):
    """The complaint was closed and archived (关闭/存档)."""

    # Version 1 exactly as published, read forever and upcast to the newest version.
    model_config = ConfigDict(title="ComplaintClosed")

    event_type: ClassVar[str] = "ComplaintClosed"
    schema_version: ClassVar[int] = 1

    actor: Actor
    note: Note = ""


@event
class ComplaintClosedV2(LifecycleEvent):
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
class ComplaintClosed(LifecycleEvent):
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
class OwnerNotReached(LifecycleEvent):
    """A revisit was attempted but the owner could not be reached (回访未联系上)."""

    event_type: ClassVar[str] = "OwnerNotReached"
    schema_version: ClassVar[int] = 1

    actor: Actor
    attempt_no: Annotated[
        int, Field(ge=1, description="1 for the first failed attempt of this round, then 2, ...")
    ]
    remarks: Note = ""


@event
class ComplaintResolvedOnTheSpot(LifecycleEvent):
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
class ComplaintSuspended(LifecycleEvent):
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
class ComplaintResumed(LifecycleEvent):
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
class ComplaintReopened(LifecycleEvent):
    """The owner was not satisfied at the revisit, so handling starts again (重新处理)."""

    event_type: ClassVar[str] = "ComplaintReopened"
    schema_version: ClassVar[int] = 1

    actor: Actor
    reason: Text


@event
class PreventiveMeasureRecorded(LifecycleEvent):
    """The department recorded a measure against recurrence (预防措施)."""

    event_type: ClassVar[str] = "PreventiveMeasureRecorded"
    schema_version: ClassVar[int] = 1

    actor: Actor
    measure: Annotated[Text, Field(description="预防措施")]

"""The workflow API's answers, typed: what an adapter developer reads in the OpenAPI document.

``api.render`` builds a complaint as staff see it; these models declare that shape (FastAPI
validates every answer against them), so the document shows each field instead of a bare
``object``. The one free-form part is an event's ``data`` in the history: its shape is the
event type's JSON Schema (``contracts/schemas/<type>.v<n>.json``, the AsyncAPI document),
with the complainant shown as the masking rule allows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.lifecycle import (
    Actor,
    Awaiting,
    CloseOutcome,
    EscalationLevel,
    MajorRule,
)
from services.workflow.domain import PlanStatus, Status


class NextDeadline(BaseModel):
    """The complaint's next deadline (the policy's clock for its status)."""

    kind: Annotated[str, Field(description="Which clock: the policy's name for it")]
    at: datetime


class OfficeRequestView(BaseModel):
    """A request to hand the complaint over to another office, not yet accepted."""

    to_office: str
    reason: str
    by: Annotated[str, Field(description="The project manager who asked (工号)")]


class PlanView(BaseModel):
    """One resolution plan, by its sequence number."""

    plan_id: int
    plan: str
    status: PlanStatus


class SuspensionView(BaseModel):
    """The open suspension (暂缓): whom it waits for, until when, where it resumes."""

    suspension_no: int
    awaiting: Awaiting
    reason: str
    until: datetime | None
    since: Annotated[Status, Field(description="The status it resumes to")]


class HistoryEntry(BaseModel):
    """One event of the complaint's history, as it is in the log."""

    event_id: UUID
    type: Annotated[str, Field(description="The event type, e.g. ComplaintReceived")]
    occurred_at: datetime
    recorded_at: datetime
    source: Annotated[str, Field(description="The service or channel that wrote it")]
    data: Annotated[
        dict[str, Any],
        Field(
            description="The event's data: the JSON Schema of its type and version in "
            "contracts/schemas (see docs/asyncapi.json); the complainant masked as the "
            "caller may see it"
        ),
    ]


class ComplaintView(BaseModel):
    """A complaint as staff see it: its state folded from the log, and its history."""

    complaint_id: UUID
    office: str
    unit: str
    channel: Channel
    status: Status
    major: bool
    major_rule: MajorRule | None
    major_by_person: bool
    over_the_head: Annotated[bool, Field(description="越级投诉")]
    escalation_level: EscalationLevel
    version: Annotated[int, Field(description="Events folded; the stream position")]
    next_deadline: NextDeadline | None
    validity: Validity | None
    category: ServiceCategory | None
    priority: Priority | None
    rejudged: Annotated[int, Field(description="Times the judgment was corrected (复核)")]
    proposed_department: str | None
    department: str | None
    helper_department: Annotated[str | None, Field(description="协办部门")]
    deadline: datetime | None
    transfers: Annotated[int, Field(description="转派 to another department")]
    sent_back: Annotated[int, Field(description="退单 by the department")]
    office_request: OfficeRequestView | None
    office_transfers: int
    cause: str | None
    plans: list[PlanView]
    replies: int
    answered: Annotated[bool, Field(description="A final reply (答复结果) was given")]
    reply_due: bool
    commitments: list[datetime]
    open_commitment: datetime | None
    revisits: int
    revisit_attempts: int
    satisfied: bool | None
    resolved_on_the_spot: bool
    revisit_due: bool
    suspension: SuspensionView | None
    outcome: CloseOutcome | None
    summary: Annotated[str, Field(description="总结评价, written at close")]
    reopened: int
    preventive_measures: int
    owner: Annotated[Actor | None, Field(description="首问责任人: whoever acknowledged it")]
    history: list[HistoryEntry]


class DecidedEvent(BaseModel):
    """An event a command decided."""

    event_id: UUID
    type: str


class CommandResult(BaseModel):
    """What a command decided, and the complaint after it."""

    replayed: Annotated[
        bool,
        Field(description="True when this Idempotency-Key was decided before: nothing new"),
    ]
    events: list[DecidedEvent]
    complaint: ComplaintView

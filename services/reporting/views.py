"""The reporting API's JSON answers that are not a report model of their own, typed for the
OpenAPI document (FastAPI validates every answer against them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field


class Complainant(BaseModel):
    """The owner who complained, as the caller may see them (masked outside the office)."""

    name: str
    phone: str


class Steps(BaseModel):
    """When each step of the procedure first happened (``null``: not yet)."""

    received_at: datetime
    acknowledged_at: datetime | None
    judged_at: datetime | None
    assigned_at: datetime | None
    implemented_at: datetime | None
    replied_at: Annotated[datetime | None, Field(description="First reply or time commitment")]
    answered_at: Annotated[datetime | None, Field(description="First final reply (答复结果)")]
    revisited_at: datetime | None
    ended_at: Annotated[datetime | None, Field(description="Closed, withdrawn or merged")]
    major_at: datetime | None


class ServiceLevelAnswers(BaseModel):
    """The report's time limits for this complaint: yes, no, or not known yet (``null``)."""

    first_response_within_30min: bool | None
    replied_within_1_day: bool | None
    replied_within_3_days: bool | None
    overdue: Annotated[bool, Field(description="A timer was past its deadline then")]


class Alert(BaseModel):
    """A timer warned about or overdue at the instant asked."""

    timer: str
    timer_label: Annotated[str, Field(description="The timer's name in the report (zh-CN)")]
    kind: Literal["due_soon", "overdue", "hard_breached"]
    overdue: bool
    hard: bool
    deadline: datetime
    alerted_at: datetime


class ComplaintState(BaseModel):
    """The complaint's state as reporting folded it, as of the instant asked."""

    status: str
    status_label: Annotated[str, Field(description="The status's name in the report (zh-CN)")]
    open: bool
    validity: str | None
    category: str | None
    major: bool
    major_rule: str | None
    priority: str | None
    received_office: str
    rejudged: bool
    resolved_on_the_spot: bool
    suspended: bool
    close_outcome: str | None
    merged_into: UUID | None
    revisit_satisfied: bool | None
    events: Annotated[int, Field(description="Events recorded by then")]
    steps: Steps
    service_levels: ServiceLevelAnswers
    alerts: list[Alert]


class ComplaintFacts(BaseModel):
    """One complaint as reporting knew it at ``as_of``: register facts and its state."""

    complaint_id: UUID
    channel: str
    submission_id: Annotated[str, Field(description="The channel's own id of the submission")]
    office: Annotated[str, Field(description="The office it belonged to then")]
    unit: str
    building: Annotated[str | None, Field(description="楼栋 named in the unit, if any")]
    complainant: Complainant
    subject: str
    description: str
    demand: str
    occurred_at: datetime
    received_at: datetime
    as_of: datetime
    state: ComplaintState


class Stats(BaseModel):
    """Complaints received, in total and per office, channel and day."""

    total: int
    by_office: dict[str, int]
    by_channel: dict[str, int]
    by_day: Annotated[dict[str, int], Field(description="By China date, YYYY-MM-DD")]

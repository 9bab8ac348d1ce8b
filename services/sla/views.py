"""The SLA API's answers, typed: what the OpenAPI document shows an adapter developer.

The handlers build plain dicts (the what-if report's ``as_dict`` is also the CLI's ``--json``);
these models declare their shape, and FastAPI validates every answer against them.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.enums import Priority
from services.sla.notifications import AlertKind
from services.sla.policy import ClockKind, TimerState


class Clock(BaseModel):
    """One timer of a complaint."""

    timer: Annotated[str, Field(description="The policy's timer kind, e.g. accept, resolve")]
    target: Annotated[str, Field(description="What must happen before the deadline (zh-CN)")]
    clock: Annotated[
        ClockKind, Field(description="Counted in the office's working time, or every second")
    ]
    past_calendar_horizon: Annotated[
        bool,
        Field(description="Counted Monday to Friday past the holiday data: not authoritative"),
    ]
    state: TimerState
    started_at: dt.datetime
    warning_at: dt.datetime | None
    deadline: dt.datetime | None
    hard_deadline: dt.datetime | None
    ended_at: dt.datetime | None
    elapsed_s: float
    remaining_s: Annotated[float, Field(description="Negative once the deadline has passed")]


class NextClockDeadline(BaseModel):
    """The soonest deadline of a running clock."""

    timer: str
    at: dt.datetime


class Clocks(BaseModel):
    """A complaint's clocks, now."""

    complaint_id: UUID
    office: Annotated[str, Field(description="The office it belongs to now")]
    as_of: dt.datetime
    next_deadline: NextClockDeadline | None
    clocks: list[Clock]


class CalendarYear(BaseModel):
    """One year of holiday data and where it comes from."""

    year: int
    source: str


class CalendarStatus(BaseModel):
    """Until when the holiday data is authoritative (the horizon), and its sources."""

    as_of: dt.datetime
    today: Annotated[dt.date, Field(description="Today in the calendar's time zone")]
    timezone: str
    horizon: Annotated[dt.date, Field(description="The last day whose holidays are known")]
    days_left: int
    warn_within_days: int
    warning: Annotated[str | None, Field(description="Set once the horizon is near or past")]
    next_year_to_declare: int
    past_horizon: Annotated[str, Field(description="How deadlines are counted past it")]
    years: list[CalendarYear]


class OverdueClock(BaseModel):
    """A running clock past its deadline."""

    complaint_id: UUID
    timer: str
    description: str
    deadline: dt.datetime
    hard_deadline: dt.datetime | None
    priority: Priority | None
    overdue_s: float


class Overdue(BaseModel):
    """Every open complaint past a deadline, by office."""

    as_of: dt.datetime
    total: int
    by_office: dict[str, list[OverdueClock]]


class WasWouldBe(BaseModel):
    """A count as it was (live rules) and as it would have been (the other rules)."""

    model_config = ConfigDict(populate_by_name=True)

    was: int
    would_be: int


class WhatIfRow(BaseModel):
    """One office (``null``: the whole company) and one timer kind."""

    office: str | None
    timer: str
    warnings: WasWouldBe
    breaches: WasWouldBe
    hard_breaches: WasWouldBe
    no_longer_breached: list[UUID]
    newly_breached: list[UUID]


class WhatIfPeriod(BaseModel):
    """The period whose received complaints were replayed."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Annotated[dt.date, Field(alias="from")]
    to: dt.date


class WhatIfRules(BaseModel):
    """Where each side's rules came from."""

    was: str
    would_be: str


class Disagreement(BaseModel):
    """A complaint and timer whose published breaches differ from the fold under live rules."""

    complaint_id: UUID
    office: str
    timer: str
    published: list[str]
    folded_under_live_rules: list[str]


class Published(BaseModel):
    """What the live SLA service published for these complaints, checked against the fold."""

    warnings: int
    breaches: int
    agrees: bool
    disagreements: list[Disagreement]


class WhatIfAnswer(BaseModel):
    """A period's warnings and breaches as they were, and under other rules."""

    period: WhatIfPeriod
    judged_until: dt.datetime
    log_read_at: dt.datetime
    rules: WhatIfRules
    as_was: str
    complaints: int
    events_replayed: int
    dead_letters: int
    rows: list[WhatIfRow]
    totals: list[WhatIfRow]
    published: Published


class NotificationDelivery(BaseModel):
    """One alert sent (or being sent) to one group robot."""

    delivery_id: UUID = Field(description="Sent as X-Complaints-Delivery; the same on a resend")
    alert_kind: AlertKind = Field(description="warning, breach, escalation or major")
    alert_label: str = Field(description="The alert kind in words: 即将超时, 超时, 升级, 重大投诉")
    alert_type: str = Field(description="The event that is the alert, e.g. SlaBreached")
    alert_event_id: UUID
    alert_at: dt.datetime = Field(description="When the alert was decided")
    target: str = Field(description="The robot's name in the notifications file")
    target_kind: str = Field(description="wecom (企业微信) or dingtalk (钉钉)")
    office: str | None = Field(description="The complaint's office when the alert was read")
    title: str = Field(description="The message's title (no personal data)")
    state: str = Field(description="pending, retrying, delivered or dead (gave up; retry by CLI)")
    attempts: int = Field(
        description="Failed or delivered POSTs since the last manual retry (a robot's "
        "throttled answer is not counted)"
    )
    next_attempt_at: dt.datetime | None = Field(description="When it is tried again (retrying)")
    last_error: str | None = Field(description="Why the last attempt failed")
    last_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None


class ComplaintNotifications(BaseModel):
    """``GET /v1/complaints/{id}/notifications``."""

    complaint_id: UUID
    office: str
    deliveries: list[NotificationDelivery] = Field(description="Newest first")

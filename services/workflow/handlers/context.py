"""What the handlers share: the rules the workflow decides by, where decided events go, and
when a step's clock began."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.workflow.domain import (
    MajorPolicy,
    OfficePolicy,
    RoutingRules,
    State,
    clock_stage,
    next_deadline,
)


@dataclass(frozen=True)
class Rules:
    """The data the automatic rules read (routing table, major-complaint policy: the office
    policy's ``major`` section, as the service passes it) and the office policy."""

    routing: RoutingRules
    major: MajorPolicy = field(default_factory=MajorPolicy)
    office: OfficePolicy = field(default_factory=OfficePolicy)


def deadline_since(
    before: State, after: State, since: datetime | None, at: datetime
) -> datetime | None:
    """When the clock of the complaint's step began, after an event at ``at`` took it from
    ``before`` to ``after``: that event's instant when it changed the step, else as it was."""
    return at if clock_stage(after) != clock_stage(before) else since


def deadline_after(
    ctx: Context, state: State, occurred_at: datetime, since: datetime | None
) -> tuple[str, datetime] | None:
    return next_deadline(state, occurred_at, since, ctx.rules.office.clocks)


@dataclass(frozen=True)
class Context:
    """Where appended events come from and go to."""

    consumer: str  # the projection consumer whose processed_events the decided events join
    topic: str
    rules: Rules
    pepper: bytes  # of complainant references (services.runtime.vault), for older receipts

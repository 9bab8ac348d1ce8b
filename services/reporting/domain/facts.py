"""One row per event: the fact an event is to reporting, from a model or straight from the log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson

from contracts import Envelope, EventData, LoggedEvent
from contracts.timezone import CHINA
from services.reporting.domain.places import (
    building_of,
    normalise_place,
    topic_of,
)
from services.reporting.domain.statuses import (
    STATUS_AFTER,
)
from services.reporting.domain.timers import CONDITIONAL, TIMERS, Effect
from services.runtime import vault


@dataclass(frozen=True)
class EventFact:
    """The few fields of one event the reports need (one row of ``reporting.events``)."""

    event_id: UUID
    complaint_id: UUID
    type: str
    occurred_at: datetime
    recorded_at: datetime
    status: str | None = None  # the status the event leads to; None: unchanged
    validity: str | None = None  # ComplaintJudged, ComplaintRejudged
    category: str | None = None  # ComplaintJudged, ComplaintRejudged
    final: bool | None = None  # OwnerReplied: the answer itself (答复结果)
    satisfied: bool | None = None  # RevisitRecorded
    major_rule: str | None = None  # MajorComplaintFlagged
    timer: str | None = None  # SlaWarning / SlaBreached
    deadline: datetime | None = None
    hard: bool | None = None  # SlaBreached: the hard limit was missed
    office: str | None = None  # ComplaintOfficeTransferred: the office it counts for from now
    priority: str | None = None  # ComplaintJudged: 轻重缓急
    outcome: str | None = None  # ComplaintClosed: satisfied, unsatisfied, unreachable
    detail: str | None = None  # JSON: the texts the report's written sections quote (DETAILS)


DETAILS: dict[str, tuple[str, ...]] = {
    "ComplaintRejudged": ("reason",),
    "ComplaintResolvedOnTheSpot": ("summary",),
    "ComplaintSuspended": ("awaiting", "reason", "until"),
    "ComplaintClosed": ("summary", "reason"),
    "PlanImplemented": ("summary", "accountability"),
    "PreventiveMeasureRecorded": ("measure",),
    "MajorComplaintFlagged": ("reason",),
    "MajorComplaintUnflagged": ("reason",),
    "ComplaintOfficeTransferred": ("from_office", "to_office", "reason"),
    "ComplaintWithdrawn": ("reason",),
    "ComplaintMerged": ("into_complaint_id", "reason"),
}
"""The fields of an event's body that the monthly report's written sections quote (the
accountability records, the preventive measures, the case write-ups' summaries, ...), kept as
JSON in the ``detail`` column; events not listed keep none."""


_DETAIL_DEFAULTS: dict[str, Any] = {"accountability": [], "summary": "", "reason": ""}


def _detail(kind: str, body: dict[str, Any]) -> str | None:
    """The ``detail`` of an event: its quoted fields (``DETAILS``) as JSON, keys in that order."""
    fields = DETAILS.get(kind)
    if fields is None:
        return None
    return orjson.dumps({f: body.get(f, _DETAIL_DEFAULTS.get(f)) for f in fields}).decode()


def _facts_of(kind: str, data: dict[str, Any]) -> tuple[Any, ...]:
    """validity, category, final, satisfied, major_rule, timer, deadline, hard, office,
    priority, outcome and detail of an event's body (JSON, as the log holds it)."""
    validity = category = final = satisfied = major_rule = timer = deadline = hard = None
    office = priority = outcome = None
    if kind in ("ComplaintJudged", "ComplaintRejudged"):
        validity, category = data["validity"], data.get("category")
        priority = data.get("priority")
    elif kind == "OwnerReplied":
        final = data.get("final", False)
    elif kind == "RevisitRecorded":
        satisfied = data["satisfied"]
    elif kind == "MajorComplaintFlagged":
        major_rule = data["rule"]
    elif kind == "SlaWarning":
        timer, deadline = data["timer"], _instant(data["deadline"])
    elif kind == "SlaBreached":
        timer, deadline, hard = data["timer"], _instant(data["deadline"]), data["hard"]
    elif kind == "ComplaintOfficeTransferred":
        office = data["to_office"]
    elif kind == "ComplaintClosed":
        outcome = data.get("outcome", "satisfied")
    return (
        validity,
        category,
        final,
        satisfied,
        major_rule,
        timer,
        deadline,
        hard,
        office,
        priority,
        outcome,
        _detail(kind, data),
    )


def event_fact(envelope: Envelope, data: EventData) -> EventFact:
    """The row reporting keeps for one event of the log (from its validated model)."""
    return EventFact(
        envelope.event_id,
        envelope.complaint_id,
        envelope.type,
        envelope.occurred_at,
        envelope.recorded_at,
        STATUS_AFTER.get(envelope.type),
        *_facts_of(envelope.type, data.model_dump(mode="json")),
    )


_EFFECTS_OF: dict[str, tuple[tuple[str, Effect], ...]] = {}


def logged_timer_effects(event: LoggedEvent) -> tuple[tuple[str, Effect], ...]:
    """``timer_effects`` of an event read back from the log (``LoggedEvent``)."""
    kind = event.type
    if kind == "SlaWarning":
        return ((event.data["timer"], Effect.WARNING),)
    if kind == "SlaBreached":
        return ((event.data["timer"], Effect.BREACH),)
    if kind in CONDITIONAL:
        return tuple(
            (timer, effect)
            for timer, rule in TIMERS.items()
            if (effect := rule.effect(kind, event.data)) is not None
        )
    effects = _EFFECTS_OF.get(kind)
    if effects is None:
        effects = _EFFECTS_OF[kind] = tuple(
            (timer, effect)
            for timer, rule in TIMERS.items()
            if (effect := rule.effect(kind, {})) is not None
        )
    return effects


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def logged_fact_row(event: LoggedEvent) -> tuple[Any, ...]:
    """The ``events`` row of an event read back from the log: ``event_fact`` as a tuple in the
    table's column order (event_id, complaint_id, type, occurred_at, recorded_at, status,
    validity, category, final, satisfied, major_rule, timer, deadline, hard, office, priority,
    outcome, detail)."""
    kind = event.type
    return (
        event.event_id,
        event.complaint_id,
        kind,
        event.occurred_at,
        event.recorded_at,
        STATUS_AFTER.get(kind),
        *_facts_of(kind, event.data),
    )


def logged_complaint_row(event: LoggedEvent, pepper: bytes) -> tuple[Any, ...]:
    """The ``complaints`` row of a ``ComplaintReceived`` read back from the log (the personal
    fields as the log has them: ``vault.personal_of_logged``; the place keys of ``place_of``),
    in the table's column order."""
    data = event.data
    day: date = datetime.fromisoformat(data["occurred_at"]).astimezone(CHINA).date()
    unit, subject = data["unit"], data["subject"]
    named = (data.get("address") or {}).get("building")
    personal = vault.personal_of_logged(pepper, data)
    return (
        event.complaint_id,
        data["channel"],
        data["submission_id"],
        data["office"],
        unit,
        personal["ref"],
        orjson.dumps(personal).decode(),
        subject,
        event.occurred_at,
        event.recorded_at,
        day,
        event.event_id,
        normalise_place(unit),
        normalise_place(named) if named else building_of(unit),
        topic_of(subject),
    )

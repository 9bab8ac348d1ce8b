"""What reporting reads out of each event, and the few rules it applies to the facts (pure).

Reporting keeps one append-only row per event (``EventFact``) and answers every question "as of"
an instant from those rows (see ``schema.sql``). This module decides what goes into a row:

* **Status.** An event either moves a complaint to a status of the procedure or leaves it where
  it is (``STATUS_AFTER``, the same moves as the workflow's Decider). The status as of T is the
  status set by the last such event recorded by T.
* **Timers.** The SLA service's timers (``services/sla/policy.yaml``) start and stop on lifecycle
  events (``TIMERS``); its ``SlaWarning`` / ``SlaBreached`` events report on them. Reporting never
  recomputes a calendar: it only remembers which event started, stopped, warned or breached
  which timer (``timer_effects``), so that "overdue" can be read from the log as of any instant.
* **Where.** The building of a complaint (its address's, else ``building_of`` its unit text)
  and the normalised unit and topic keys that the repeat hot spots (星星之火) group by.
* **Service levels.** How the SLA events turn into the report's yes / no / not yet known
  (``service_levels``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from contracts import ComplaintReceived, Envelope, EventData, LoggedEvent
from contracts.sla import SlaBreached, SlaWarning
from contracts.timezone import CHINA
from services.runtime import vault

# ------------------------------------------------------------------------------------------
# statuses
# ------------------------------------------------------------------------------------------

STATUS_AFTER: dict[str, str] = {
    "ComplaintReceived": "received",
    "ComplaintAcknowledged": "acknowledged",
    "ComplaintJudged": "judged",
    "DepartmentAssigned": "assigned",
    "ComplaintTransferred": "assigned",  # 转派: assigned to another department
    "ComplaintSentBack": "judged",  # 退单: waits for assignment again
    "CauseAnalysed": "analysed",
    "ResolutionProposed": "plan_proposed",
    "PlanApproved": "plan_approved",
    "PlanRejected": "analysed",  # back to the cause: the department proposes again
    "PlanImplemented": "implemented",
    "RevisitRecorded": "revisited",
    "ComplaintReopened": "reopened",
    "ComplaintResolvedOnTheSpot": "resolved",
    "ComplaintSuspended": "suspended",  # until a ComplaintResumed (complaint_states folds that)
    "ComplaintClosed": "closed",
    "ComplaintWithdrawn": "withdrawn",
    "ComplaintMerged": "merged",
}
"""The status an event leads to; events not listed leave the status unchanged."""

ENDED_STATUSES = ("closed", "withdrawn", "merged")
"""Statuses in which a complaint is no longer handled (not open, no timer runs)."""

STATUS_LABELS: dict[str, str] = {
    "received": "已登记",
    "acknowledged": "已响应",
    "judged": "已判定",
    "assigned": "已派单",
    "analysed": "已分析原因",
    "plan_proposed": "方案待批",
    "plan_approved": "方案已批",
    "implemented": "已实施",
    "revisited": "已回访",
    "reopened": "重新处理",
    "resolved": "当场解决",
    "suspended": "暂缓",
    "closed": "已关闭",
    "withdrawn": "已撤诉",
    "merged": "已合并",
}
"""The zh-CN word for each status, in the order of the procedure."""


def status_label(status: str) -> str:
    """The zh-CN label of a status (the status itself when unknown)."""
    return STATUS_LABELS.get(status, status)


# ------------------------------------------------------------------------------------------
# timers
# ------------------------------------------------------------------------------------------


class Effect(StrEnum):
    """What an event does to one SLA timer."""

    START = "start"  # the timer (re)starts: an earlier warning or breach no longer applies
    STOP = "stop"  # the step the timer waits for was done
    WARNING = "warning"  # SlaWarning: about to breach (即将超时)
    BREACH = "breach"  # SlaBreached: the deadline passed without the step (超时)


@dataclass(frozen=True)
class TimerRule:
    """The events that start and stop one timer of the SLA policy, and its zh-CN name.

    ``where`` (per event type): the event counts only when its body has these values;
    ``deadline_from``: a start whose body lacks that field keeps the running timer (a
    transfer without a new deadline).
    """

    label: str
    starts_on: frozenset[str]
    stops_on: frozenset[str]
    where: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    deadline_from: str | None = None

    def effect(self, kind: str, body: Mapping[str, Any]) -> Effect | None:
        """What an event of ``kind`` with ``body`` does to this timer, if anything."""
        wanted = self.where.get(kind)
        if wanted is not None and any(body.get(k) != v for k, v in wanted.items()):
            return None
        if kind in self.stops_on:
            return Effect.STOP
        if kind in self.starts_on:
            if self.deadline_from is not None and body.get(self.deadline_from) is None:
                return None
            return Effect.START
        return None


TIMERS: dict[str, TimerRule] = {
    "first_response": TimerRule(
        "首问响应", frozenset({"ComplaintReceived"}), frozenset({"ComplaintAcknowledged"})
    ),
    "reply": TimerRule(
        "答复业主",
        frozenset({"ComplaintReceived", "ComplaintReopened"}),
        frozenset({"OwnerReplied", "TimeCommitted", "ComplaintResolvedOnTheSpot"}),
    ),
    "assignment": TimerRule(
        "确定责任部门",
        frozenset({"ComplaintAcknowledged", "ComplaintSentBack"}),
        frozenset(
            {
                "DepartmentAssigned",
                "ComplaintResolvedOnTheSpot",
                "ComplaintJudged",
                "ComplaintRejudged",
            }
        ),
        where={
            "ComplaintJudged": {"validity": "invalid"},
            "ComplaintRejudged": {"validity": "invalid"},
        },
    ),
    "conclude": TimerRule(
        "无效投诉办结",
        frozenset({"ComplaintJudged", "ComplaintRejudged"}),
        frozenset({"ComplaintClosed", "DepartmentAssigned"}),
        where={
            "ComplaintJudged": {"validity": "invalid"},
            "ComplaintRejudged": {"validity": "invalid"},
        },
    ),
    "department": TimerRule(
        "限期解决",
        frozenset({"DepartmentAssigned", "ComplaintTransferred"}),
        frozenset({"PlanImplemented", "ComplaintSentBack"}),
        deadline_from="deadline",
    ),
    "promise": TimerRule(
        "时间承诺",
        frozenset({"TimeCommitted"}),
        frozenset({"OwnerReplied"}),
        where={"OwnerReplied": {"fulfils_commitment": True}},
        deadline_from="promised_at",
    ),
    "revisit": TimerRule(
        "回访",
        frozenset({"PlanImplemented", "ComplaintResolvedOnTheSpot"}),
        frozenset({"RevisitRecorded"}),
        where={"ComplaintResolvedOnTheSpot": {"revisit": True}},
    ),
    "close": TimerRule(
        "回访后结案",
        frozenset({"RevisitRecorded", "ComplaintResolvedOnTheSpot"}),
        frozenset({"ComplaintClosed", "ComplaintReopened"}),
        where={"ComplaintResolvedOnTheSpot": {"revisit": False}},
    ),
    "rework": TimerRule(
        "重新处理",
        frozenset({"ComplaintReopened"}),
        frozenset({"PlanImplemented", "DepartmentAssigned"}),
    ),
}
"""The timers of ``services/sla/policy.yaml`` (a unit test keeps the two in step).

Closing, withdrawing or merging a complaint ends every timer (the policy's ``cancels_on``);
reporting reads that from the complaint's status instead of a row per timer.
"""


def timer_label(timer: str) -> str:
    """The zh-CN name of a timer (the timer's own name when the policy grew a new one)."""
    rule = TIMERS.get(timer)
    return rule.label if rule is not None else timer


def timer_effects(data: EventData) -> list[tuple[str, Effect]]:
    """``(timer, effect)`` for every timer this event starts, stops, warns about or breaches.

    An event that both stops and starts the same timer stops it (no policy does that today).
    """
    if isinstance(data, SlaWarning):
        return [(data.timer, Effect.WARNING)]
    if isinstance(data, SlaBreached):
        return [(data.timer, Effect.BREACH)]
    body = data.model_dump(mode="json") if data.event_type in _CONDITIONAL else {}
    return [
        (timer, effect)
        for timer, rule in TIMERS.items()
        if (effect := rule.effect(data.event_type, body)) is not None
    ]


# ------------------------------------------------------------------------------------------
# one row per event
# ------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------
# the rows of one event read back from the log (the projection's path: no models built)
# ------------------------------------------------------------------------------------------


_EFFECTS_OF: dict[str, tuple[tuple[str, Effect], ...]] = {}
_CONDITIONAL = frozenset(
    kind
    for rule in TIMERS.values()
    for kind in (
        *rule.where,
        *(rule.starts_on if rule.deadline_from is not None else ()),
    )
)
"""Event types whose effect on a timer depends on their body (not cached by type)."""


def logged_timer_effects(event: LoggedEvent) -> tuple[tuple[str, Effect], ...]:
    """``timer_effects`` of an event read back from the log (``LoggedEvent``)."""
    kind = event.type
    if kind == "SlaWarning":
        return ((event.data["timer"], Effect.WARNING),)
    if kind == "SlaBreached":
        return ((event.data["timer"], Effect.BREACH),)
    if kind in _CONDITIONAL:
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


# ------------------------------------------------------------------------------------------
# where: unit, building, topic (星星之火)
# ------------------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
# The building is everything up to and including the first building word: 栋, 幢, 座 or 号楼
# ("3栋1单元502" → "3栋", "B区12幢301" → "B区12幢", "5号楼2单元" → "5号楼", "A座1203" → "A座").
# A bare 楼 is not one: "12楼" names a floor.
_BUILDING = re.compile(r"^(.{1,20}?(?:号楼|栋|幢|座))")


@lru_cache(maxsize=1 << 16)
def normalise_place(text: str) -> str:
    """A unit or topic as a grouping key: full-width letters and digits made plain (NFKC),
    whitespace removed, Latin letters in upper case (``"３栋 1单元502"`` → ``"3栋1单元502"``)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text)).upper()


@lru_cache(maxsize=1 << 16)
def building_of(unit: str) -> str | None:
    """The building (楼栋) of a unit as the register writes it, or ``None`` when it names none.

    The rule: normalise the unit (``normalise_place``), then take the shortest beginning that
    ends in 栋, 幢, 座 or 号楼 (at most 20 characters before it). Where the contract's own
    parser (``contracts.intake.Address``) finds a building, this finds the same one; it also
    reads units that parser leaves alone, such as "B区12幢301" or full-width digits.
    """
    match = _BUILDING.match(normalise_place(unit))
    return match.group(1) if match else None


@lru_cache(maxsize=1 << 16)
def topic_of(subject: str) -> str:
    """The topic a complaint is grouped under for hot spots: its subject (投诉对象), normalised."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", subject)).strip()


@dataclass(frozen=True)
class Place:
    """Where a received complaint is, as the hot spots group it."""

    unit_key: str
    building: str | None
    topic: str


def place_of(data: ComplaintReceived) -> Place:
    """The unit, building and topic keys of a received complaint.

    The building is the one the complaint's address names (``address.building``, parsed by
    intake from the unit text; old v1 events get it from the upcaster), normalised; when the
    address names none, ``building_of`` reads it from the unit text.
    """
    named = data.address.building
    return Place(
        unit_key=normalise_place(data.unit),
        building=normalise_place(named) if named else building_of(data.unit),
        topic=topic_of(data.subject),
    )


# ------------------------------------------------------------------------------------------
# service levels (derived from the SLA service's events, never from a calendar here)
# ------------------------------------------------------------------------------------------


class ServiceLevelFacts(NamedTuple):
    """What the log says of one complaint's first response and reply, as of some instant.

    Named tuples (these and ``ServiceLevels``): the monthly report makes two per complaint,
    and a frozen dataclass's ``__init__`` was a sixth of a company-wide report's Python time."""

    acknowledged: bool
    first_response_breached: bool
    replied: bool  # OwnerReplied or TimeCommitted
    reply_breached: bool  # SlaBreached(timer="reply", hard=False)
    reply_hard_breached: bool  # SlaBreached(timer="reply", hard=True)


class ServiceLevels(NamedTuple):
    """Yes, no, or not known yet (``None``) for each time limit of the procedure."""

    first_response_within_30min: bool | None
    replied_within_1_day: bool | None
    replied_within_3_days: bool | None


def service_levels(facts: ServiceLevelFacts) -> ServiceLevels:
    """The report's time-limit answers for one complaint.

    * first response within 30 minutes: no if the timer breached; yes if acknowledged without a
      breach; not known while neither.
    * replied within 1 working day: no if the reply timer breached (either limit: missing the
      hard one misses the target too); yes if replied without a breach; else not known.
    * replied within 3 working days: no if the hard limit breached; yes if replied without
      that; else not known.
    """

    def verdict(met: bool, missed: bool) -> bool | None:
        if missed:
            return False
        return True if met else None

    return ServiceLevels(
        first_response_within_30min=verdict(facts.acknowledged, facts.first_response_breached),
        replied_within_1_day=verdict(
            facts.replied, facts.reply_breached or facts.reply_hard_breached
        ),
        replied_within_3_days=verdict(facts.replied, facts.reply_hard_breached),
    )

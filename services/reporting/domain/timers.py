"""Timers: which events start, stop, warn or breach which SLA timer (never a calendar here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts import EventData
from contracts.sla import SlaBreached, SlaWarning


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


CONDITIONAL = frozenset(
    kind
    for rule in TIMERS.values()
    for kind in (
        *rule.where,
        *(rule.starts_on if rule.deadline_from is not None else ()),
    )
)
"""Event types whose effect on a timer depends on their body (not cached by type)."""


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
    body = data.model_dump(mode="json") if data.event_type in CONDITIONAL else {}
    return [
        (timer, effect)
        for timer, rule in TIMERS.items()
        if (effect := rule.effect(data.event_type, body)) is not None
    ]

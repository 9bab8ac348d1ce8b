"""The automatic rules: routing (确定责任部门), major complaints (重大投诉) and escalation
(升级). Each returns events with their reason; the service appends them like any other."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.enums import ServiceCategory, Validity
from contracts.intake import ComplaintReceived
from contracts.lifecycle import (
    Actor,
    ComplaintEscalated,
    Department,
    DepartmentProposed,
    EscalationLevel,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    Role,
)
from services.workflow.domain.state import (
    ESCALATION_CHAIN,
    State,
    _rank,
)
from services.workflow.policy import MajorPolicy, RepeatKey

RULES_ACTOR = Actor(staff_id="workflow-rules", role=Role.SYSTEM)
"""Who unflags a major complaint when the rule that made it major no longer holds."""


# --------------------------------------------------------------------------------------------
# Automatic rule: routing (确定责任部门 suggestion)
# --------------------------------------------------------------------------------------------

DEFAULT_ROUTING_FILE = Path(__file__).parent.parent / "routing.yaml"


class RoutingRules(BaseModel):
    """Which department handles a service category: a company default, and office overrides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: dict[ServiceCategory, Department]
    offices: dict[str, dict[ServiceCategory, Department]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_covers_every_category(self) -> Self:
        # Then every lookup finds a department: no complaint waits for a missing rule.
        missing = [c.value for c in ServiceCategory if c not in self.default]
        if missing:
            raise ValueError(f"the default routing lacks categories: {', '.join(missing)}")
        return self


def parse_routing_rules(text: str) -> RoutingRules:
    """Routing rules from the text of a routing YAML file (see ``routing.yaml``)."""
    return RoutingRules.model_validate(yaml.safe_load(text))


def load_routing_rules(path: Path = DEFAULT_ROUTING_FILE) -> RoutingRules:
    """Read and parse a routing YAML file: the one I/O of this module."""
    return parse_routing_rules(path.read_text(encoding="utf-8"))


def route(category: ServiceCategory, office: str, rules: RoutingRules) -> DepartmentProposed:
    """The department the rules suggest for a category at an office, with the rule that matched.

    A suggestion, not an assignment: the assignment needs a deadline, which a person sets
    (限期解决) when they confirm or change the department.
    """
    override = rules.offices.get(office, {}).get(category)
    if override is not None:
        return DepartmentProposed(
            department=override, reason=f"{office}分派规则：{category.label} → {override}"
        )
    department = rules.default[category]
    return DepartmentProposed(
        department=department, reason=f"公司默认分派：{category.label} → {department}"
    )


# --------------------------------------------------------------------------------------------
# Automatic rule: major complaints (重大投诉)
# --------------------------------------------------------------------------------------------


class PriorComplaint(NamedTuple):
    """An earlier-recorded complaint, as far as the repeat rule needs it."""

    occurred_at: datetime
    owner: str  # the complainant's reference (services.runtime.vault)
    unit: str
    office: str


def detect_major(
    received: ComplaintReceived,
    prior: Iterable[tuple[datetime, str, str, str]],
    policy: MajorPolicy,
    *,
    owner: str,
) -> MajorComplaintFlagged | None:
    """Whether a received complaint is major, and by which rule; ``None`` when it is not.

    ``prior`` holds the complaints recorded before this one, as ``PriorComplaint`` or plain
    ``(occurred_at, owner, unit, office)`` tuples, this complaint itself excluded; ``owner``
    is this complaint's complainant the same way (their reference: the phone is sealed). Rules,
    first match wins: over the head (one of the policy's channels, or so marked by intake);
    the same owner complaining for the ``repeat_count``-th time within ``window``; the
    same unit (office + unit) likewise (each as the policy's ``repeat_by`` says). Times are
    compared, not arrival order: a complaint recorded late still counts where it happened, so
    neither of two close complaints falls through. (The categories that are always major are
    judged with the complaint: ``judge_major``.)
    """
    if received.over_the_head or received.channel in policy.over_the_head_channels:
        return MajorComplaintFlagged(
            rule=MajorRule.OVER_THE_HEAD,
            reason=f"经{received.channel.label}越级投诉，未经管理处",
        )
    earlier = [PriorComplaint(*p) for p in prior]
    at = received.occurred_at
    by_owner = [p.occurred_at for p in earlier if p.owner == owner]
    hits = _closest_run(at, by_owner, policy.window)
    if RepeatKey.OWNER in policy.repeat_by and len(hits) + 1 >= policy.repeat_count:
        who = "同一业主"  # no phone, not even masked: the reason is kept in the log forever
        return MajorComplaintFlagged(
            rule=MajorRule.REPEAT_OWNER, reason=_repeat_reason(who, at, hits, policy)
        )
    by_unit = [
        p.occurred_at
        for p in earlier
        if p.office == received.office and p.unit.strip() == received.unit
    ]
    hits = _closest_run(at, by_unit, policy.window)
    if RepeatKey.UNIT in policy.repeat_by and len(hits) + 1 >= policy.repeat_count:
        where = f"同一房号（{received.office} {received.unit}）"
        return MajorComplaintFlagged(
            rule=MajorRule.REPEAT_UNIT, reason=_repeat_reason(where, at, hits, policy)
        )
    return None


def judge_major(
    state: State, policy: MajorPolicy
) -> MajorComplaintFlagged | MajorComplaintUnflagged | None:
    """What the rules say of a complaint just judged or re-judged (``state``: after it).

    A person's flag or unflag stands: the rules say nothing then. Otherwise: a complaint over
    the head (the policy's channels, or so marked by intake) or of a category the policy makes
    always major is major unless judged invalid; one the repeat rule made major at receipt
    stays major (no judgment changes that it was repeated). Returns the flag when it becomes
    major, the unflag (by ``RULES_ACTOR``) when the rule that made it major no longer holds,
    ``None`` when nothing changes.
    """
    if state.major_by_person or state.validity is None:
        return None
    founded = state.validity is not Validity.INVALID
    over = founded and (state.over_the_head or state.channel in policy.over_the_head_channels)
    by_category = founded and state.category in policy.categories
    if state.major:
        if state.major_rule in (MajorRule.OVER_THE_HEAD, MajorRule.CATEGORY) and not (
            over or by_category
        ):
            return MajorComplaintUnflagged(
                actor=RULES_ACTOR,
                reason=f"判定为{state.validity.label}，不再按规则认定为重大投诉（未经人工认定）",
            )
        return None
    if over:
        channel = state.channel.label if state.channel else "越级渠道"
        return MajorComplaintFlagged(
            rule=MajorRule.OVER_THE_HEAD,
            reason=f"经{channel}越级投诉，判定为{state.validity.label}",
        )
    if by_category:
        assert state.category is not None
        return MajorComplaintFlagged(
            rule=MajorRule.CATEGORY,
            reason=f"{state.category.label}类投诉一律按重大投诉处理（政策）",
        )
    return None


def _closest_run(at: datetime, others: list[datetime], window: timedelta) -> list[datetime]:
    """The largest set of ``others`` that fits with ``at`` into one span of length ``window``
    (of equal ones, the earliest span).

    The spans tried start at each of the others not after ``at``, then at ``at`` itself; each
    holds the others from its start to ``window`` later, found by bisection in the sorted
    list, so a serial complainer's hundreds cost ``k log k``, not ``k²``."""
    near = sorted(t for t in others if abs(t - at) <= window)
    best = (0, 0)
    for start in [*near[: bisect_right(near, at)], at]:
        low, high = bisect_left(near, start), bisect_right(near, start + window)
        if high - low > best[1] - best[0]:
            best = (low, high)
    return near[best[0] : best[1]]


REASON_DATES = 10
"""How many earlier dates a repeat's reason lists: a serial complainer's hundreds would not fit
an event's text, and the latest few say what matters."""


def _repeat_reason(who: str, at: datetime, hits: list[datetime], policy: MajorPolicy) -> str:
    shown = sorted(hits, key=lambda t: abs(t - at))[:REASON_DATES]
    dates = "、".join(f"{t.astimezone(at.tzinfo):%Y-%m-%d %H:%M}" for t in sorted(shown))
    more = f"等{len(hits)}次" if len(hits) > len(shown) else ""
    return f"{who}{_span(policy.window)}内第{len(hits) + 1}次投诉（另见：{dates}{more}）"


def _span(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        return f"{window.days}天"
    return f"{window.total_seconds() / 3600:g}小时"


# --------------------------------------------------------------------------------------------
# Automatic rule: escalation (升级)
# --------------------------------------------------------------------------------------------


def escalate(
    state: State, *, timer: str, deadline: datetime, now: datetime
) -> ComplaintEscalated | None:
    """One level up the chain when ``timer``'s ``deadline`` passed; ``None`` when nothing to do.

    ``None`` when: the complaint is not open; the deadline has not passed yet; this very
    (timer, deadline) was escalated already (the SLA service may report a breach twice, and
    a repeat must not climb two levels); or it already sits with the company, the top of the
    chain — the breach then stays visible to the SLA service, but there is no one to escalate
    to. A major complaint sits with its project manager from the moment it is flagged, so its
    first escalation goes to the company.
    """
    if not state.is_open or now < deadline or (timer, deadline) in state.escalations:
        return None
    current = state.escalation_level
    if current is EscalationLevel.COMPANY:
        return None
    higher = ESCALATION_CHAIN[_rank(current) + 1]
    return ComplaintEscalated(
        level=higher,
        reason=f"{timer} 已于 {deadline:%Y-%m-%d %H:%M %z} 到期未完成：由{current.label}升级至"
        f"{higher.label}",
        timer=timer,
        deadline=deadline,
    )

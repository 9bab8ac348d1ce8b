"""The office's procedure rules that are data, not code (``policy.yaml``), for the Decider.

Pure models; ``load_office_policy`` is the only I/O, kept apart from ``parse_office_policy``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from contracts.enums import Channel, Priority, ServiceCategory, Validity

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yaml")


class _PolicyPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d)\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def _duration(value: Any) -> Any:
    """``30m``, ``24h``, ``7d`` (minutes, hours, days) as a ``timedelta``; a ``timedelta``
    as it is; anything else is refused with the forms it may take."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is no duration: write minutes, hours or days (30m, 24h, 7d)")
    return float(match[1]) * _UNITS[match[2]]


Duration = Annotated[timedelta, BeforeValidator(_duration), Field(gt=timedelta(0))]
"""A positive span of wall-clock time, written ``30m``, ``24h`` or ``7d`` in the YAML."""


class PriorityPolicy(_PolicyPart):
    """The priority (轻重缓急) a judgment gets when the person leaves it out."""

    default: Priority = Priority.NORMAL
    major: Priority | None = Priority.URGENT  # a major complaint (None: as its category)
    categories: dict[ServiceCategory, Priority] = Field(default_factory=dict)

    def default_for(self, category: ServiceCategory | None, major: bool) -> Priority:
        """Major first, then the category's, then the company default."""
        if major and self.major is not None:
            return self.major
        if category is not None and category in self.categories:
            return self.categories[category]
        return self.default


class RevisitPolicy(_PolicyPart):
    """When a revisit (回访) is owed, and when the owner counts as unreachable."""

    after_on_the_spot: frozenset[Validity] = frozenset({Validity.VALID})
    unreachable_after_attempts: int = Field(default=3, ge=1)


class RejudgePolicy(_PolicyPart):
    """How long after closing the company may still re-judge (复核): until the monthly report
    that counts the complaint (the month it was received in, in ``zone``) is final, i.e. the
    end of that month plus ``report_grace_days``."""

    zone: str = "Asia/Shanghai"
    report_grace_days: int = Field(default=10, ge=0, le=60)

    @model_validator(mode="after")
    def _known_zone(self) -> Self:
        try:
            ZoneInfo(self.zone)
        except (KeyError, ValueError):
            raise ValueError(f"zone: unknown time zone {self.zone!r}") from None
        return self

    def last_instant(self, received_at: datetime) -> datetime:
        """The last instant a closed complaint received at ``received_at`` may be re-judged."""
        local = received_at.astimezone(ZoneInfo(self.zone))
        first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        next_month = (first + timedelta(days=32)).replace(day=1)
        return next_month + timedelta(days=self.report_grace_days)


class RepeatKey(StrEnum):
    """What makes two complaints repeats of each other for the major rule."""

    OWNER = "owner"  # the same owner (phone)
    UNIT = "unit"  # the same unit of the same office


class MajorPolicy(_PolicyPart):
    """When a complaint is major (重大投诉) by rule, not by a person's judgment.

    Over the head: received through one of ``over_the_head_channels`` (or marked over the
    head by intake) and not judged invalid. Repeats: the ``repeat_count``-th complaint of the
    same owner or unit (``repeat_by``) within ``window``. Categories: judged (valid or
    assist) in one of ``categories``.
    """

    over_the_head_channels: frozenset[Channel] = frozenset({Channel.SUPERVISION})
    repeat_count: int = Field(default=2, ge=2)
    window: Duration = timedelta(days=7)
    repeat_by: frozenset[RepeatKey] = frozenset(RepeatKey)
    categories: frozenset[ServiceCategory] = frozenset()


class ClockPolicy(_PolicyPart):
    """How long each step of the procedure may take when no person set a deadline for it, so
    that every open complaint has a next deadline (``domain.next_deadline``). Wall-clock
    spans; the SLA service keeps the exact, working-day clocks."""

    first_response: Duration = timedelta(minutes=30)  # received → acknowledged (首问责任)
    judgment: Duration = timedelta(hours=24)  # acknowledged → judged
    assignment: Duration = timedelta(hours=24)  # judged or sent back → a department has it
    reply: Duration = timedelta(hours=24)  # implemented, or judged invalid → the owner answered
    revisit: Duration = timedelta(days=3)  # answered, or resolved on the spot → revisited
    close: Duration = timedelta(hours=24)  # satisfied revisit, or invalid answered → closed
    reopen: Duration = timedelta(hours=24)  # unsatisfied revisit → reopened or closed
    review: Duration = timedelta(days=7)  # suspended with no `until` → looked at again


class OfficePolicy(_PolicyPart):
    """The office's procedure rules that are data (``policy.yaml``)."""

    priority: PriorityPolicy = PriorityPolicy()
    revisit: RevisitPolicy = RevisitPolicy()
    rejudge: RejudgePolicy = RejudgePolicy()
    major: MajorPolicy = MajorPolicy()
    clocks: ClockPolicy = ClockPolicy()


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names each wrong key."""


def parse_office_policy(text: str) -> OfficePolicy:
    """An office policy from the text of a policy YAML file (see ``policy.yaml``).

    Raises ``PolicyError`` naming every wrong key (``major.repeat_count: ...``).
    """
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"workflow policy: not YAML: {exc}") from None
    try:
        return OfficePolicy.model_validate(doc)
    except ValidationError as exc:
        wrong = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyError(f"workflow policy: {wrong}") from None


def load_office_policy(path: Path = DEFAULT_POLICY_FILE) -> OfficePolicy:
    """Read and parse the office policy file (I/O, kept apart from the rules)."""
    return parse_office_policy(path.read_text(encoding="utf-8"))

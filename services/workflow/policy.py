"""The office's procedure rules that are data, not code (``policy.yaml``), for the Decider.

Pure models; ``load_office_policy`` is the only I/O, kept apart from ``parse_office_policy``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.enums import Priority, ServiceCategory, Validity

DEFAULT_POLICY_FILE = Path(__file__).with_name("policy.yaml")


class _PolicyPart(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class OfficePolicy(_PolicyPart):
    """The office's procedure rules that are data (``policy.yaml``)."""

    priority: PriorityPolicy = PriorityPolicy()
    revisit: RevisitPolicy = RevisitPolicy()
    rejudge: RejudgePolicy = RejudgePolicy()


def parse_office_policy(text: str) -> OfficePolicy:
    """An office policy from the text of a policy YAML file (see ``policy.yaml``)."""
    return OfficePolicy.model_validate(yaml.safe_load(text) or {})


def load_office_policy(path: Path = DEFAULT_POLICY_FILE) -> OfficePolicy:
    """Read and parse the office policy file (I/O, kept apart from the rules)."""
    return parse_office_policy(path.read_text(encoding="utf-8"))

"""A what-if's input: a period and the other rules; each fault names its field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import yaml
from pydantic import ValidationError

from contracts.timezone import CHINA
from services.sla.calendar import BusinessCalendar, parse_calendar
from services.sla.policy import SlaPolicy, parse_policy

MAX_YAML_CHARS = 200_000
EARLIEST_YEAR, LATEST_YEAR = 2000, 9998


class WhatIfInputError(ValueError):
    """Bad input to a what-if: ``field`` names the option or body field, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class Period:
    """Days in China time, both inclusive."""

    first: date
    last: date

    @classmethod
    def checked(cls, first: date, last: date, *, names: tuple[str, str] = ("from", "to")) -> Period:
        """The period, or ``WhatIfInputError`` naming the bad end."""
        for name, day in zip(names, (first, last), strict=True):
            if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                raise WhatIfInputError(name, f"must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}")
        if first > last:
            raise WhatIfInputError(
                names[0], f"the period starts ({first}) after it ends ({names[1]} {last})"
            )
        return cls(first, last)

    @property
    def start(self) -> datetime:
        """Midnight at the start of the first day, China time."""
        return datetime.combine(self.first, time.min, CHINA)

    @property
    def end(self) -> datetime:
        """Midnight after the last day, China time (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, CHINA)

    def holds(self, at: datetime) -> bool:
        """Whether ``at`` falls in the period."""
        return self.start <= at < self.end


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return "; ".join(problems)
    return str(exc)


def _mapping(text: str, *, field: str, what: str) -> None:
    """Refuse text that is too long, not YAML, or not a mapping at the top."""
    if len(text) > MAX_YAML_CHARS:
        raise WhatIfInputError(field, f"longer than {MAX_YAML_CHARS} characters")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WhatIfInputError(field, "not valid YAML: " + " ".join(str(exc).split())) from None
    if not isinstance(doc, dict):
        raise WhatIfInputError(field, f"not {what} (a YAML mapping is expected)")


def parse_other_policy(text: str, *, field: str = "policy_yaml") -> SlaPolicy:
    """An SLA policy from YAML text, or ``WhatIfInputError`` naming ``field`` and the reason."""
    _mapping(text, field=field, what="an SLA policy")
    try:
        return parse_policy(text)
    except ValueError as exc:  # pydantic's ValidationError is one
        raise WhatIfInputError(field, _reason(exc)) from None


def parse_other_calendar(text: str, *, field: str = "calendar_yaml") -> BusinessCalendar:
    """A business calendar from YAML text, or ``WhatIfInputError`` naming ``field``."""
    _mapping(text, field=field, what="a business calendar")
    try:
        return parse_calendar(text)
    except ValueError as exc:
        raise WhatIfInputError(field, _reason(exc)) from None

"""Spans of time as the SLA policy writes them ("30 minutes", "2 working_days")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import contracts  # noqa: F401  (importing registers every event the policy may name)

DEFAULT_POLICY_FILE = Path(__file__).parent.parent / "policy.yaml"

ClockKind = Literal["wall", "working"]
SpanUnit = Literal["minutes", "hours", "working_hours", "working_days"]

_SPAN = re.compile(
    r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>minutes?|hours?|working hours?|working days?)\s*$"
)
_SPAN_LABELS = {
    "minutes": "分钟",
    "hours": "小时",
    "working_hours": "个工作小时",
    "working_days": "个工作日",
}


# --------------------------------------------------------------------------------------------
# Spans of time, as the policy writes them
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A length of time as the policy states it: ``30 minutes``, ``1 working day``."""

    amount: float
    unit: SpanUnit

    @classmethod
    def parse(cls, text: str) -> Span:
        """``"3 working days"`` → ``Span(3, "working_days")``; minutes, hours, working hours too."""
        match = _SPAN.match(text)
        if match is None:
            raise ValueError(
                f"not a span of time: {text!r} (write e.g. '30 minutes', '4 hours', "
                "'4 working hours', '1 working day')"
            )
        amount = float(match["amount"])
        if amount <= 0:
            raise ValueError(f"a span of time must be positive: {text!r}")
        unit = match["unit"].replace(" ", "_")
        return cls(amount, _unit(unit if unit.endswith("s") else unit + "s"))

    @property
    def clock(self) -> ClockKind:
        """``working`` for working hours and days, ``wall`` for minutes and hours."""
        return "working" if self.unit.startswith("working") else "wall"

    def duration(self, working_day: timedelta) -> timedelta:
        """The span as time on its clock, given the office's working-day length."""
        if self.unit == "minutes":
            return timedelta(minutes=self.amount)
        if self.unit in ("hours", "working_hours"):
            return timedelta(hours=self.amount)
        return working_day * self.amount

    @property
    def label(self) -> str:
        """The span in zh-CN words: ``1个工作日``, ``30分钟``."""
        amount = f"{self.amount:g}"
        return f"{amount}{_SPAN_LABELS[self.unit]}"


def _unit(text: str) -> SpanUnit:
    for unit in ("minutes", "hours", "working_hours", "working_days"):
        if text == unit:
            return unit
    raise ValueError(f"unknown unit {text!r}")  # pragma: no cover  (the regex allows no other)

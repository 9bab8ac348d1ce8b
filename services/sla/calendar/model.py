"""The calendar's values: an office's schedule, an override, a declared year, the horizon."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

UTC = dt.UTC
MINUTES_PER_DAY = 24 * 60
# An office with no opening for this long is a configuration mistake (every day closed by
# overrides, say); searching further would loop for ever.
MAX_CLOSED_DAYS = 400

Opening = tuple[int, int]
"""One daily opening as minutes since midnight, start inclusive, end exclusive: (510, 720)."""

WorkingDays = Literal["statutory", "every_day"]

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class OfficeSchedule:
    """An office's ordinary week: which days it works and its openings on each of them."""

    working_days: WorkingDays
    openings: tuple[Opening, ...]

    @property
    def day_length(self) -> dt.timedelta:
        """The working time of one ordinary working day (8 hours for 08:30-12:00, 13:30-18:00)."""
        return dt.timedelta(minutes=sum(end - start for start, end in self.openings))


@dataclass(frozen=True)
class Override:
    """A company-declared change of openings on some days, for some offices or all of them.

    ``openings`` is ``None`` for "the office's normal hours" and ``()`` for closed.
    """

    days: frozenset[dt.date]
    offices: frozenset[str] | None
    openings: tuple[Opening, ...] | None
    reason: str

    def applies(self, office: str, day: dt.date) -> bool:
        """Whether this override changes ``office``'s openings on ``day``."""
        return day in self.days and (self.offices is None or office in self.offices)


@dataclass(frozen=True)
class DeclaredYear:
    """A whole year of statutory days declared in ``calendar.yaml`` (a State Council notice)."""

    year: int
    source: str
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]

    def is_workday(self, day: dt.date) -> bool:
        """Holidays are off, make-up days work, every other day works Monday to Friday."""
        if day in self.holidays:
            return False
        return day in self.workdays or day.weekday() < 5


@dataclass(frozen=True)
class YearSource:
    """Where a year's statutory days come from."""

    year: int
    source: str


@dataclass(frozen=True)
class Horizon:
    """Until which day the holiday data is authoritative, and the source of each year.

    ``years`` lists every covered year, also a declared one beyond a gap (which does not
    extend the horizon: the year in the gap is unknown).
    """

    last_day: dt.date
    years: tuple[YearSource, ...]

    def days_left(self, today: dt.date) -> int:
        """Days from ``today`` to the last covered day: 0 on it, negative past it."""
        return (self.last_day - today).days

    @property
    def next_year(self) -> int:
        """The first year nobody covers: the one to declare next."""
        return self.last_day.year + 1

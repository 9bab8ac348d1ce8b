"""The statutory calendar (chinese_calendar): what the installed package knows, and until
when the holiday data (the package's and the years declared in the file) is authoritative."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache

import chinese_calendar

from services.sla.calendar.model import (
    DeclaredYear,
    Horizon,
    YearSource,
)


def _library_knows(day: dt.date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def library_version() -> str:
    """The installed ``chinese_calendar``'s version, e.g. ``1.11.0``."""
    return str(getattr(chinese_calendar, "__version__", "unknown"))


@cache
def library_coverage() -> tuple[dt.date, dt.date]:
    """First and last day the installed ``chinese_calendar`` has holiday data for.

    The package covers whole years and says so only by raising ``NotImplementedError``
    outside them, so the range is found by asking it (once; cached).
    """
    years = [year for year in range(1990, 2101) if _library_knows(dt.date(year, 7, 1))]
    return dt.date(min(years), 1, 1), dt.date(max(years), 12, 31)


def horizon_of(declared: Mapping[int, DeclaredYear]) -> Horizon:
    first, last = library_coverage()
    package = f"chinese-calendar {library_version()}"
    sources = {year: package for year in range(first.year, last.year + 1)}
    for year, item in declared.items():
        replaces = " (replaces chinese-calendar)" if year in sources else ""
        sources[year] = f"calendar.yaml: {item.source}{replaces}"
    end = last.year
    while end + 1 in sources:
        end += 1
    years = tuple(YearSource(year, sources[year]) for year in sorted(sources))
    return Horizon(dt.date(end, 12, 31), years)

"""Periods and instants: a month, the previous period (环比), the same period a year before
(同比), "as of" read in China time. Pure."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from contracts.timezone import CHINA


def instant(as_of: datetime | None, now: datetime) -> datetime:
    """The instant a question is asked about: ``as_of`` (naive → China time), else ``now``."""
    if as_of is None:
        return now
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        return as_of.replace(tzinfo=CHINA)
    return as_of


def month_of(at: datetime) -> tuple[date, date]:
    """The first and last day of the month (China time) that ``at`` falls in."""
    day = at.astimezone(CHINA).date()
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def day_start(day: date) -> datetime:
    """Midnight at the start of ``day`` in China Standard Time."""
    return datetime.combine(day, time.min, CHINA)


def _shift_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _whole_months(period_from: date, period_to: date) -> int | None:
    """How many whole months the period is (None: not whole months)."""
    if period_from.day != 1 or (period_to + timedelta(days=1)).day != 1:
        return None
    return (period_to.year - period_from.year) * 12 + period_to.month - period_from.month + 1


def _shifted(period_from: date, period_to: date, months: int) -> tuple[date, date]:
    start = _shift_months(period_from, months)
    if _whole_months(period_from, period_to) is None:
        return start, _shift_months(period_to, months)
    end = _shift_months(period_to.replace(day=1), months)
    return start, end.replace(day=calendar.monthrange(end.year, end.month)[1])


def previous_period(period_from: date, period_to: date) -> tuple[date, date]:
    """The period before (环比): the months before a period of whole months, else as many days
    ending the day before ``period_from``."""
    months = _whole_months(period_from, period_to)
    if months is not None:
        return _shifted(period_from, period_to, -months)
    length = period_to - period_from
    end = period_from - timedelta(days=1)
    return end - length, end


def previous_year(period_from: date, period_to: date) -> tuple[date, date]:
    """The same period a year before (同比); 29 February becomes the 28th."""
    return _shifted(period_from, period_to, -12)

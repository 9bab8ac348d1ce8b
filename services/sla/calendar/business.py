"""The business calendar: working days and hours of every office, and working-time
arithmetic over them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

import chinese_calendar

from services.sla.calendar.model import (
    MAX_CLOSED_DAYS,
    MINUTES_PER_DAY,
    UTC,
    DeclaredYear,
    OfficeSchedule,
    Opening,
    Override,
)
from services.sla.calendar.statutory import horizon_of, library_coverage


class BusinessCalendar:
    """Working days and hours of every office, and working-time arithmetic over them.

    Offices not named in the calendar file work the default schedule, so a new office is
    never without a calendar.
    """

    def __init__(
        self,
        *,
        zone: ZoneInfo,
        default: OfficeSchedule,
        offices: Mapping[str, OfficeSchedule],
        statutory_holidays: frozenset[dt.date] = frozenset(),
        statutory_workdays: frozenset[dt.date] = frozenset(),
        declared_years: Mapping[int, DeclaredYear] | None = None,
        overrides: Sequence[Override] = (),
    ) -> None:
        """A calendar from its parts; ``parse_calendar`` builds one from YAML text."""
        self.zone = zone
        self.default = default
        self._offices = dict(offices)
        self._holidays = statutory_holidays
        self._workdays = statutory_workdays
        self._years = dict(declared_years or {})
        self._overrides = tuple(overrides)
        self.horizon = horizon_of(self._years)
        # The calendar never changes once built: each day is looked up once. (chinese_calendar
        # scans its whole table on every call; working-time arithmetic asks day after day.)
        self._statutory: dict[dt.date, bool] = {}
        self._openings: dict[tuple[str, dt.date], tuple[Opening, ...]] = {}
        self._instants: dict[tuple[dt.date, int], dt.datetime] = {}

    # -- days ---------------------------------------------------------------------------------

    def schedule(self, office: str) -> OfficeSchedule:
        """The ordinary schedule of ``office`` (the default one for an office not listed)."""
        return self._offices.get(office, self.default)

    def is_statutory_known(self, day: dt.date) -> bool:
        """Whether ``day``'s statutory status is known (declared, or in the package's years).

        False means ``is_statutory_workday`` guesses from the weekday (see the module notes).
        """
        first, last = library_coverage()
        return (
            first <= day <= last
            or day.year in self._years
            or day in self._holidays
            or day in self._workdays
        )

    def is_statutory_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day in mainland China (make-up days included).

        Declared single days first, then a declared year, then ``chinese_calendar``, then
        Monday to Friday for years nobody covers (past the horizon).
        """
        known = self._statutory.get(day)
        if known is None:
            known = self._statutory[day] = self._statutory_workday(day)
        return known

    def _statutory_workday(self, day: dt.date) -> bool:
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        declared = self._years.get(day.year)
        if declared is not None:
            return declared.is_workday(day)
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            return day.weekday() < 5

    def override(self, office: str, day: dt.date) -> Override | None:
        """The company override in force for ``office`` on ``day``: the last one that applies."""
        for item in reversed(self._overrides):
            if item.applies(office, day):
                return item
        return None

    def openings(self, office: str, day: dt.date) -> tuple[Opening, ...]:
        """``office``'s openings on ``day`` (minutes since midnight), overrides applied."""
        known = self._openings.get((office, day))
        if known is None:
            known = self._openings[office, day] = self._openings_on(office, day)
        return known

    def _openings_on(self, office: str, day: dt.date) -> tuple[Opening, ...]:
        schedule = self.schedule(office)
        item = self.override(office, day)
        if item is not None:
            return schedule.openings if item.openings is None else item.openings
        if schedule.working_days == "every_day" or self.is_statutory_workday(day):
            return schedule.openings
        return ()

    def is_working_day(self, office: str, day: dt.date) -> bool:
        """Whether ``office`` is open at some time on ``day``."""
        return bool(self.openings(office, day))

    def working_day_length(self, office: str) -> dt.timedelta:
        """The working time of one of ``office``'s ordinary working days: one "working day"."""
        return self.schedule(office).day_length

    # -- instants -----------------------------------------------------------------------------

    def next_opening(self, office: str, at: dt.datetime) -> dt.datetime:
        """The first instant at or after ``at`` at which ``office`` is open (``at`` if open)."""
        at_utc = _utc(at)
        start, _ = next(self._intervals_from(office, at_utc))
        return self._local(max(start, at_utc))

    def is_open(self, office: str, at: dt.datetime) -> bool:
        """Whether ``office`` is open at the instant ``at``."""
        return self.next_opening(office, at) == at

    def add_working_time(
        self, office: str, start: dt.datetime, duration: dt.timedelta
    ) -> dt.datetime:
        """The instant at which ``duration`` of ``office``'s working time has passed from ``start``.

        A start outside the openings counts from the next opening; an end exactly at a closing
        time is that closing time. A zero duration gives ``start`` itself.
        """
        if duration < dt.timedelta(0):
            raise ValueError("a duration of working time cannot be negative")
        if duration == dt.timedelta(0):
            return self._local(_utc(start))
        left, start_utc = duration, _utc(start)
        for begin, end in self._intervals_from(office, start_utc):
            begin = max(begin, start_utc)
            if left <= end - begin:
                return self._local(begin + left)
            left -= end - begin
        raise AssertionError("unreachable: _intervals_from never ends")  # pragma: no cover

    def add_working_days(self, office: str, start: dt.datetime, n: int) -> dt.datetime:
        """The end of ``n`` working days counted from ``start`` (the rule in the module notes).

        ``n`` times ``working_day_length(office)`` of working time: received Monday 10:00, one
        working day ends Tuesday 10:00; received on a holiday, it ends at the closing time of
        the first working day.
        """
        if n < 0:
            raise ValueError("a number of working days cannot be negative")
        return self.add_working_time(office, start, n * self.working_day_length(office))

    def working_time_between(self, office: str, a: dt.datetime, b: dt.datetime) -> dt.timedelta:
        """``office``'s working time from ``a`` to ``b`` (``b`` not before ``a``)."""
        a_utc, b_utc = _utc(a), _utc(b)
        if b_utc < a_utc:
            raise ValueError("working time is counted forward: b is before a")
        total = dt.timedelta(0)
        for begin, end in self._intervals_from(office, a_utc):
            if begin >= b_utc:
                break
            total += min(end, b_utc) - max(begin, a_utc)
        return total

    # -- internals ----------------------------------------------------------------------------

    def _local(self, at: dt.datetime) -> dt.datetime:
        return at.astimezone(self.zone)

    def _intervals_from(
        self, office: str, at: dt.datetime
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        # UTC throughout: subtracting two aware datetimes of the same zone ignores offset
        # changes, UTC has none. Openings never cross midnight, so starting at the local day
        # of ``at`` misses nothing.
        at_utc = _utc(at)
        day = self._local(at_utc).date()
        closed_days = 0
        while True:
            openings = self.openings(office, day)
            closed_days = 0 if openings else closed_days + 1
            if closed_days > MAX_CLOSED_DAYS:
                raise ValueError(
                    f"{office} has no opening in the {MAX_CLOSED_DAYS} days before {day}"
                )
            for start, end in openings:
                begin, finish = self._instant(day, start), self._instant(day, end)
                if finish > at_utc:
                    yield begin, finish
            day += dt.timedelta(days=1)

    def _instant(self, day: dt.date, minutes: int) -> dt.datetime:
        known = self._instants.get((day, minutes))
        if known is None:
            known = self._instants[day, minutes] = self._instant_of(day, minutes)
        return known

    def _instant_of(self, day: dt.date, minutes: int) -> dt.datetime:
        # 24:00 is the next day's 00:00.
        day += dt.timedelta(days=minutes // MINUTES_PER_DAY)
        clock = dt.time(minutes % MINUTES_PER_DAY // 60, minutes % 60)
        return dt.datetime.combine(day, clock, tzinfo=self.zone).astimezone(UTC)


def _utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a naive datetime has no place on the calendar: {at!r}")
    return at.astimezone(UTC)

"""The business calendar: when each management office (管理处) is working, and time counted in it.

Pure: values in, values out; the only I/O is ``load_calendar`` reading its YAML file, kept
apart from ``parse_calendar``. Every instant taken or returned is timezone-aware; results are in
the calendar's zone (``Asia/Shanghai`` for every office today).

Which days are working days
    An office follows either the **statutory** calendar of mainland China or works
    **every day** (a 24-hour customer service line, say). The statutory calendar comes from the
    ``chinese_calendar`` package: the public holidays the State Council announces and the
    make-up working days (调休) that fall on a Saturday or Sunday. ``statutory`` in
    ``calendar.yaml`` amends it; a date listed there wins over the package.

Whole years declared in ``calendar.yaml`` (``statutory.years``)
    When the State Council publishes the coming year's notice (国务院办公厅关于节假日安排的通知)
    before the package knows it, the year is declared whole: its holidays and its make-up
    working days (调休, always a Saturday or Sunday), with the notice as its ``source``. In a
    declared year every other Monday to Friday is a working day, every other Saturday and
    Sunday is not, exactly as the package counts its own years; a declared year replaces the
    package's data for that year. Checked when loading: a year declared twice, a day outside
    its year, a make-up day that is not a weekend, a day both holiday and make-up day, a year
    without holidays are refused with the entry named.

The horizon (``BusinessCalendar.horizon``)
    The holiday data is authoritative up to the last day of the last year in the unbroken run
    of covered years (the package's, ``library_coverage()``: 2004-2026 for chinese-calendar
    1.11.0, then the declared years that follow it without a gap). ``GET /v1/sla/calendar``
    shows it with the source of each year, a metric exports the days left, and the service
    logs a warning every day once it is 60 days away or less (``services.sla.horizon``).

Past the horizon: Monday to Friday, said out loud
    Past the horizon nobody knows the holidays yet, so a statutory office counts **Monday to
    Friday** as its working days, plus the single days ``statutory.holidays``/``workdays``
    declare. Raising instead would stop every SLA clock on 1 January of the first uncovered
    year, and a clock that stops lets complaints fall through; the weekday guess is wrong only
    on holidays and make-up days. It is never silent: the daily warning, the metric, the
    calendar endpoint, and each clock whose deadline lies past the horizon is marked so in the
    SLA API (``is_statutory_known`` tells whether a day is covered).

Hours and overrides
    Each office has its daily openings, e.g. 08:30-12:00 and 13:30-18:00 (a lunch break), or
    00:00-24:00. A company override replaces the openings of named offices (or of every
    office) on given dates: ``closed`` (a typhoon day), ``normal`` (an extra working day with
    the office's usual hours) or its own hours (a half day). When several overrides name the
    same office and date, the last one in the file wins.

How time is counted (the rule every SLA timer relies on)
    *Working time* is time inside an office's openings; closed hours, lunch breaks, weekends
    and holidays do not count. Openings are half-open: an office opening 08:30-18:00 is open
    at 08:30 and closed at 18:00.

    ``add_working_time(office, start, d)`` is the instant at which ``d`` of working time has
    passed since ``start``. A start outside the openings starts at the next opening; a
    result that lands exactly on the end of an opening is that closing time (18:00 on the
    day, not the next morning's 08:30).

    **N working days** (``add_working_days``) are N times the office's working-day length
    (the sum of its daily openings: 8 hours for 08:30-12:00 + 13:30-18:00, 24 hours for a
    24-hour line) of working time. On ordinary days this is the *same clock time on the N-th
    following working day* (received Monday 10:00 → due Tuesday 10:00; received Friday 17:00
    → due Monday 17:00). A complaint received while the office is closed (at night, on a
    holiday, at lunch) starts at the next opening, so received on a holiday or after closing
    it is due at the *closing time of the N-th working day* (received Saturday 11:00 → due
    Monday 18:00), which is also how the Civil Code counts periods in days (art. 201-203:
    the day of receipt is not counted, the last day ends when business stops). Received at
    lunch (12:30) it starts at 13:30 and is due at 12:00 of the next working day, the end of
    the opening in which the time runs out. Shortened days (a half-day override) count for
    what they are: the owner is not charged for hours the office was closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from yaml.nodes import MappingNode

DEFAULT_CALENDAR_FILE = Path(__file__).with_name("calendar.yaml")

UTC = dt.UTC
MINUTES_PER_DAY = 24 * 60
# An office with no opening for this long is a configuration mistake (every day closed by
# overrides, say); searching further would loop for ever.
MAX_CLOSED_DAYS = 400

Opening = tuple[int, int]
"""One daily opening as minutes since midnight, start inclusive, end exclusive: (510, 720)."""

WorkingDays = Literal["statutory", "every_day"]


# --------------------------------------------------------------------------------------------
# The statutory calendar (chinese_calendar)
# --------------------------------------------------------------------------------------------


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


def _parse_clock(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > MINUTES_PER_DAY:
        raise ValueError(f"not a time of day between 00:00 and 24:00: {text!r}")
    return value


def parse_openings(items: Sequence[str]) -> tuple[Opening, ...]:
    """Openings from ``"HH:MM-HH:MM"`` texts, checked to be in order and not to overlap.

    ``24:00`` ends a day; an opening may not cross midnight (a night shift is two openings,
    ``18:00-24:00`` and ``00:00-08:00``).
    """
    openings: list[Opening] = []
    for item in items:
        first, sep, last = item.partition("-")
        if not sep:
            raise ValueError(f"an opening is written HH:MM-HH:MM: {item!r}")
        start, end = _parse_clock(first), _parse_clock(last)
        if start >= end:
            raise ValueError(f"an opening must end after it starts: {item!r}")
        if openings and start < openings[-1][1]:
            raise ValueError(f"openings must be in order and must not overlap: {item!r}")
        openings.append((start, end))
    return tuple(openings)


# --------------------------------------------------------------------------------------------
# The calendar file
# --------------------------------------------------------------------------------------------

DaySpan = dt.date | tuple[dt.date, dt.date]
"""A single date or an inclusive (first, last) range, as written in calendar.yaml."""


def _expand(spans: Sequence[DaySpan]) -> frozenset[dt.date]:
    days: set[dt.date] = set()
    for span in spans:
        first, last = span if isinstance(span, tuple) else (span, span)
        if last < first:
            raise ValueError(f"a day range must not end before it starts: {first}..{last}")
        days.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return frozenset(days)


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _OfficeDoc(_Doc):
    working_days: WorkingDays | None = None
    hours: list[str] | None = None

    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not parse_openings(value):
            raise ValueError("an office needs at least one opening")
        return value


class _DefaultOfficeDoc(_OfficeDoc):
    working_days: WorkingDays = "statutory"
    hours: list[str]


class _StatutoryYearDoc(_Doc):
    year: Annotated[int, Field(ge=1990, le=2100)]
    source: Annotated[str, Field(min_length=1, max_length=200)]
    holidays: Annotated[list[DaySpan], Field(min_length=1)]
    workdays: list[DaySpan] = Field(default_factory=list)


class _StatutoryDoc(_Doc):
    holidays: list[DaySpan] = Field(default_factory=list)
    workdays: list[DaySpan] = Field(default_factory=list)
    years: list[_StatutoryYearDoc] = Field(default_factory=list)


class _OverrideDoc(_Doc):
    date: dt.date
    until: dt.date | None = None
    offices: list[str] | None = None
    hours: Literal["closed", "normal"] | list[str]
    reason: Annotated[str, Field(min_length=1)]

    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            parse_openings(value)
        return value


class _CalendarDoc(_Doc):
    timezone: str = "Asia/Shanghai"
    default: _DefaultOfficeDoc
    offices: dict[str, _OfficeDoc] = Field(default_factory=dict)
    statutory: _StatutoryDoc = Field(default_factory=_StatutoryDoc)
    overrides: list[_OverrideDoc] = Field(default_factory=list)


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


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _declared_years(docs: Sequence[_StatutoryYearDoc]) -> dict[int, DeclaredYear]:
    years: dict[int, DeclaredYear] = {}
    first_at: dict[int, int] = {}
    for n, item in enumerate(docs):
        where = f"statutory.years[{n}] ({item.year})"
        if item.year in first_at:
            raise ValueError(
                f"{where}: {item.year} is declared twice (also statutory.years"
                f"[{first_at[item.year]}]); declare each year once"
            )
        first_at[item.year] = n
        try:
            holidays, workdays = _expand(item.holidays), _expand(item.workdays)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        for name, days in (("holidays", holidays), ("workdays", workdays)):
            strays = sorted(d for d in days if d.year != item.year)
            if strays:
                raise ValueError(f"{where}: {name}: {strays[0]} is not in {item.year}")
        weekdays = sorted(d for d in workdays if d.weekday() < 5)
        if weekdays:
            day = weekdays[0]
            raise ValueError(
                f"{where}: workdays: {day} is a {WEEKDAYS[day.weekday()]}; a make-up working "
                "day (调休) is a Saturday or Sunday (a weekday works anyway)"
            )
        both = sorted(holidays & workdays)
        if both:
            raise ValueError(f"{where}: {both[0]} is both a holiday and a make-up working day")
        years[item.year] = DeclaredYear(item.year, item.source, holidays, workdays)
    return years


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key written twice in one mapping (the last would win
    silently: an office's hours, say, declared twice)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[object, object]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise ValueError(f"line {line}: {key!r} is written twice in the same mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_calendar(text: str) -> BusinessCalendar:
    """A business calendar from the text of a calendar YAML file (see ``calendar.yaml``)."""
    doc = _CalendarDoc.model_validate(yaml.load(text, Loader=_UniqueKeyLoader))
    try:
        zone = ZoneInfo(doc.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {doc.timezone!r}") from None
    default = OfficeSchedule(doc.default.working_days, parse_openings(doc.default.hours))
    offices = {
        name: OfficeSchedule(
            office.working_days or default.working_days,
            parse_openings(office.hours) if office.hours is not None else default.openings,
        )
        for name, office in doc.offices.items()
    }
    holidays, workdays = _expand(doc.statutory.holidays), _expand(doc.statutory.workdays)
    both = sorted(holidays & workdays)
    if both:
        raise ValueError(f"declared both a statutory holiday and a workday: {both[0]}")
    declared = _declared_years(doc.statutory.years)
    overrides = []
    for item in doc.overrides:
        openings: tuple[Opening, ...] | None
        if item.hours == "closed":
            openings = ()
        elif item.hours == "normal":
            openings = None
        else:
            openings = parse_openings(item.hours)
        overrides.append(
            Override(
                days=_expand([(item.date, item.until or item.date)]),
                offices=frozenset(item.offices) if item.offices is not None else None,
                openings=openings,
                reason=item.reason,
            )
        )
    return BusinessCalendar(
        zone=zone,
        default=default,
        offices=offices,
        statutory_holidays=holidays,
        statutory_workdays=workdays,
        declared_years=declared,
        overrides=overrides,
    )


def load_calendar(path: Path = DEFAULT_CALENDAR_FILE) -> BusinessCalendar:
    """Read and parse a calendar YAML file: the one I/O of this module."""
    return parse_calendar(path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


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
        self.horizon = _horizon(self._years)
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


def _horizon(declared: Mapping[int, DeclaredYear]) -> Horizon:
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


def _utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a naive datetime has no place on the calendar: {at!r}")
    return at.astimezone(UTC)

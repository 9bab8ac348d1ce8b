"""The calendar file (``calendar.yaml``): its shape, checked with every fault named, and the
business calendar it makes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator
from yaml.nodes import MappingNode

from services.sla.calendar.business import BusinessCalendar
from services.sla.calendar.model import (
    MINUTES_PER_DAY,
    WEEKDAYS,
    DeclaredYear,
    OfficeSchedule,
    Opening,
    Override,
    WorkingDays,
)

DEFAULT_CALENDAR_FILE = Path(__file__).parents[1] / "calendar.yaml"


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

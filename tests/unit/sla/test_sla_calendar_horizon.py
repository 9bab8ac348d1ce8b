"""The calendar's horizon (issue 15.11): until when the holiday data is authoritative, whole
years declared in calendar.yaml with their checks, the daily warning and the gauge."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import REGISTRY

from services.sla.calendar import (
    library_coverage,
    library_version,
    load_calendar,
    parse_calendar,
)
from services.sla.horizon import WARN_WITHIN_DAYS, CalendarWatch, past_horizon, status
from services.sla.policy import Timer, WallClock, load_policy

CHINA = ZoneInfo("Asia/Shanghai")
OFFICE = "Y园"
DAY = "default: {hours: ['08:30-12:00', '13:30-18:00']}\n"
YEAR_2027 = """
statutory:
  years:
    - year: 2027
      source: 国办发明电〔2026〕示例号
      holidays:
        - [2027-01-01, 2027-01-03]
        - [2027-02-05, 2027-02-11]
      workdays: [2027-02-13]
"""


def china(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CHINA)


def test_the_installed_package_ends_2026_and_so_does_the_shipped_calendar() -> None:
    assert library_coverage()[1] == date(2026, 12, 31)
    shipped = load_calendar()
    assert shipped.horizon.last_day == date(2026, 12, 31)
    assert shipped.horizon.next_year == 2027
    assert shipped.horizon.years[-1].year == 2026
    assert shipped.horizon.years[-1].source == f"chinese-calendar {library_version()}"


def test_a_declared_year_extends_the_horizon_and_is_counted_as_declared() -> None:
    cal = parse_calendar(DAY + YEAR_2027)
    assert cal.horizon.last_day == date(2027, 12, 31)
    assert cal.horizon.years[-1].source == "calendar.yaml: 国办发明电〔2026〕示例号"
    assert not cal.is_working_day(OFFICE, date(2027, 2, 8))  # Monday, Spring Festival
    assert cal.is_working_day(OFFICE, date(2027, 2, 13))  # Saturday, make-up day
    assert not cal.is_working_day(OFFICE, date(2027, 2, 14))  # an ordinary Sunday
    assert cal.is_working_day(OFFICE, date(2027, 3, 1))  # an ordinary Monday
    assert cal.is_statutory_known(date(2027, 7, 1))
    assert not cal.is_statutory_known(date(2028, 1, 3))
    # Received Thursday 4 February 10:00: one working day ends after the holiday week;
    # received on Friday 12th, on the make-up Saturday.
    assert cal.add_working_days(OFFICE, china("2027-02-04T10:00"), 1) == china("2027-02-12T10:00")
    assert cal.add_working_days(OFFICE, china("2027-02-12T10:00"), 1) == china("2027-02-13T10:00")


def test_a_declared_year_after_a_gap_is_listed_but_does_not_extend_the_horizon() -> None:
    text = DAY + "statutory:\n  years:\n    - {year: 2028, source: x, holidays: [2028-01-01]}\n"
    cal = parse_calendar(text)
    assert cal.horizon.last_day == date(2026, 12, 31)
    assert [y.year for y in cal.horizon.years][-2:] == [2026, 2028]


def test_a_declared_year_the_package_covers_replaces_the_package_for_that_year() -> None:
    text = DAY + "statutory:\n  years:\n    - {year: 2026, source: 更正, holidays: [2026-03-10]}\n"
    cal = parse_calendar(text)
    assert not cal.is_working_day(OFFICE, date(2026, 3, 10))
    # The package's Spring Festival is no longer in force for 2026: only the declared day is.
    assert cal.is_working_day(OFFICE, date(2026, 2, 16))
    [y2026] = [y for y in cal.horizon.years if y.year == 2026]
    assert y2026.source == "calendar.yaml: 更正 (replaces chinese-calendar)"


def test_past_the_horizon_monday_to_friday_work_and_weekends_do_not() -> None:
    shipped = load_calendar()
    assert shipped.is_working_day(OFFICE, date(2027, 1, 1))  # a Friday; 元旦 not known yet
    assert not shipped.is_working_day(OFFICE, date(2027, 1, 2))  # Saturday
    assert not shipped.is_statutory_known(date(2027, 1, 1))


@pytest.mark.parametrize(
    ("years", "message"),
    [
        (
            "    - {year: 2027, source: a, holidays: [2027-01-01]}\n"
            "    - {year: 2027, source: b, holidays: [2027-01-02]}\n",
            "statutory.years[1] (2027): 2027 is declared twice (also statutory.years[0])",
        ),
        (
            "    - {year: 2027, source: a, holidays: [2027-01-01], workdays: [2027-02-08]}\n",
            "statutory.years[0] (2027): workdays: 2027-02-08 is a Monday; a make-up working day "
            "(调休) is a Saturday or Sunday",
        ),
        (
            "    - {year: 2027, source: a, holidays: [[2026-12-31, 2027-01-02]]}\n",
            "statutory.years[0] (2027): holidays: 2026-12-31 is not in 2027",
        ),
        (
            "    - {year: 2027, source: a, holidays: [2027-02-13], workdays: [2027-02-13]}\n",
            "statutory.years[0] (2027): 2027-02-13 is both a holiday and a make-up working day",
        ),
        (
            "    - {year: 2027, source: a, holidays: [[2027-02-11, 2027-02-05]]}\n",
            "statutory.years[0] (2027): a day range must not end before it starts",
        ),
    ],
)
def test_a_badly_declared_year_is_refused_naming_the_entry(years: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_calendar(DAY + "statutory:\n  years:\n" + years)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ("{year: 2027, source: a, holidays: []}", "holidays"),  # a year without holidays
        ("{year: 2027, holidays: [2027-01-01]}", "source"),  # no source
        ("{year: 2027, source: a, holidays: [2027-01-01], days: []}", "days"),  # unknown key
    ],
)
def test_a_declared_year_lacking_a_field_is_refused_naming_it(entry: str, field: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_calendar(DAY + f"statutory:\n  years:\n    - {entry}\n")
    assert field in str(refused.value)


def test_a_key_written_twice_is_refused_not_silently_overwritten() -> None:
    text = DAY + "offices:\n  G小城: {working_days: every_day}\n  G小城: {hours: ['09:00-17:00']}\n"
    with pytest.raises(ValueError, match="'G小城' is written twice"):
        parse_calendar(text)


def gauge() -> float | None:
    return REGISTRY.get_sample_value("complaints_sla_calendar_horizon_days")


def test_the_watch_sets_the_gauge_and_warns_once_a_day_within_60_days(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [china("2026-10-01T09:00")]
    watch = CalendarWatch(load_calendar(), lambda: now[0])
    caplog.set_level(logging.WARNING, logger="services.sla.horizon")

    assert watch.check() is None  # 91 days left: quiet
    assert gauge() == 91
    now[0] = china("2026-11-01T00:30")  # 60 days left: the first warning
    first = watch.check()
    assert first is not None and "ends 2026-12-31 (60 days left)" in first
    assert "declare 2027 in calendar.yaml" in first
    assert gauge() == WARN_WITHIN_DAYS
    now[0] = china("2026-11-01T23:59")
    assert watch.check() is None  # once a day
    now[0] = china("2026-11-02T00:00")
    assert watch.check() is not None  # and again the next day
    now[0] = china("2027-01-05T10:00")
    late = watch.check()
    assert late is not None and "ended 2026-12-31 (5 days ago)" in late
    assert gauge() == -5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("holiday calendar" in w for w in warnings)


def test_the_watch_counts_days_in_china_time_not_utc() -> None:
    # 2026-11-01 16:30 UTC is already 2 November in China: 59 days left.
    utc = datetime.fromisoformat("2026-11-01T16:30:00+00:00")
    CalendarWatch(load_calendar(), lambda: utc).check()
    assert gauge() == 59


def test_a_declared_next_year_silences_the_watch() -> None:
    watch = CalendarWatch(parse_calendar(DAY + YEAR_2027), lambda: china("2026-11-29T09:00"))
    assert watch.check() is None
    assert gauge() == 397


def test_the_status_shows_horizon_days_left_warning_and_each_years_source() -> None:
    body = status(load_calendar(), china("2026-11-29T09:00"))
    assert body["horizon"] == date(2026, 12, 31)
    assert body["days_left"] == 32
    assert body["next_year_to_declare"] == 2027
    assert "32 days left" in body["warning"]
    assert "Monday to Friday" in body["past_horizon"]
    assert body["years"][0] == {"year": 2004, "source": f"chinese-calendar {library_version()}"}
    assert [y["year"] for y in body["years"]] == list(range(2004, 2027))


def test_a_working_clock_due_past_the_horizon_is_marked_and_a_wall_clock_is_not() -> None:
    cal, policy = load_calendar(), load_policy()
    reply = policy.timer("reply", OFFICE)
    inside = reply.start(china("2026-12-28T10:00"), office=OFFICE, calendar=cal)
    assert inside.hard_deadline == china("2026-12-31T10:00")
    assert not past_horizon(cal, inside)
    late = reply.start(china("2026-12-30T10:00"), office=OFFICE, calendar=cal)
    assert late.hard_deadline == china("2027-01-04T10:00")  # Friday 1 January counted: the guess
    assert past_horizon(cal, late)  # its hard limit is counted on the weekday guess
    wall = Timer.start(
        "first_response",
        WallClock(),
        china("2026-12-31T23:50"),
        timedelta(hours=1),
        description="x",
    )
    assert not past_horizon(cal, wall)  # every second counts: no calendar involved

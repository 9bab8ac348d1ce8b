"""The business calendar: statutory days from chinese_calendar, office hours, overrides, counting.

Real 2026 dates: Spring Festival holiday 15-23 February with make-up Saturdays 14 and 28
February; Mid-Autumn 25-27 September; National Day 1-7 October with make-up Sunday 20 September
and Saturday 10 October.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.sla.calendar import (
    DEFAULT_CALENDAR_FILE,
    BusinessCalendar,
    library_coverage,
    load_calendar,
    parse_calendar,
    parse_openings,
)

CHINA = ZoneInfo("Asia/Shanghai")
OFFICE = "Y园"  # default hours: 08:30-12:00, 13:30-18:00
ROUND_THE_CLOCK = "24h客服"

CALENDAR_YAML = """
timezone: Asia/Shanghai
default:
  hours: ["08:30-12:00", "13:30-18:00"]
offices:
  24h客服:
    working_days: every_day
    hours: ["00:00-24:00"]
overrides:
  - date: 2026-09-15
    offices: [Y园]
    hours: closed
    reason: 台风红色预警
"""


def at(day: str, clock: str = "00:00") -> datetime:
    """An instant in Asia/Shanghai: at("2026-02-13", "17:00")."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=CHINA)


def calendar(extra: str = "") -> BusinessCalendar:
    return parse_calendar(CALENDAR_YAML + extra)


CAL = calendar()


# --- statutory days -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-02-13", True),  # Friday before the holiday
        ("2026-02-14", True),  # Saturday: make-up working day (调休上班)
        ("2026-02-15", False),  # Sunday: first day of the holiday
        ("2026-02-17", False),  # Tuesday: Spring Festival (初一)
        ("2026-02-21", False),  # Saturday inside the holiday
        ("2026-02-23", False),  # Monday: last day of the holiday
        ("2026-02-24", True),  # Tuesday: back at work
        ("2026-02-28", True),  # Saturday: second make-up working day
        ("2026-03-01", False),  # ordinary Sunday
    ],
)
def test_spring_festival_2026_is_closed_and_its_make_up_saturdays_are_working_days(
    day: str, working: bool
) -> None:
    assert CAL.is_working_day(OFFICE, date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-09-20", True),  # Sunday: make-up working day
        ("2026-09-25", False),  # Friday: Mid-Autumn Festival
        ("2026-09-30", True),  # Wednesday before National Day
        ("2026-10-01", False),
        ("2026-10-05", False),  # Monday inside the holiday
        ("2026-10-07", False),
        ("2026-10-08", True),
        ("2026-10-10", True),  # Saturday: make-up working day
        ("2026-10-11", False),  # ordinary Sunday
    ],
)
def test_national_day_2026_week_is_closed_and_its_make_up_sunday_and_saturday_work(
    day: str, working: bool
) -> None:
    assert CAL.is_working_day(OFFICE, date.fromisoformat(day)) is working


def test_library_covers_2004_to_2026_and_says_so() -> None:
    assert library_coverage() == (date(2004, 1, 1), date(2026, 12, 31))
    assert CAL.is_statutory_known(date(2026, 12, 31))
    assert not CAL.is_statutory_known(date(2027, 1, 4))


def test_outside_the_library_years_a_statutory_office_works_monday_to_friday() -> None:
    # Spring Festival 2027 falls on 6 February; the package does not know 2027 yet.
    assert CAL.is_working_day(OFFICE, date(2027, 2, 8))  # Monday
    assert not CAL.is_working_day(OFFICE, date(2027, 2, 6))  # Saturday
    assert CAL.add_working_days(OFFICE, at("2027-02-05", "10:00"), 1) == at("2027-02-08", "10:00")


def test_declared_statutory_days_cover_a_year_the_library_does_not_know() -> None:
    cal = calendar(
        """
statutory:
  holidays: [[2027-02-06, 2027-02-12]]
  workdays: [2027-02-14]
"""
    )
    assert not cal.is_working_day(OFFICE, date(2027, 2, 8))
    assert cal.is_working_day(OFFICE, date(2027, 2, 14))  # a Sunday, declared make-up day
    assert cal.is_statutory_known(date(2027, 2, 8))
    assert cal.add_working_days(OFFICE, at("2027-02-05", "10:00"), 1) == at("2027-02-14", "10:00")


def test_a_declared_statutory_day_wins_over_the_library() -> None:
    cal = calendar("statutory:\n  holidays: [2026-03-10]\n")
    assert not cal.is_working_day(OFFICE, date(2026, 3, 10))
    assert CAL.is_working_day(OFFICE, date(2026, 3, 10))


# --- the counting rule ----------------------------------------------------------------------


def test_received_in_working_hours_is_due_at_the_same_clock_time_next_working_day() -> None:
    assert CAL.add_working_days(OFFICE, at("2026-03-10", "10:00"), 1) == at("2026-03-11", "10:00")


def test_received_late_friday_before_spring_festival_is_due_on_the_make_up_saturday() -> None:
    assert CAL.add_working_days(OFFICE, at("2026-02-13", "17:00"), 1) == at("2026-02-14", "17:00")


def test_received_late_on_the_make_up_saturday_is_due_after_the_whole_holiday() -> None:
    assert CAL.add_working_days(OFFICE, at("2026-02-14", "17:00"), 1) == at("2026-02-24", "17:00")


def test_received_on_a_spring_festival_holiday_is_due_at_closing_of_the_first_working_day() -> None:
    received = at("2026-02-17", "11:00")
    assert CAL.next_opening(OFFICE, received) == at("2026-02-24", "08:30")
    assert CAL.add_working_days(OFFICE, received, 1) == at("2026-02-24", "18:00")


def test_received_friday_evening_after_closing_is_due_at_monday_closing() -> None:
    assert CAL.add_working_days(OFFICE, at("2026-03-06", "19:00"), 1) == at("2026-03-09", "18:00")


def test_working_days_before_national_day_skip_the_holiday_week_and_use_its_make_up_saturday() -> (
    None
):
    received = at("2026-09-30", "10:00")
    assert CAL.add_working_days(OFFICE, received, 1) == at("2026-10-08", "10:00")
    assert CAL.add_working_days(OFFICE, received, 3) == at("2026-10-10", "10:00")


def test_zero_working_days_is_the_receipt_itself() -> None:
    received = at("2026-10-03", "10:00")
    assert CAL.add_working_days(OFFICE, received, 0) == received


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_days(OFFICE, at("2026-03-10", "10:00"), -1)
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_time(OFFICE, at("2026-03-10", "10:00"), timedelta(minutes=-1))


# --- hours ----------------------------------------------------------------------------------


def test_lunch_break_is_not_working_time() -> None:
    assert CAL.add_working_time(OFFICE, at("2026-03-10", "11:30"), timedelta(hours=1)) == at(
        "2026-03-10", "14:00"
    )
    assert CAL.working_time_between(
        OFFICE, at("2026-03-10", "11:00"), at("2026-03-10", "14:00")
    ) == timedelta(hours=1, minutes=30)


def test_received_during_lunch_starts_at_the_afternoon_opening() -> None:
    received = at("2026-03-10", "12:30")
    assert not CAL.is_open(OFFICE, received)
    assert CAL.next_opening(OFFICE, received) == at("2026-03-10", "13:30")
    # 13:30-18:00 and 08:30-12:00 are the 8 hours: due when the morning opening closes.
    assert CAL.add_working_days(OFFICE, received, 1) == at("2026-03-11", "12:00")


def test_time_used_up_exactly_at_closing_ends_at_closing_not_next_morning() -> None:
    assert CAL.add_working_time(OFFICE, at("2026-03-10", "17:00"), timedelta(hours=1)) == at(
        "2026-03-10", "18:00"
    )


def test_counting_from_closing_time_starts_at_the_next_opening() -> None:
    assert not CAL.is_open(OFFICE, at("2026-03-10", "18:00"))
    assert CAL.is_open(OFFICE, at("2026-03-10", "08:30"))
    assert CAL.add_working_time(OFFICE, at("2026-03-10", "18:00"), timedelta(minutes=30)) == at(
        "2026-03-11", "09:00"
    )


def test_working_time_over_the_national_day_week_counts_only_working_days() -> None:
    # 30 Sep 10:00-18:00 (6.5 h) + nothing 1-7 Oct + 8 Oct 08:30-18:00 (8 h)
    between = CAL.working_time_between(OFFICE, at("2026-09-30", "10:00"), at("2026-10-08", "18:00"))
    assert between == timedelta(hours=14, minutes=30)


@pytest.mark.parametrize(
    ("start", "hours"),
    [
        ("2026-02-13T11:00", 5.25),
        ("2026-02-14T17:59", 0.5),
        ("2026-09-30T12:00", 20),
        ("2026-10-06T09:00", 1),
    ],
)
def test_working_time_between_undoes_add_working_time(start: str, hours: float) -> None:
    begin = datetime.fromisoformat(start).replace(tzinfo=CHINA)
    duration = timedelta(hours=hours)
    end = CAL.add_working_time(OFFICE, begin, duration)
    assert CAL.working_time_between(OFFICE, begin, end) == duration


def test_working_time_is_counted_forward_only() -> None:
    with pytest.raises(ValueError, match="forward"):
        CAL.working_time_between(OFFICE, at("2026-03-11"), at("2026-03-10"))


def test_a_24h_office_works_every_day_including_national_day() -> None:
    assert CAL.is_working_day(ROUND_THE_CLOCK, date(2026, 10, 1))
    night = at("2026-10-01", "03:00")
    assert CAL.next_opening(ROUND_THE_CLOCK, night) == night
    assert CAL.add_working_days(ROUND_THE_CLOCK, night, 1) == at("2026-10-02", "03:00")
    assert CAL.working_time_between(ROUND_THE_CLOCK, night, at("2026-10-03", "03:00")) == timedelta(
        hours=48
    )


def test_working_day_length_is_the_sum_of_the_daily_openings() -> None:
    assert CAL.working_day_length(OFFICE) == timedelta(hours=8)
    assert CAL.working_day_length(ROUND_THE_CLOCK) == timedelta(hours=24)


def test_an_office_not_in_the_file_works_the_default_schedule() -> None:
    assert CAL.schedule("新项目") == CAL.default


# --- overrides ------------------------------------------------------------------------------


def test_a_typhoon_closure_moves_the_deadline_of_the_closed_office_only() -> None:
    received = at("2026-09-14", "10:00")
    assert not CAL.is_working_day(OFFICE, date(2026, 9, 15))
    assert CAL.add_working_days(OFFICE, received, 1) == at("2026-09-16", "10:00")
    assert CAL.add_working_days("G小城", received, 1) == at("2026-09-15", "10:00")


def test_a_half_day_override_counts_only_its_hours() -> None:
    cal = calendar(
        """
  - date: 2026-03-10
    hours: ["08:30-12:00"]
    reason: 下午停电
"""
    )
    assert cal.working_time_between(OFFICE, at("2026-03-10"), at("2026-03-11")) == timedelta(
        hours=3, minutes=30
    )
    # 2 h on the half day, then 6 h of the next: 08:30-12:00 and 13:30-16:00.
    assert cal.add_working_days(OFFICE, at("2026-03-10", "10:00"), 1) == at("2026-03-11", "16:00")


def test_a_normal_hours_override_opens_a_holiday_and_several_days_at_once() -> None:
    cal = calendar(
        """
  - date: 2026-10-02
    until: 2026-10-03
    hours: normal
    reason: 国庆值班
"""
    )
    assert cal.is_working_day(OFFICE, date(2026, 10, 2))
    assert cal.is_working_day(OFFICE, date(2026, 10, 3))
    assert not cal.is_working_day(OFFICE, date(2026, 10, 4))
    assert cal.add_working_days(OFFICE, at("2026-10-01", "12:00"), 1) == at("2026-10-02", "18:00")


def test_the_last_override_for_an_office_and_day_wins() -> None:
    cal = calendar(
        """
  - date: 2026-09-15
    offices: [Y园]
    hours: ["09:00-11:00"]
    reason: 台风解除，上午开放
"""
    )
    assert cal.openings(OFFICE, date(2026, 9, 15)) == ((540, 660),)
    override = cal.override(OFFICE, date(2026, 9, 15))
    assert override is not None and override.reason == "台风解除，上午开放"


def test_an_office_closed_for_good_is_reported_not_searched_for_ever() -> None:
    cal = calendar(
        """
  - date: 2026-03-01
    until: 2028-03-01
    hours: closed
    reason: 停业
"""
    )
    with pytest.raises(ValueError, match="no opening"):
        cal.next_opening(OFFICE, at("2026-03-02", "09:00"))


# --- instants and zones ---------------------------------------------------------------------


def test_results_are_in_the_office_zone_whatever_offset_the_input_has() -> None:
    received_utc = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    due = CAL.add_working_days(OFFICE, received_utc, 1)
    assert due == at("2026-03-11", "10:00")
    assert due.utcoffset() == timedelta(hours=8)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.next_opening(OFFICE, datetime(2026, 3, 10, 10, 0))
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_time(OFFICE, datetime(2026, 3, 10, 10, 0), timedelta(0))


# --- the file -------------------------------------------------------------------------------


def test_the_shipped_calendar_loads_with_the_documented_default_hours() -> None:
    shipped = load_calendar(DEFAULT_CALENDAR_FILE)
    assert shipped.working_day_length("任一管理处") == timedelta(hours=8)
    assert str(shipped.zone) == "Asia/Shanghai"


@pytest.mark.parametrize(
    "openings",
    [
        ["13:30-18:00", "08:30-12:00"],  # out of order
        ["08:30-12:30", "12:00-18:00"],  # overlapping
        ["22:00-02:00"],  # across midnight
        ["08:30-08:30"],  # empty
        ["8.30-12.00"],  # not HH:MM
        ["08:30-24:30"],  # past the end of the day
        ["08:30"],  # no end
    ],
)
def test_malformed_openings_are_refused(openings: list[str]) -> None:
    with pytest.raises(ValueError):
        parse_openings(openings)


DAY = "default: {hours: ['08:30-18:00']}\n"


@pytest.mark.parametrize(
    "text",
    [
        "timezone: Mars/Olympus\ndefault: {hours: ['08:30-18:00']}\n",
        "default: {hours: []}\n",
        "default: {hours: ['08:30-18:00'], working_days: weekends}\n",
        DAY + "statutory: {holidays: [2027-02-08], workdays: [2027-02-08]}\n",
        DAY + "statutory: {holidays: [[2027-02-12, 2027-02-06]]}\n",  # backwards
        DAY + "overrides: [{date: 2026-09-15, hours: closed}]\n",  # no reason
        DAY + "overrides: [{date: 2026-09-15, hours: open, reason: x}]\n",
        DAY + "holidays: []\n",  # not a key of the file
    ],
)
def test_malformed_calendar_files_are_refused(text: str) -> None:
    with pytest.raises((ValueError, ValidationError)):
        parse_calendar(text)

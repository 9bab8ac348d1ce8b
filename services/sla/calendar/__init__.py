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

Modules: ``model`` (the values), ``statutory`` (chinese_calendar and the horizon), ``file``
(calendar.yaml), ``business`` (the calendar and its arithmetic).
"""

from services.sla.calendar.business import BusinessCalendar
from services.sla.calendar.file import (
    DEFAULT_CALENDAR_FILE,
    load_calendar,
    parse_calendar,
    parse_openings,
)
from services.sla.calendar.statutory import library_coverage, library_version

__all__ = [
    "DEFAULT_CALENDAR_FILE",
    "BusinessCalendar",
    "library_coverage",
    "library_version",
    "load_calendar",
    "parse_calendar",
    "parse_openings",
]

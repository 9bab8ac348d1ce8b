"""Watching the calendar's horizon: until when the holiday data is authoritative (issue 15.11).

The State Council publishes the coming year's holidays late in the year; until someone declares
that year in ``calendar.yaml`` (or upgrades chinese-calendar), every deadline past the horizon
is counted Monday to Friday (``services.sla.calendar``). Nobody must be surprised by that on
1 January, so the running service checks every metrics interval (``CalendarWatch.check``, on
an injected ``now``):

* ``complaints_sla_calendar_horizon_days`` — days from today (China time) to the last covered
  day, 0 on it, negative past it;
* a WARNING in the log once a day (China date) while the horizon is ``WARN_WITHIN_DAYS`` days
  away or less, or already passed, naming the year to declare and how.

``status`` is the body of ``GET /v1/sla/calendar``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from prometheus_client import Gauge

from services.runtime.spec import Now
from services.sla.calendar import BusinessCalendar
from services.sla.policy import Timer, clock_kind

log = logging.getLogger(__name__)

WARN_WITHIN_DAYS = 60
PAST_HORIZON = (
    "past the horizon no holidays are known: Monday to Friday count as working days, Saturday "
    "and Sunday do not (plus the single days calendar.yaml declares); declare the year in "
    "calendar.yaml (statutory.years) as soon as the State Council publishes it"
)

HORIZON_DAYS = Gauge(
    "complaints_sla_calendar_horizon_days",
    "Days from today (China time) to the last day the holiday data covers (negative past it)",
)


def status(calendar: BusinessCalendar, now: dt.datetime) -> dict[str, Any]:
    """The calendar's horizon as seen at ``now``: the body of ``GET /v1/sla/calendar``."""
    horizon = calendar.horizon
    today = now.astimezone(calendar.zone).date()
    left = horizon.days_left(today)
    return {
        "as_of": now,
        "today": today,
        "timezone": str(calendar.zone),
        "horizon": horizon.last_day,
        "days_left": left,
        "warn_within_days": WARN_WITHIN_DAYS,
        "warning": warning(calendar, today),
        "next_year_to_declare": horizon.next_year,
        "past_horizon": PAST_HORIZON,
        "years": [{"year": y.year, "source": y.source} for y in horizon.years],
    }


def past_horizon(calendar: BusinessCalendar, timer: Timer) -> bool:
    """Whether ``timer`` counts working days up to a deadline (or hard limit) past the
    calendar's horizon: that deadline rests on the Monday-to-Friday guess, and the SLA API
    says so on the clock (``past_calendar_horizon``)."""
    if clock_kind(timer.clock) != "working":
        return False  # a wall clock, or a deadline a person set: no calendar involved
    last = timer.hard_deadline or timer.deadline
    return last is not None and last.astimezone(calendar.zone).date() > calendar.horizon.last_day


def warning(calendar: BusinessCalendar, today: dt.date) -> str | None:
    """The warning due on ``today``, or ``None`` while the horizon is further than
    ``WARN_WITHIN_DAYS`` days away."""
    horizon = calendar.horizon
    left = horizon.days_left(today)
    if left > WARN_WITHIN_DAYS:
        return None
    year = horizon.next_year
    if left < 0:
        when = f"ended {horizon.last_day} ({-left} days ago)"
    else:
        when = f"ends {horizon.last_day} ({left} days left)"
    return (
        f"the holiday calendar {when}: declare {year} in calendar.yaml (statutory.years) "
        f"from the State Council's notice, or upgrade chinese-calendar; past the horizon "
        "deadlines count Monday to Friday"
    )


class CalendarWatch:
    """The periodic horizon check of a running SLA service: the gauge every round, the
    warning once per China day. ``now`` is injected, so a test moves time by hand."""

    def __init__(self, calendar: BusinessCalendar, now: Now) -> None:
        self.calendar = calendar
        self._now = now
        self._warned_on: dt.date | None = None

    def check(self) -> str | None:
        """Set the gauge; log and return the warning if one is due and not logged today."""
        today = self._now().astimezone(self.calendar.zone).date()
        HORIZON_DAYS.set(self.calendar.horizon.days_left(today))
        message = warning(self.calendar, today)
        if message is None or self._warned_on == today:
            return None
        self._warned_on = today
        log.warning("sla calendar: %s", message)
        return message

    async def run(self, interval: float) -> None:
        """``check`` every ``interval`` seconds while the service runs (a background task of
        its own: it needs neither the database nor Kafka, so it warns when they are down)."""
        while True:
            try:
                self.check()
            except Exception:  # pragma: no cover  (a check never stops the service)
                log.exception("sla calendar: horizon check failed")
            await asyncio.sleep(interval)

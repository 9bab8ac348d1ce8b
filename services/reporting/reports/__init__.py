"""Reporting's use cases: the monthly report and the dashboard as of an instant.

Each function reads the store inside one transaction (one consistent snapshot of the
projection) and hands the rows to the pure builders (``monthly.build_monthly_report``,
``dashboard.build_dashboard``). The HTTP layer only parses parameters and picks a format.

Times: a period is whole days in China Standard Time, counted by when a complaint occurred
(投诉时间, ``occurred_at``); "as of T" keeps what the platform had recorded by T
(``recorded_at <= T``). A naive ``as_of`` is read as China Standard Time.

Modules: ``periods`` (pure), ``rows`` (the store's rows, opened), ``monthly``, ``board``,
``complaint``.
"""

from services.reporting.reports.board import board_figure, dashboard
from services.reporting.reports.complaint import complaint
from services.reporting.reports.monthly import monthly_figure, monthly_report
from services.reporting.reports.periods import (
    day_start,
    instant,
    month_of,
    previous_period,
    previous_year,
)
from services.reporting.reports.rows import known_offices

__all__ = [
    "board_figure",
    "complaint",
    "dashboard",
    "day_start",
    "instant",
    "known_offices",
    "month_of",
    "monthly_figure",
    "monthly_report",
    "previous_period",
    "previous_year",
]

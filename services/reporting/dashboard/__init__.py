"""The live dashboard (投诉实时看板): what needs attention now, or as of any past instant.

``build_dashboard`` turns the rows the store read as of T into a ``Dashboard`` (no database
here); ``render_dashboard_html`` draws it as one self-contained zh-CN page with an SVG chart.

* **Open complaints** by status and by office: received and not closed, withdrawn or merged.
* **Overdue** (已超时) and **about to breach** (即将超时): complaints with a clock (timer) whose
  ``SlaBreached`` / ``SlaWarning`` has not been stopped since (``reporting.timer_alerts``), each
  complaint once with its clocks: 已超时 those with an overdue clock, 即将超时 those with a
  clock about to breach and none overdue (``alerted_complaints``).
* **Major complaints** (重大投诉) still open, with the rule that made them major.
* **Today's intake** by channel: complaints that occurred on T's day (China Standard Time).
* **Repeat hot spots** (星星之火): a unit, a building or a topic of one office complained about
  at least ``min_count`` times in the ``days`` before T. The building comes from the unit text
  (``domain.building_of``: "3栋1单元502" → "3栋"); the topic is the complaint's subject.

Modules: ``model`` (the answer), ``build`` (from rows; the figures behind the counts),
``html`` (the page).
"""

from services.reporting.dashboard.build import (
    BOARD_FIGURES,
    BoardFigure,
    board_figure,
    build_dashboard,
)
from services.reporting.dashboard.html import render_dashboard_html
from services.reporting.dashboard.model import Dashboard

__all__ = [
    "BOARD_FIGURES",
    "BoardFigure",
    "Dashboard",
    "board_figure",
    "build_dashboard",
    "render_dashboard_html",
]

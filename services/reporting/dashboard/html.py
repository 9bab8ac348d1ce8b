"""The dashboard as one self-contained zh-CN page with an SVG chart."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from contracts.timezone import CHINA
from services.reporting.dashboard.model import (
    Dashboard,
)
from services.reporting.drilldown import (
    DASHBOARD_LIST,
    DASHBOARD_PAGE,
    Picker,
    instant_text,
    local_input,
    url,
)

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _local(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at is not None else "—"


def render_dashboard_html(
    dashboard: Dashboard, *, refresh_seconds: int | None = 60, picker: Picker | None = None
) -> str:
    """The dashboard as one zh-CN HTML page (an SVG bar chart of open complaints by status).

    A live page (no ``as_of`` asked) reloads itself every ``refresh_seconds``, at a URL that
    keeps its office. Every count links to the complaints behind it as of the dashboard's
    instant. ``picker``: the form to choose another office and instant (none: no form).
    """

    def drill(key: str, office: str | None = None) -> str:
        return url(
            DASHBOARD_LIST,
            figure=key,
            office=office or dashboard.office,
            as_of=instant_text(dashboard.as_of),
        )

    largest = max((s.count for s in dashboard.open.by_status), default=0)
    bars = [(s, 330 * s.count / largest if largest else 0.0) for s in dashboard.open.by_status]
    return _ENV.get_template("dashboard.html").render(
        d=dashboard,
        bars=bars,
        local=_local,
        refresh_seconds=refresh_seconds,
        refresh_url=url(DASHBOARD_PAGE, office=dashboard.office),
        drill=drill,
        picker=picker,
        as_of_value=local_input(picker.as_of if picker is not None else None),
        as_of=_local(dashboard.as_of),
        scope=dashboard.office if dashboard.office is not None else "全公司",
    )

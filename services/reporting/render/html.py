"""The report as an HTML page with its charts and links to the complaints behind each count."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from contracts.enums import Validity
from contracts.timezone import CHINA
from services.reporting.domain import status_label
from services.reporting.drilldown import MONTHLY_LIST, Picker, local_input, monthly_params, url
from services.reporting.monthly import (
    SERVICE_LEVEL_LABELS,
    MonthlyReport,
)
from services.reporting.render.charts import charts
from services.reporting.render.files import CSV_SHEETS
from services.reporting.render.tables import (
    attachment1_table,
    attachment2_table,
    issued_on,
    period_label,
    scope_label,
)

TEMPLATES = Path(__file__).parents[1] / "templates"

_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(report: MonthlyReport, *, picker: Picker | None = None) -> str:
    """The report as one self-contained HTML page laid out like the seed's 客户投诉工作月报.

    Every count links to the complaints behind it (``/reports/monthly/complaints``) and the
    page links its XLSX and CSV downloads, all for exactly this period, office and instant
    (``generated_at``). ``picker``: the form to choose another period, office and instant
    (none: no form).
    """
    template = _ENV.get_template("monthly.html")
    params = monthly_params(
        report.period_from, report.period_to, report.office, report.generated_at
    )

    def drill(key: str, office: str | None = None, period: tuple[date, date] | None = None) -> str:
        start, end = period or (report.period_from, report.period_to)
        return url(
            MONTHLY_LIST,
            figure=key,
            **{
                **params,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "office": office or report.office,
            },
        )

    whole_month = (
        report.period_from.day == 1
        and report.period_from.month == report.period_to.month
        and report.period_from.year == report.period_to.year
        and (report.period_to + timedelta(days=1)).day == 1
    )
    return template.render(
        report=report,
        picker=picker,
        drill=drill,
        xlsx=url("/v1/reports/monthly.xlsx", **params),
        csv={sheet: url("/v1/reports/monthly.csv", **params, sheet=sheet) for sheet in CSV_SHEETS},
        csv_labels=CSV_SHEETS,
        month_value=report.period_from.strftime("%Y-%m") if whole_month else "",
        as_of_value=local_input(picker.as_of if picker is not None else None),
        levels=SERVICE_LEVEL_LABELS,
        previous_period=(report.previous_period_from, report.previous_period_to),
        previous_year=(report.previous_year_from, report.previous_year_to),
        period=period_label(report.period_from, report.period_to),
        scope=scope_label(report),
        generated=report.generated_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        charts=charts(report),
        attachment1=attachment1_table(report),
        attachment2=attachment2_table(report),
        valid=report.type_figure(Validity.VALID),
        assist=report.type_figure(Validity.ASSIST),
        invalid=report.type_figure(Validity.INVALID),
        timezone=CHINA,
        status_label=status_label,
        issued=issued_on(report),
    )

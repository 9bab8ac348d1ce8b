"""Reporting's HTTP API: complaints, figures, the monthly report and the dashboard.

Built from its spec (``services.reporting.spec``) by the one factory; the routes are in
``services.reporting.routes``, their parameters in ``params``, the console's page behaviour
in ``console``.

Everything is read from projections of the log and can be asked "as of" a past instant
(``as_of``, ISO 8601; without an offset it is China Standard Time): the answer is what the
platform had recorded by then.

=====================================  ===========================================================
``GET /v1/complaints/{id}``            one complaint (personal data masked) and its state
``GET /v1/stats``                      complaints received per office, channel and day
``GET /v1/reports/monthly``            the monthly report (客户投诉工作月报) as JSON
``GET /v1/reports/monthly.xlsx``       the same as a workbook (汇总, 文字部分, 环比同比, 附件1/2)
``GET /v1/reports/monthly.csv``        one sheet as CSV: ``sheet=summary|written|...``
``GET /reports/monthly``               the same as an HTML page with charts
``GET /v1/dashboard``                  the live dashboard (投诉实时看板) as JSON
``GET /dashboard``                     the same as an HTML page
``GET|POST /login``, ``/logout``       a browser's session (``services.runtime.login``)
=====================================  ===========================================================

Every read needs a staff or analyst token (``Authorization: Bearer``, or the session cookie of
a login; the pages send a browser without one to ``/login``). Office-scoped roles see their own
office only: a report or dashboard defaults to it and another office is a 403 naming
``office``; company and analyst roles see every office. Names and phone numbers are shown as
``services.runtime.auth.shown_complainant`` decides (reporting masks them for everyone; they
are kept sealed and opened at each read, ``已删除`` once the complainant is erased).

The report takes ``from`` and ``to`` (dates, both inclusive; default: the month of ``as_of``)
and ``office`` (default: the whole company); the dashboard takes ``office``.
"""

from fastapi import FastAPI

from services.reporting.settings import ReportingSettings
from services.reporting.spec import SPEC
from services.runtime.app import build_app
from services.runtime.spec import Now


def create_app(settings: ReportingSettings | None = None, now: Now | None = None) -> FastAPI:
    """The reporting service's ASGI app."""
    return build_app(SPEC, settings, now)

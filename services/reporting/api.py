"""Reporting's HTTP API: complaints, figures, the monthly report and the dashboard.

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

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from inspect import isawaitable
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.reporting import reports, store
from services.reporting.dashboard import Dashboard, board_figure, render_dashboard_html
from services.reporting.document import load_document
from services.reporting.drilldown import (
    CONSOLE_PAGES,
    DASHBOARD_LIST,
    DASHBOARD_PAGE,
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MONTHLY_LIST,
    MONTHLY_PAGE,
    RECORD_NOTE,
    ComplaintList,
    ListedComplaint,
    Picker,
    instant_text,
    listed,
    monthly_params,
    pages,
    render_list_html,
    url,
)
from services.reporting.invalid import (
    ConsoleFieldError,
    field_problems,
    render_invalid_html,
    validation_problems,
)
from services.reporting.monthly import MonthlyReport, RecordFigure, find_figure
from services.reporting.projection import PROJECTION_TABLES, ComplaintsProjection
from services.reporting.render import render_csv, render_html, render_xlsx
from services.reporting.settings import ReportingSettings
from services.reporting.views import ComplaintFacts, Stats
from services.runtime.auth import (
    COMPANY_ROLES,
    SESSION_COOKIE,
    CurrentStaff,
    Staff,
    check_office,
    office_scope,
    shown_complainant,
)
from services.runtime.http import FieldErrors, install_common
from services.runtime.login import PageStaff, install_login, page_staff
from services.runtime.service import ConsumingService

HERE = Path(__file__).parent

AsOf = Annotated[
    datetime | None,
    Query(
        description="Answer as the log stood at this instant (ISO 8601; no offset: China time). "
        "Default: now.",
    ),
]
Office = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=50,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="One management office (管理处); default: all",
    ),
]
EARLIEST_YEAR, LATEST_YEAR = 1900, 9998
"""Dates and instants outside these years are refused (they could not be stored anyway)."""
YEARS_REASON = f"must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}"
YEARS_MESSAGE = f"须在{EARLIEST_YEAR}年至{LATEST_YEAR}年之间"


def checked_instant(as_of: datetime | None) -> datetime:
    """The instant asked about (``as_of``, default now), or a 422 naming ``as_of``."""
    if as_of is not None and not EARLIEST_YEAR <= as_of.year <= LATEST_YEAR:
        raise ConsoleFieldError("as_of", YEARS_REASON, YEARS_MESSAGE)
    return reports.instant(as_of, datetime.now(UTC))


@dataclass(frozen=True)
class ReportQuery:
    """The parameters of a monthly report, checked."""

    period_from: date
    period_to: date
    office: str | None
    as_of: datetime


def report_query(
    period_from: Annotated[
        date | None,
        Query(alias="from", description="First day of the period (default: the month of as_of)"),
    ] = None,
    period_to: Annotated[
        date | None,
        Query(alias="to", description="Last day of the period, inclusive"),
    ] = None,
    office: Office = None,
    as_of: AsOf = None,
    month: Annotated[
        str | None,
        Query(
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            description="A whole month, YYYY-MM (the console's month picker); "
            "not together with from/to",
        ),
    ] = None,
) -> ReportQuery:
    """Parse and check the report's query parameters (a 422 names the bad one)."""
    if month is not None:
        if period_from is not None or period_to is not None:
            raise ConsoleFieldError(
                "month", "give month or from/to, not both", "请只填月份，或只填起止日期"
            )
        year, number = (int(part) for part in month.split("-"))
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            raise ConsoleFieldError("month", YEARS_REASON, YEARS_MESSAGE)
        period_from, period_to = reports.month_of(reports.day_start(date(year, number, 1)))
    for name, day in (("from", period_from), ("to", period_to)):
        if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise ConsoleFieldError(name, YEARS_REASON, YEARS_MESSAGE)
    at = checked_instant(as_of)
    if period_from is None and period_to is None:
        period_from, period_to = reports.month_of(at)
    elif period_to is None:
        assert period_from is not None
        period_to = reports.month_of(reports.day_start(period_from))[1]
    elif period_from is None:
        period_from = period_to.replace(day=1)
    query = ReportQuery(period_from=period_from, period_to=period_to, office=office, as_of=at)
    if query.period_from > query.period_to:
        raise ConsoleFieldError(
            "from",
            f"the period starts after it ends ({query.period_to})",
            f"晚于截止日期（{query.period_to}）",
        )
    return query


READS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No staff token (or session), or not a valid one"},
    403: {"description": "An office-scoped role asked about another office (names `office`)"},
}


def scoped_report_query(
    staff: CurrentStaff, query: Annotated[ReportQuery, Depends(report_query)]
) -> ReportQuery:
    """The report's parameters with ``office`` limited to what ``staff`` may see."""
    return replace(query, office=office_scope(staff, query.office))


def scoped_page_query(
    staff: PageStaff, query: Annotated[ReportQuery, Depends(report_query)]
) -> ReportQuery:
    """The same for a page (a browser without a session goes to the login first)."""
    return replace(query, office=office_scope(staff, query.office))


ReportParams = Annotated[ReportQuery, Depends(scoped_report_query)]
PageParams = Annotated[ReportQuery, Depends(scoped_page_query)]
FigureKey = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        description="The count to list. For the report: a key of `monthly.FIGURES` (e.g. "
        "`valid`, `category.environment`, `direct.valid`, `major`, `overdue`, `overdue.base`), "
        "`accountability` or `preventive_measures` (records: one complaint per record), or a "
        "main problem's `problem.<category>.<id>` / `assist_topic.<id>` (the report's "
        "`figure` of it). For the dashboard: `open`, `open.<status>`, `major`, `overdue`, "
        "`due_soon`, `today`, `today.<channel>` or a hot spot's `hot.<unit|building|topic>."
        "<key>` (with its `office`)",
    ),
]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page, from 1")]
PageSize = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description="Complaints per page (default 50)")
]


def create_service(settings: ReportingSettings | None = None) -> ConsumingService:
    """The reporting service's runtime: its schema, projections and consumers."""
    settings = settings or ReportingSettings()
    service = ConsumingService(
        name="reporting",
        settings=settings,
        schema="reporting",
        migrations=[HERE / "schema.sql"],
        projection_tables=PROJECTION_TABLES,
        functions=[HERE / "functions.sql"],
        plan_each_query=True,
    )
    service.add_projection("complaints.v1", ComplaintsProjection(settings.pepper()))
    return service


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    """The reporting service's ASGI app."""
    settings = settings or ReportingSettings()
    service = create_service(settings)
    app = FastAPI(
        title="Complaints reporting",
        version="1",
        description="Projections of the complaint log: complaints, figures, the monthly report "
        "(客户投诉工作月报) and the live dashboard (投诉实时看板), each as of any instant.",
        lifespan=service.lifespan,
    )
    install_common(app, service="reporting", readiness=service.readiness())
    install_login(app, offices=settings.reporting_offices)
    document = load_document(settings.reporting_document)

    async def monthly(query: ReportQuery) -> MonthlyReport:
        async with service.pool.acquire() as conn:
            return await reports.monthly_report(
                conn,
                period_from=query.period_from,
                period_to=query.period_to,
                office=query.office,
                as_of=query.as_of,
                offices=settings.reporting_offices,
                document=document,
                pool=service.pool,
            )

    async def picker(staff: Staff, as_of: datetime | None) -> Picker:
        """The offices ``staff`` may pick on a console page (office-scoped roles: their own)."""
        if staff.role not in COMPANY_ROLES:
            return Picker(offices=(staff.office or "",), company=False, as_of=as_of)
        async with service.pool.acquire() as conn:
            known = await reports.known_offices(
                conn, settings.reporting_offices, checked_instant(as_of)
            )
        return Picker(offices=tuple(known), company=True, as_of=as_of)

    async def monthly_list(
        staff: Staff, query: ReportQuery, figure: str, page: int, page_size: int
    ) -> ComplaintList:
        chosen = find_figure(figure)
        if chosen is None:
            raise ConsoleFieldError(
                "figure", f"no figure of the report is {figure!r}", f"月报中没有“{figure}”这一项"
            )
        async with service.pool.acquire() as conn:
            count, rows = await reports.monthly_figure(
                conn,
                key=figure,
                period_from=query.period_from,
                period_to=query.period_to,
                office=query.office,
                as_of=query.as_of,
                page=page,
                page_size=page_size,
            )
        return ComplaintList(
            figure=figure,
            label=chosen.label,
            note=RECORD_NOTE if isinstance(chosen, RecordFigure) else "",
            count=count,
            office=query.office,
            period_from=query.period_from,
            period_to=query.period_to,
            as_of=query.as_of,
            page=page,
            page_size=page_size,
            pages=pages(count, page_size),
            items=tuple(_listed(staff, row) for row in rows),
        )

    async def board_list(
        staff: Staff,
        office: str | None,
        as_of: datetime | None,
        figure: str,
        page: int,
        page_size: int,
    ) -> ComplaintList:
        chosen = board_figure(figure)
        if chosen is None:
            raise ConsoleFieldError(
                "figure",
                f"no figure of the dashboard is {figure!r}",
                f"看板中没有“{figure}”这一项",
            )
        at = checked_instant(as_of)
        scope = office_scope(staff, office)
        if chosen.source == "hot" and scope is None:
            raise ConsoleFieldError(
                "office",
                "a hot spot is one office's: give its office",
                "重复投诉热点属于某一管理处，请选择管理处",
            )
        async with service.pool.acquire() as conn:
            count, rows = await reports.board_figure(
                conn,
                figure=chosen,
                office=scope,
                as_of=at,
                page=page,
                page_size=page_size,
                hotspot_days=settings.reporting_hotspot_days,
                hotspot_min=settings.reporting_hotspot_min,
            )
        return ComplaintList(
            figure=figure,
            label=chosen.label,
            note=chosen.note,
            count=count,
            office=scope,
            as_of=at,
            page=page,
            page_size=page_size,
            pages=pages(count, page_size),
            items=tuple(_listed(staff, row) for row in rows),
        )

    async def live(office: str | None, as_of: datetime | None) -> Dashboard:
        async with service.pool.acquire() as conn:
            return await reports.dashboard(
                conn,
                office=office,
                as_of=checked_instant(as_of),
                hotspot_days=settings.reporting_hotspot_days,
                hotspot_min=settings.reporting_hotspot_min,
            )

    @app.get(
        "/v1/complaints/{complaint_id}",
        summary="One complaint and its state (as of T)",
        responses=READS,
        response_model=ComplaintFacts,
    )
    async def get_complaint(
        complaint_id: UUID, staff: CurrentStaff, as_of: AsOf = None
    ) -> dict[str, Any]:
        at = checked_instant(as_of)
        async with service.pool.acquire() as conn:
            found = await reports.complaint(conn, complaint_id, at)
        if found is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        check_office(staff, found["office"])
        found["complainant"] = shown_complainant(staff, found["office"], found["complainant"])
        return found

    @app.get(
        "/v1/stats",
        summary="Complaints received per office, channel and day",
        responses={401: READS[401]},
        response_model=Stats,
    )
    async def get_stats(staff: CurrentStaff) -> dict[str, Any]:
        """Office-scoped roles count their own office only."""
        async with service.pool.acquire() as conn:
            return await store.stats(conn, office_scope(staff, None))

    @app.get(
        "/v1/reports/monthly",
        summary="The monthly report (客户投诉工作月报) as JSON",
        responses=READS,
    )
    async def get_monthly(query: ReportParams) -> MonthlyReport:
        return await monthly(query)

    @app.get(
        "/v1/reports/monthly.xlsx",
        summary="The monthly report as an Excel workbook (汇总, 文字部分, 环比同比, 附件1, 附件2)",
        response_class=Response,
        responses=READS,
    )
    async def get_monthly_xlsx(query: ReportParams) -> Response:
        report = await monthly(query)
        return Response(
            render_xlsx(report),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers=_attachment(query, "xlsx"),
        )

    @app.get(
        "/v1/reports/monthly.csv",
        summary="One sheet of the monthly report as CSV (UTF-8 with a byte-order mark)",
        response_class=Response,
        responses=READS,
    )
    async def get_monthly_csv(
        query: ReportParams,
        sheet: Annotated[
            Literal["summary", "written", "comparisons", "attachment1", "attachment2"],
            Query(
                description="汇总 (summary), 文字部分 (written), 环比同比 (comparisons), "
                "附件1 (attachment1) or 附件2 (attachment2)"
            ),
        ] = "summary",
    ) -> Response:
        report = await monthly(query)
        return Response(
            render_csv(report, sheet).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers=_attachment(query, "csv", sheet),
        )

    @app.get(
        "/reports/monthly",
        summary="The monthly report as an HTML page with charts",
        response_class=HTMLResponse,
        responses={303: {"description": "A browser without a session: to /login"}, **READS},
    )
    async def get_monthly_page(
        staff: PageStaff, query: PageParams, as_of: AsOf = None
    ) -> HTMLResponse:
        return HTMLResponse(
            render_html(
                await monthly(query), picker=await picker(staff, query.as_of if as_of else None)
            )
        )

    @app.get(
        "/v1/reports/monthly/complaints",
        summary="The complaints behind one count of the monthly report",
        responses=READS,
    )
    async def get_monthly_complaints(
        staff: CurrentStaff,
        query: ReportParams,
        figure: FigureKey,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> ComplaintList:
        """Exactly the complaints the report counts in ``figure`` for the same period, office
        and ``as_of`` (as many as the count), oldest first, complainants as the reader may
        see them."""
        return await monthly_list(staff, query, figure, page, page_size)

    @app.get(
        MONTHLY_LIST,
        summary="The complaints behind one count of the monthly report, as an HTML page",
        response_class=HTMLResponse,
        responses={303: {"description": "A browser without a session: to /login"}, **READS},
    )
    async def get_monthly_complaints_page(
        staff: PageStaff,
        query: PageParams,
        figure: FigureKey,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> HTMLResponse:
        found = await monthly_list(staff, query, figure, page, page_size)
        back = url(
            MONTHLY_PAGE,
            **monthly_params(query.period_from, query.period_to, query.office, query.as_of),
        )
        return HTMLResponse(
            render_list_html(found, back=back, back_label="月报", this=MONTHLY_LIST)
        )

    @app.get("/v1/dashboard", summary="The live dashboard (投诉实时看板) as JSON", responses=READS)
    async def get_dashboard(
        staff: CurrentStaff, office: Office = None, as_of: AsOf = None
    ) -> Dashboard:
        return await live(office_scope(staff, office), as_of)

    @app.get(
        "/dashboard",
        summary="The live dashboard as an HTML page",
        response_class=HTMLResponse,
        responses={303: {"description": "A browser without a session: to /login"}, **READS},
    )
    async def get_dashboard_page(
        staff: PageStaff, office: Office = None, as_of: AsOf = None
    ) -> HTMLResponse:
        board = await live(office_scope(staff, office), as_of)
        return HTMLResponse(
            render_dashboard_html(
                board,
                refresh_seconds=None if as_of is not None else 60,
                picker=await picker(staff, as_of),
            )
        )

    @app.get(
        "/v1/dashboard/complaints",
        summary="The complaints behind one count of the dashboard",
        responses=READS,
    )
    async def get_dashboard_complaints(
        staff: CurrentStaff,
        figure: FigureKey,
        office: Office = None,
        as_of: AsOf = None,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> ComplaintList:
        """Exactly the complaints the dashboard counts in ``figure`` for the same office and
        ``as_of``, in the dashboard's order (``overdue`` and ``due_soon``: each complaint once,
        with the clocks that put it there in ``timers``)."""
        return await board_list(staff, office, as_of, figure, page, page_size)

    @app.get(
        DASHBOARD_LIST,
        summary="The complaints behind one count of the dashboard, as an HTML page",
        response_class=HTMLResponse,
        responses={303: {"description": "A browser without a session: to /login"}, **READS},
    )
    async def get_dashboard_complaints_page(
        staff: PageStaff,
        figure: FigureKey,
        office: Office = None,
        as_of: AsOf = None,
        page: PageNumber = 1,
        page_size: PageSize = DEFAULT_PAGE_SIZE,
    ) -> HTMLResponse:
        found = await board_list(staff, office, as_of, figure, page, page_size)
        back = url(DASHBOARD_PAGE, office=found.office, as_of=instant_text(found.as_of))
        return HTMLResponse(
            render_list_html(found, back=back, back_label="看板", this=DASHBOARD_LIST)
        )

    @app.middleware("http")
    async def drop_blank_fields(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """A console page's GET form sends its empty fields (``office=``, ``as_of=``) too:
        send the browser to the same page without them, so that empty means "not given".
        The report's form keeps its month filled in: when it sends a period (``from``/``to``)
        too, the period is what was picked (the JSON API answers both with a 422)."""
        if request.method == "GET" and request.url.path in CONSOLE_PAGES:
            pairs = request.query_params.multi_items()
            kept = [(k, v) for k, v in pairs if v.strip()]
            if request.url.path in (MONTHLY_PAGE, MONTHLY_LIST) and any(
                k in ("from", "to") for k, _ in kept
            ):
                kept = [(k, v) for k, v in kept if k != "month"]
            if len(kept) != len(pairs):
                target = request.url.path + (f"?{urlencode(kept)}" if kept else "")
                return RedirectResponse(target, status_code=303)
        return await call_next(request)

    json_handlers = {
        kind: app.exception_handlers[kind]
        for kind in (RequestValidationError, FieldErrors, StarletteHTTPException)
    }

    async def bad_input(request: Request, exc: Exception) -> Response:
        """Bad input on a console page asked for as HTML: the page's form again with what is
        wrong in zh-CN (422); anything else: the problem details every API answers."""
        path = request.url.path
        wants_page = "text/html" in request.headers.get("accept", "")
        if path not in CONSOLE_PAGES or not wants_page:
            kind = (
                RequestValidationError if isinstance(exc, RequestValidationError) else FieldErrors
            )
            return await _answer(json_handlers[kind], request, exc)
        try:
            staff = _page_reader(request)
        except StarletteHTTPException as refused:  # no session: to the login, as every page
            return await _answer(json_handlers[StarletteHTTPException], request, refused)
        problems = (
            validation_problems(exc.errors())
            if isinstance(exc, RequestValidationError)
            else field_problems(exc)
            if isinstance(exc, FieldErrors)
            else []
        )
        return HTMLResponse(
            render_invalid_html(
                "monthly" if path in (MONTHLY_PAGE, MONTHLY_LIST) else "dashboard",
                picker=await picker(staff, None),
                query=dict(request.query_params),
                problems=problems,
            ),
            status_code=422,
        )

    app.add_exception_handler(RequestValidationError, bad_input)
    app.add_exception_handler(FieldErrors, bad_input)

    app.state.service = service
    app.state.settings = settings
    return app


async def _answer(
    handler: Callable[[Request, Any], Response | Awaitable[Response]],
    request: Request,
    exc: Exception,
) -> Response:
    """What ``handler`` (an exception handler, sync or async) answers to ``exc``."""
    answer = handler(request, exc)
    return await answer if isawaitable(answer) else answer


def _page_reader(request: Request) -> Staff:
    """The reader of a page, as ``PageStaff`` finds them (bearer header, else the session);
    raises its redirect to the login (or 401) when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    return page_staff(request, credentials, request.cookies.get(SESSION_COOKIE))


def _attachment(query: ReportQuery, ext: str, sheet: str | None = None) -> dict[str, str]:
    """A Content-Disposition naming the file after the period (and scope, in UTF-8)."""
    parts = [
        "客户投诉工作月报",
        query.office or "全公司",
        str(query.period_from),
        str(query.period_to),
    ]
    if sheet is not None:
        parts.append(sheet)
    name = "_".join(parts) + f".{ext}"
    fallback = f"monthly-report_{query.period_from}_{query.period_to}" + (
        f"_{sheet}" if sheet else ""
    )
    return {
        "Content-Disposition": f'attachment; filename="{fallback}.{ext}"; '
        f"filename*=UTF-8''{quote(name)}"
    }


def _listed(staff: Staff, row: Any) -> ListedComplaint:
    """A row of a drill-down list, its complainant shown as ``staff`` may see them."""
    return listed(row, shown_complainant(staff, row["office"], row["complainant"]))

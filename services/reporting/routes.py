"""Reporting's HTTP routes (``services.reporting.spec`` adds them to the app); the module
``services.reporting.api`` documents every read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, Response

from services.reporting import reports, store
from services.reporting.dashboard import Dashboard, board_figure, render_dashboard_html
from services.reporting.drilldown import (
    DASHBOARD_LIST,
    DASHBOARD_PAGE,
    DEFAULT_PAGE_SIZE,
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
from services.reporting.invalid import ConsoleFieldError
from services.reporting.monthly import MonthlyReport, RecordFigure, find_figure
from services.reporting.params import (
    READS,
    AsOf,
    FigureKey,
    Office,
    PageNumber,
    PageParams,
    PageSize,
    ReportParams,
    ReportQuery,
    checked_instant,
)
from services.reporting.render import render_csv, render_html, render_xlsx
from services.reporting.views import ComplaintFacts, Stats
from services.runtime.app import PartsDep
from services.runtime.auth import (
    COMPANY_ROLES,
    CurrentStaff,
    Staff,
    check_office,
    office_scope,
    shown_complainant,
)
from services.runtime.login import PageStaff
from services.runtime.spec import Parts

router = APIRouter()
"""Every read of the reporting service."""


async def monthly(parts: Parts, query: ReportQuery) -> MonthlyReport:
    """The monthly report ``query`` asks for."""
    service, settings = parts.service, parts.settings
    async with service.pool.acquire() as conn:
        return await reports.monthly_report(
            conn,
            period_from=query.period_from,
            period_to=query.period_to,
            office=query.office,
            as_of=query.as_of,
            offices=settings.reporting_offices,
            document=parts.shared,
            pool=service.pool,
            current=query.current,
        )


async def picker(parts: Parts, staff: Staff, as_of: datetime | None) -> Picker:
    """The offices ``staff`` may pick on a console page (office-scoped roles: their own)."""
    if staff.role not in COMPANY_ROLES:
        return Picker(offices=(staff.office or "",), company=False, as_of=as_of)
    async with parts.service.pool.acquire() as conn:
        known = await reports.known_offices(
            conn, parts.settings.reporting_offices, checked_instant(as_of)
        )
    return Picker(offices=tuple(known), company=True, as_of=as_of)


async def monthly_list(
    parts: Parts, staff: Staff, query: ReportQuery, figure: str, page: int, page_size: int
) -> ComplaintList:
    chosen = find_figure(figure)
    if chosen is None:
        raise ConsoleFieldError(
            "figure", f"no figure of the report is {figure!r}", f"月报中没有“{figure}”这一项"
        )
    async with parts.service.pool.acquire() as conn:
        count, rows = await reports.monthly_figure(
            conn,
            key=figure,
            period_from=query.period_from,
            period_to=query.period_to,
            office=query.office,
            as_of=query.as_of,
            page=page,
            page_size=page_size,
            current=query.current,
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
    parts: Parts,
    staff: Staff,
    office: str | None,
    as_of: datetime | None,
    figure: str,
    page: int,
    page_size: int,
) -> ComplaintList:
    """The complaints behind ``figure`` of the dashboard, one page of them."""
    settings = parts.settings
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
    async with parts.service.pool.acquire() as conn:
        count, rows = await reports.board_figure(
            conn,
            figure=chosen,
            office=scope,
            as_of=at,
            page=page,
            page_size=page_size,
            hotspot_days=settings.reporting_hotspot_days,
            hotspot_min=settings.reporting_hotspot_min,
            current=as_of is None,
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


async def live(parts: Parts, office: str | None, as_of: datetime | None) -> Dashboard:
    """The dashboard of ``office`` (or the company) as of ``as_of``."""
    settings = parts.settings
    async with parts.service.pool.acquire() as conn:
        return await reports.dashboard(
            conn,
            office=office,
            as_of=checked_instant(as_of),
            hotspot_days=settings.reporting_hotspot_days,
            hotspot_min=settings.reporting_hotspot_min,
            current=as_of is None,
        )


@router.get(
    "/v1/complaints/{complaint_id}",
    summary="One complaint and its state (as of T)",
    responses=READS,
    response_model=ComplaintFacts,
)
async def get_complaint(
    parts: PartsDep, complaint_id: UUID, staff: CurrentStaff, as_of: AsOf = None
) -> dict[str, Any]:
    at = checked_instant(as_of)
    async with parts.service.pool.acquire() as conn:
        found = await reports.complaint(conn, complaint_id, at)
    if found is None:
        raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
    check_office(staff, found["office"])
    found["complainant"] = shown_complainant(staff, found["office"], found["complainant"])
    return found


@router.get(
    "/v1/stats",
    summary="Complaints received per office, channel and day",
    responses={401: READS[401]},
    response_model=Stats,
)
async def get_stats(parts: PartsDep, staff: CurrentStaff) -> dict[str, Any]:
    """Office-scoped roles count their own office only."""
    async with parts.service.pool.acquire() as conn:
        return await store.stats(conn, office_scope(staff, None))


@router.get(
    "/v1/reports/monthly",
    summary="The monthly report (客户投诉工作月报) as JSON",
    response_model=MonthlyReport,
    responses=READS,
)
async def get_monthly(parts: PartsDep, query: ReportParams) -> Response:
    # Written by pydantic-core at once: FastAPI would validate the report again, dump it to
    # Python and encode that (a company-wide month is 1.2 MB: 20 ms against 11 ms).
    report = await monthly(parts, query)
    return Response(report.model_dump_json(), media_type="application/json")


@router.get(
    "/v1/reports/monthly.xlsx",
    summary="The monthly report as an Excel workbook (汇总, 文字部分, 环比同比, 附件1, 附件2)",
    response_class=Response,
    responses=READS,
)
async def get_monthly_xlsx(parts: PartsDep, query: ReportParams) -> Response:
    report = await monthly(parts, query)
    return Response(
        render_xlsx(report),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=_attachment(query, "xlsx"),
    )


@router.get(
    "/v1/reports/monthly.csv",
    summary="One sheet of the monthly report as CSV (UTF-8 with a byte-order mark)",
    response_class=Response,
    responses=READS,
)
async def get_monthly_csv(
    parts: PartsDep,
    query: ReportParams,
    sheet: Annotated[
        Literal["summary", "written", "comparisons", "attachment1", "attachment2"],
        Query(
            description="汇总 (summary), 文字部分 (written), 环比同比 (comparisons), "
            "附件1 (attachment1) or 附件2 (attachment2)"
        ),
    ] = "summary",
) -> Response:
    report = await monthly(parts, query)
    return Response(
        render_csv(report, sheet).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers=_attachment(query, "csv", sheet),
    )


@router.get(
    "/reports/monthly",
    summary="The monthly report as an HTML page with charts",
    response_class=HTMLResponse,
    responses={303: {"description": "A browser without a session: to /login"}, **READS},
)
async def get_monthly_page(
    parts: PartsDep, staff: PageStaff, query: PageParams, as_of: AsOf = None
) -> HTMLResponse:
    return HTMLResponse(
        render_html(
            await monthly(parts, query),
            picker=await picker(parts, staff, query.as_of if as_of else None),
        )
    )


@router.get(
    "/v1/reports/monthly/complaints",
    summary="The complaints behind one count of the monthly report",
    responses=READS,
)
async def get_monthly_complaints(
    parts: PartsDep,
    staff: CurrentStaff,
    query: ReportParams,
    figure: FigureKey,
    page: PageNumber = 1,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
) -> ComplaintList:
    """Exactly the complaints the report counts in ``figure`` for the same period, office
    and ``as_of`` (as many as the count), oldest first, complainants as the reader may
    see them."""
    return await monthly_list(parts, staff, query, figure, page, page_size)


@router.get(
    MONTHLY_LIST,
    summary="The complaints behind one count of the monthly report, as an HTML page",
    response_class=HTMLResponse,
    responses={303: {"description": "A browser without a session: to /login"}, **READS},
)
async def get_monthly_complaints_page(
    parts: PartsDep,
    staff: PageStaff,
    query: PageParams,
    figure: FigureKey,
    page: PageNumber = 1,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
) -> HTMLResponse:
    found = await monthly_list(parts, staff, query, figure, page, page_size)
    back = url(
        MONTHLY_PAGE,
        **monthly_params(query.period_from, query.period_to, query.office, query.as_of),
    )
    return HTMLResponse(render_list_html(found, back=back, back_label="月报", this=MONTHLY_LIST))


@router.get("/v1/dashboard", summary="The live dashboard (投诉实时看板) as JSON", responses=READS)
async def get_dashboard(
    parts: PartsDep, staff: CurrentStaff, office: Office = None, as_of: AsOf = None
) -> Dashboard:
    return await live(parts, office_scope(staff, office), as_of)


@router.get(
    "/dashboard",
    summary="The live dashboard as an HTML page",
    response_class=HTMLResponse,
    responses={303: {"description": "A browser without a session: to /login"}, **READS},
)
async def get_dashboard_page(
    parts: PartsDep, staff: PageStaff, office: Office = None, as_of: AsOf = None
) -> HTMLResponse:
    board = await live(parts, office_scope(staff, office), as_of)
    return HTMLResponse(
        render_dashboard_html(
            board,
            refresh_seconds=None if as_of is not None else 60,
            picker=await picker(parts, staff, as_of),
        )
    )


@router.get(
    "/v1/dashboard/complaints",
    summary="The complaints behind one count of the dashboard",
    responses=READS,
)
async def get_dashboard_complaints(
    parts: PartsDep,
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
    return await board_list(parts, staff, office, as_of, figure, page, page_size)


@router.get(
    DASHBOARD_LIST,
    summary="The complaints behind one count of the dashboard, as an HTML page",
    response_class=HTMLResponse,
    responses={303: {"description": "A browser without a session: to /login"}, **READS},
)
async def get_dashboard_complaints_page(
    parts: PartsDep,
    staff: PageStaff,
    figure: FigureKey,
    office: Office = None,
    as_of: AsOf = None,
    page: PageNumber = 1,
    page_size: PageSize = DEFAULT_PAGE_SIZE,
) -> HTMLResponse:
    found = await board_list(parts, staff, office, as_of, figure, page, page_size)
    back = url(DASHBOARD_PAGE, office=found.office, as_of=instant_text(found.as_of))
    return HTMLResponse(render_list_html(found, back=back, back_label="看板", this=DASHBOARD_LIST))


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

"""The analyst console's page behaviour beside its routes: blank form fields dropped, and bad
input on a page answered with the page's form again (zh-CN), not the API's problem details."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from inspect import isawaitable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.reporting.drilldown import CONSOLE_PAGES, MONTHLY_LIST, MONTHLY_PAGE
from services.reporting.invalid import field_problems, render_invalid_html, validation_problems
from services.reporting.routes import picker
from services.runtime.auth import SESSION_COOKIE, Staff
from services.runtime.http import FieldErrors
from services.runtime.login import install_login, page_staff
from services.runtime.spec import Parts


def install_console(app: FastAPI, parts: Parts) -> None:
    """The login, and the console pages' handling of blank fields and bad input."""
    install_login(app, offices=parts.settings.reporting_offices)
    app.middleware("http")(drop_blank_fields)
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
            staff = await _page_reader(request)
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
                picker=await picker(parts, staff, None),
                query=dict(request.query_params),
                problems=problems,
            ),
            status_code=422,
        )

    app.add_exception_handler(RequestValidationError, bad_input)
    app.add_exception_handler(FieldErrors, bad_input)


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


async def _answer(
    handler: Callable[[Request, Any], Response | Awaitable[Response]],
    request: Request,
    exc: Exception,
) -> Response:
    """What ``handler`` (an exception handler, sync or async) answers to ``exc``."""
    answer = handler(request, exc)
    return await answer if isawaitable(answer) else answer


async def _page_reader(request: Request) -> Staff:
    """The reader of a page, as ``PageStaff`` finds them (bearer header, else the session);
    raises its redirect to the login (or 401) when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    return await page_staff(request, credentials, request.cookies.get(SESSION_COOKIE))

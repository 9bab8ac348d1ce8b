"""A browser's session: pages (the monthly report, the dashboard) cannot send a bearer header.

``GET /login`` is a form where one pastes a staff token (``complaints token``); in local mode it
also lists development identities, whose tokens it signs with the local development secret.
``POST /login`` verifies the token and keeps it in an HttpOnly, SameSite=Lax cookie
(``SESSION_COOKIE``) that lives no longer than the token itself; ``POST /logout`` drops it.
``current_staff`` (``services.runtime.auth``) accepts that cookie as it accepts the header, and
``PageStaff`` sends a browser without a valid session to ``/login?next=<the page>`` (303), and
answers any other client 401 like every API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Annotated
from urllib.parse import parse_qs, quote

import jwt
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.runtime.auth import (
    COMPANY_ROLES,
    SESSION_COOKIE,
    BearerCredentials,
    SessionToken,
    Staff,
    StaffRole,
    issue_token,
    verify_token,
)
from services.runtime.settings import Environment, Settings

DEV_IDENTITIES = (
    Staff(staff_id="dev-analyst", role=StaffRole.ANALYST),
    Staff(staff_id="dev-company", role=StaffRole.COMPANY),
)
"""Company-wide development identities offered in local mode (offices' heads are added)."""
MAX_FORM_BYTES = 16 * 1024


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this service only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def page_staff(request: Request, credentials: BearerCredentials, session: SessionToken) -> Staff:
    """FastAPI dependency for pages: the session's (or bearer header's) staff member; else a
    browser (it accepts ``text/html``) is sent to the login with a 303, anything else gets the
    401 every other read answers."""
    token = credentials.credentials if credentials else session
    if token:
        try:
            return verify_token(request.app.state.settings, token)
        except ValueError:
            pass
    if "text/html" not in request.headers.get("accept", ""):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="Authorization: a staff bearer token or a session (/login) is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise HTTPException(
        status.HTTP_303_SEE_OTHER,
        detail="a session is required: log in",
        headers={"Location": f"/login?next={quote(here, safe='')}"},
    )


PageStaff = Annotated[Staff, Depends(page_staff)]


def _identities(
    settings: Settings, offices: list[str], roles: tuple[StaffRole, ...] = (StaffRole.CS_HEAD,)
) -> list[Staff]:
    """Local mode's identities: the company-wide ones, each office's head (``dev-head-<n>``),
    then each office's other ``roles`` (``dev-<role>-<n>``), in that order: a form's choice
    is an index into this list."""
    if settings.env is not Environment.LOCAL:
        return []
    heads = [
        Staff(staff_id=f"dev-head-{i}", role=StaffRole.CS_HEAD, office=office)
        for i, office in enumerate(offices, 1)
        if StaffRole.CS_HEAD in roles
    ]
    others = [
        Staff(staff_id=f"dev-{role.value}-{i}", role=role, office=office)
        for role in roles
        if role is not StaffRole.CS_HEAD and role not in COMPANY_ROLES
        for i, office in enumerate(offices, 1)
    ]
    return [*DEV_IDENTITIES, *heads, *others]


def _form(
    settings: Settings,
    offices: list[str],
    target: str,
    error: str = "",
    roles: tuple[StaffRole, ...] = (StaffRole.CS_HEAD,),
) -> str:
    options = "".join(
        f'<button name="identity" value="{i}">{escape(s.staff_id)} · {escape(s.role.value)}'
        f"{' · ' + escape(s.office) if s.office else ''}</button> "
        for i, s in enumerate(_identities(settings, offices, roles))
    )
    dev = (
        f"<h2>Development identities (local mode)</h2><form method=post>"
        f'<input type=hidden name=next value="{escape(target)}">{options}</form>'
        if options
        else ""
    )
    problem = f'<p role="alert">{escape(error)}</p>' if error else ""
    return (
        '<!doctype html><html lang="zh"><meta charset="utf-8"><title>登录 · Log in</title>'
        f"<h1>登录 · Log in</h1>{problem}<form method=post>"
        f'<input type=hidden name=next value="{escape(target)}">'
        "<label>Staff token (<code>complaints token</code>) "
        '<textarea name="token" rows="4" cols="80" required></textarea></label>'
        f"<button>Log in</button></form>{dev}</html>"
    )


def install_login(
    app: FastAPI,
    *,
    offices: list[str] | None = None,
    roles: tuple[StaffRole, ...] = (StaffRole.CS_HEAD,),
) -> None:
    """Add ``GET``/``POST /login`` and ``POST /logout`` to ``app`` (whose ``state.settings``
    verifies tokens); in local mode, development identities are offered for each of
    ``offices`` in each office-scoped role of ``roles`` (the head by default)."""
    router = APIRouter(tags=["session"])
    listed = list(offices or [])

    @router.get("/login", summary="The login form", response_class=HTMLResponse)
    async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
        return HTMLResponse(_form(request.app.state.settings, listed, safe_next(next), roles=roles))

    @router.post(
        "/login",
        summary="Start a session from a token (or, in local mode, a development identity)",
        response_class=Response,
        responses={303: {"description": "Logged in: to `next`"}, 401: {"description": "Bad"}},
    )
    async def login(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(413, detail="body: the form is too large")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        target = safe_next(form.get("next"))
        token = form.get("token", "").strip()
        identities = _identities(settings, listed, roles)
        choice = form.get("identity", "")
        if not token and choice in {str(i) for i in range(len(identities))}:
            token = issue_token(settings, identities[int(choice)])
        try:
            verify_token(settings, token)
        except ValueError as exc:
            problem = f"token: {exc}" if token else "token: empty"
            page = _form(settings, listed, target, problem, roles=roles)
            return HTMLResponse(page, status_code=401)
        expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
        answer = RedirectResponse(target, status_code=303)
        answer.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=max(0, expires - int(datetime.now(UTC).timestamp())),
            httponly=True,
            samesite="lax",
            secure=settings.env is not Environment.LOCAL,
            path="/",
        )
        return answer

    @router.post("/logout", summary="End the session", response_class=Response)
    async def logout() -> Response:
        answer = RedirectResponse("/login", status_code=303)
        answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return answer

    app.include_router(router)

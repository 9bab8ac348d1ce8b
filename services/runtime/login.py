"""A browser's session: pages (the monthly report, the dashboard, the workbench) cannot send a
bearer header.

``GET /login`` is a form where one pastes a staff token (``complaints token``); in local mode it
also lists development identities, whose tokens it signs with the local development secret.
``POST /login`` verifies the token and keeps it in an HttpOnly, SameSite=Lax *session* cookie
(``SESSION_COOKIE``: no expiry of its own, so closing the browser on a shared front-desk PC ends
it; the token's own ``exp`` still bounds it); ``POST /logout`` drops it. ``current_staff``
(``services.runtime.auth``) accepts that cookie as it accepts the header, and ``PageStaff`` sends
a browser without a valid session to ``/login?next=<the page>`` (303), and answers any other
client 401 like every API. A form posted after the session expired goes back to the page it
was on (never to the form's action, which has no GET), and the login says why.

Cross-site request forgery: SameSite=Lax is not enough (IE11 and the 360/QQ browsers'
compatibility mode ignore it, and a sibling subdomain is same-site). So every state-changing
form of a page carries ``csrf`` = HMAC(the secret that signed the session's token, the token),
which ``check_csrf`` compares in constant time (403 otherwise); ``POST /login``, which needs
no cookie, is refused from another origin (``Sec-Fetch-Site``, else ``Origin``/``Referer``
against ``Host``: no login CSRF planting someone else's session); and ``PageHeaders`` gives
every HTML response ``X-Frame-Options: DENY``, a script-free Content-Security-Policy and
``Cache-Control: no-store`` (pages show complainants' names and phone numbers).
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import Annotated
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.auth import (
    COMPANY_ROLES,
    SESSION_COOKIE,
    BearerCredentials,
    SessionToken,
    Staff,
    StaffRole,
    issue_token,
    verification_secret,
    verify_token,
)
from services.runtime.http import add_routes
from services.runtime.settings import Environment, Settings

DEV_IDENTITIES = (
    Staff(staff_id="dev-analyst", role=StaffRole.ANALYST),
    Staff(staff_id="dev-company", role=StaffRole.COMPANY),
)
"""Company-wide development identities offered in local mode (offices' heads are added)."""
MAX_FORM_BYTES = 16 * 1024
CSRF_FIELD = "csrf"
"""The hidden field of every state-changing form of a page (``csrf_token``)."""
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'"
)
"""The pages' policy: no script at all (none of them uses one), inline styles and SVG, forms
to this service only, never in a frame."""
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
}
"""Sent with every HTML response of a service that installs the login (``PageHeaders``)."""
EXPIRED = "会话已过期，请重新登录。"


class PageHeaders:
    """ASGI middleware: ``PAGE_HEADERS`` on every ``text/html`` response (a header a response
    sets itself is kept). Pure ASGI, so streamed downloads pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in PAGE_HEADERS.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """A posted ``application/x-www-form-urlencoded`` form (each field's first value),
    refused with 413 naming the body before it is read when its Content-Length is over
    ``limit``, and while it is read as soon as it grows past it (no Content-Length)."""
    too_large = HTTPException(413, detail=f"body: the form is larger than {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def csrf_token(settings: Settings, session: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of its token under the secret that signed it,
    truncated; ``""`` for a session token no secret verifies (it opens nothing)."""
    try:
        secret = verification_secret(settings, session)
    except ValueError:
        return ""
    digest = hmac.new(secret.encode(), b"csrf\x00" + session.encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def page_csrf(request: Request) -> str:
    """The ``csrf`` value the forms of a page rendered for ``request`` carry."""
    session = request.cookies.get(SESSION_COOKIE, "")
    return csrf_token(request.app.state.settings, session) if session else ""


def csrf_refusal(request: Request, form: dict[str, str]) -> str | None:
    """Why a form posted with the session cookie is not this session's own (zh-CN), or
    ``None``. A request with a bearer header needs none: no other site can make a browser
    send one."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return None
    expected = page_csrf(request)
    if expected and hmac.compare_digest(form.get(CSRF_FIELD, ""), expected):
        return None
    return "表单校验失败（CSRF）：请求不是从本系统的页面提交的，或页面已过期。请刷新页面后重试。"


def cross_origin(request: Request) -> bool:
    """Whether a request comes from another origin: by ``Sec-Fetch-Site`` when the browser
    sends it (only ``same-origin`` and ``none``, typed or bookmarked, are ours), else by an
    ``Origin`` or ``Referer`` naming another host than ``Host`` (neither sent: not known to
    be cross-origin)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in {"same-origin", "none"}
    host = request.headers.get("host", "")
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            return urlsplit(value).netloc != host
    return False


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this service only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def page_staff(  # async: a plain def would hop to a worker thread per request
    request: Request, credentials: BearerCredentials, session: SessionToken
) -> Staff:
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
    here = _back_to(request)
    expired = "&expired=true" if session or request.method not in {"GET", "HEAD"} else ""
    raise HTTPException(
        status.HTTP_303_SEE_OTHER,
        detail="a session is required: log in",
        headers={"Location": f"/login?next={quote(here, safe='')}{expired}"},
    )


def _back_to(request: Request) -> str:
    """Where to return after logging in: the page itself for a GET; for a form posted to
    ``<page>/commands/…`` (or any other action), the page the form was on — its same-origin
    ``Referer``, else the action's page — since an action has no GET (a 405 after login)."""
    if request.method in {"GET", "HEAD"}:
        return request.url.path + (f"?{request.url.query}" if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc == request.headers.get("host"):
        return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))
    path = request.url.path
    return path.split("/commands/", 1)[0] if "/commands/" in path else "/"


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
    notice: str = "",
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
    problem += f'<p role="status" id="expired">{escape(notice)}</p>' if notice else ""
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
    async def login_form(
        request: Request, next: str | None = None, expired: bool = False
    ) -> HTMLResponse:
        notice = EXPIRED if expired else ""
        page = _form(
            request.app.state.settings, listed, safe_next(next), roles=roles, notice=notice
        )
        return HTMLResponse(page)

    @router.post(
        "/login",
        summary="Start a session from a token (or, in local mode, a development identity)",
        response_class=Response,
        responses={
            303: {"description": "Logged in: to `next`"},
            401: {"description": "Bad"},
            403: {"description": "Posted from another origin (login CSRF)"},
            413: {"description": "The form is too large"},
        },
    )
    async def login(request: Request) -> Response:
        return await _login(request, listed, roles)

    @router.post(
        "/logout",
        summary="End the session",
        response_class=Response,
        responses={
            303: {"description": "Logged out: to /login"},
            403: {"description": "The form's csrf is not this session's"},
        },
    )
    async def logout(request: Request) -> Response:
        return await _logout(request)

    add_routes(app, router)
    app.add_middleware(PageHeaders)


async def _login(request: Request, listed: list[str], roles: tuple[StaffRole, ...]) -> Response:
    """A session from the posted token (or development identity): to ``next`` when it
    verifies, the form again with why when it does not, refused from another origin."""
    settings: Settings = request.app.state.settings
    if cross_origin(request):
        page = _form(settings, listed, "/", "登录请求来自其他网站，已拒绝。", roles=roles)
        return HTMLResponse(page, status_code=403)
    form = await read_form(request, MAX_FORM_BYTES)
    target = safe_next(form.get("next"))
    token = _posted_token(settings, form, listed, roles)
    try:
        verify_token(settings, token)
    except ValueError as exc:
        problem = f"token: {exc}" if token else "token: empty"
        page = _form(settings, listed, target, problem, roles=roles)
        return HTMLResponse(page, status_code=401)
    return _session(settings, target, token)


def _posted_token(
    settings: Settings, form: dict[str, str], listed: list[str], roles: tuple[StaffRole, ...]
) -> str:
    """The token the login form posted, or one issued for the development identity it picked
    (offered in local mode only)."""
    token = form.get("token", "").strip()
    identities = _identities(settings, listed, roles)
    choice = form.get("identity", "")
    if not token and choice in {str(i) for i in range(len(identities))}:
        token = issue_token(settings, identities[int(choice)])
    return token


def _session(settings: Settings, target: str, token: str) -> Response:
    """To ``target``, with ``token`` as the session cookie (no max_age: it ends with the
    browser, and the token's exp bounds it)."""
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.env is not Environment.LOCAL,
        path="/",
    )
    return answer


async def _logout(request: Request) -> Response:
    """End the session, unless a live session's logout comes from a form not its own."""
    form = await read_form(request, MAX_FORM_BYTES)
    session = request.cookies.get(SESSION_COOKIE, "")
    refusal = csrf_refusal(request, form)
    if session and refusal is not None and page_csrf(request):
        # a live session, and a form that is not its own: a forged logout
        return HTMLResponse(
            '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>退出失败</title>'
            f'<h1>退出失败</h1><p role="alert">{escape(refusal)}</p></html>',
            status_code=403,
        )
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return answer

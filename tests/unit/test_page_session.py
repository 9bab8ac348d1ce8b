"""The browser session of the pages (``services.runtime.login``) against forgery and shared
PCs: a login posted from another site is refused, a forged logout too; the cookie dies with
the browser; every HTML answer is unframeable, script-free and uncached; a form posted after
the session expired returns to its page; a too-large form is refused before it is read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from services.runtime.auth import SESSION_COOKIE, Staff, StaffRole, issue_token
from services.runtime.login import (
    CONTENT_SECURITY_POLICY,
    MAX_FORM_BYTES,
    PageStaff,
    csrf_refusal,
    csrf_token,
    install_login,
    read_form,
)
from services.runtime.settings import Settings

SETTINGS = Settings()
HEAD = Staff(staff_id="head-1", role=StaffRole.CS_HEAD, office="测试园")
BASE = "http://pages.test"


def _app() -> FastAPI:
    app = FastAPI()
    app.state.settings = SETTINGS

    @app.get("/things/{thing}", response_class=HTMLResponse)
    async def thing(thing: str, staff: PageStaff) -> HTMLResponse:
        return HTMLResponse(f"<p>{thing} for {staff.staff_id}</p>")

    @app.post("/things/{thing}/commands/{name}", response_class=HTMLResponse)
    async def command(request: Request, thing: str, name: str, staff: PageStaff) -> HTMLResponse:
        form = await read_form(request, MAX_FORM_BYTES)
        refusal = csrf_refusal(request, form)
        return HTMLResponse(refusal or "done", status_code=403 if refusal else 200)

    @app.get("/data")
    async def data() -> dict[str, str]:
        return {"json": "yes"}

    install_login(app, offices=["测试园"])
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


def _logged_in(client: httpx.AsyncClient) -> str:
    token = issue_token(SETTINGS, HEAD)
    client.cookies.set(SESSION_COOKIE, token)
    return token


async def test_a_login_posted_from_another_site_is_refused(client: httpx.AsyncClient) -> None:
    token = issue_token(SETTINGS, HEAD)
    for headers in (
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
        {"Origin": "http://evil.test"},
        {"Referer": "http://evil.test/page"},
        {"Origin": "null"},
    ):
        answer = await client.post("/login", data={"token": token}, headers=headers)
        assert answer.status_code == 403, headers
        assert "其他网站" in answer.text
        assert SESSION_COOKIE not in answer.cookies
    for headers in (
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": BASE},
        {"Referer": f"{BASE}/login?next=/"},
        {},  # an old browser that sends none of them
    ):
        answer = await client.post("/login", data={"token": token}, headers=headers)
        assert answer.status_code == 303, headers


async def test_the_session_cookie_ends_with_the_browser(client: httpx.AsyncClient) -> None:
    answer = await client.post("/login", data={"token": issue_token(SETTINGS, HEAD)})
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "max-age" not in cookie and "expires" not in cookie


async def test_every_html_answer_is_unframeable_scriptless_and_uncached(
    client: httpx.AsyncClient,
) -> None:
    _logged_in(client)
    for path in ("/login", "/things/a"):
        answer = await client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 200
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "script-src" not in CONTENT_SECURITY_POLICY
        assert answer.headers["cache-control"] == "no-store"
    data = await client.get("/data")
    assert "content-security-policy" not in data.headers


async def test_a_form_needs_the_sessions_csrf_token(client: httpx.AsyncClient) -> None:
    token = _logged_in(client)
    right = csrf_token(SETTINGS, token)
    assert len(right) == 32
    forged = await client.post("/things/a/commands/close", data={"csrf": "0" * 32})
    assert forged.status_code == 403 and "CSRF" in forged.text
    missing = await client.post("/things/a/commands/close", data={})
    assert missing.status_code == 403
    other = csrf_token(SETTINGS, issue_token(SETTINGS, HEAD.model_copy(update={"staff_id": "x"})))
    assert other != right
    stolen = await client.post("/things/a/commands/close", data={"csrf": other})
    assert stolen.status_code == 403
    own = await client.post("/things/a/commands/close", data={"csrf": right})
    assert own.status_code == 200 and own.text == "done"
    # a bearer header is no browser's ambient credential: no token needed
    client.cookies.clear()
    bearer = await client.post(
        "/things/a/commands/close", headers={"Authorization": f"Bearer {token}"}
    )
    assert bearer.status_code == 200


async def test_a_forged_logout_is_refused(client: httpx.AsyncClient) -> None:
    token = _logged_in(client)
    forged = await client.post("/logout", data={})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    own = await client.post("/logout", data={"csrf": csrf_token(SETTINGS, token)})
    assert own.status_code == 303
    assert f'{SESSION_COOKIE}="";' in own.headers["set-cookie"] or "max-age=0" in (
        own.headers["set-cookie"].lower()
    )


async def test_a_form_posted_after_the_session_expired_returns_to_its_page(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set(SESSION_COOKIE, "expired.or.garbage")
    html = {"Accept": "text/html"}
    posted = await client.post("/things/a/commands/close", data={"x": "1"}, headers=html)
    assert posted.status_code == 303
    assert posted.headers["location"] == "/login?next=%2Fthings%2Fa&expired=true"
    # the Referer (same origin) is the page the form was on, query and all
    referred = await client.post(
        "/things/a/commands/close",
        headers={**html, "Referer": f"{BASE}/things/a?done=x"},
    )
    assert referred.headers["location"] == "/login?next=%2Fthings%2Fa%3Fdone%3Dx&expired=true"
    login = await client.get("/login?next=/things/a&expired=true")
    assert "会话已过期，请重新登录" in login.text
    # a GET of a page keeps its own address; without any session, no word of expiry
    client.cookies.clear()
    got = await client.get("/things/b", headers=html)
    assert got.headers["location"] == "/login?next=%2Fthings%2Fb"
    assert "会话已过期" not in (await client.get("/login?next=/things/b")).text


@pytest.mark.parametrize("path", ["/login", "/logout"])
async def test_a_too_large_form_is_refused_before_it_is_read(path: str) -> None:
    app = _app()
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"token=" + b"x" * 100, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"pages.test"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(10 * MAX_FORM_BYTES).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("pages.test", 80),
        "state": {},
        "extensions": {},
        "request_id": str(uuid.uuid4()),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert b"body" in b"".join(m.get("body", b"") for m in sent)
    assert reads == 0


async def test_a_form_without_a_length_is_cut_off_once_too_large() -> None:
    chunks = [b"a=" + b"x" * 1000] * 100
    request = Request(
        {"type": "http", "method": "POST", "headers": [], "query_string": b""},
        receive=_stream(chunks),
    )
    with pytest.raises(HTTPException) as refused:
        await read_form(request, 16 * 1024)
    assert refused.value.status_code == 413


def _stream(chunks: list[bytes]) -> Any:
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        body = pending.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    return receive

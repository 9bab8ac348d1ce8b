"""What every service's HTTP side shares: health, readiness, metrics, request logs, clear 422s."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime.logs import bound
from services.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS

log = logging.getLogger("complaints.http")

ReadinessCheck = Callable[[], Awaitable[bool]]


class FieldErrors(Exception):
    """Bad input found after parsing (a rule across fields, a time in the future): a 422."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


PROBLEM_JSON = "application/problem+json"


class Health(BaseModel):
    """``/healthz``: the process answers."""

    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    """``/readyz``: each check (broker, database, consumers caught up enough) and the verdict."""

    status: Literal["ready", "not ready"]
    checks: dict[str, bool]


class FieldError(BaseModel):
    """One bad input field and why."""

    field: str = Field(description="The field, dotted (``complainant.phone``), or ``body``")
    reason: str = Field(description="Why its value was refused")


class Problem(BaseModel):
    """Every error answer: RFC 9457 problem details (``application/problem+json``).

    ``detail`` says what is wrong in one line; a 422 lists each bad field in ``errors``; a 409
    of the workflow adds the complaint's ``complaint_status`` and ``version``.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field("about:blank", description="No type URIs beyond the HTTP status")
    title: str = Field(description="The HTTP status's phrase")
    status: int = Field(description="The HTTP status code")
    detail: str = Field(description="What is wrong, for a person")
    instance: str | None = Field(None, description="The request's path")
    errors: list[FieldError] | None = Field(
        None, description="422: every bad field with its reason"
    )


def problem(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem-details answer (RFC 9457)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


def _unprocessable(request: Request, errors: list[dict[str, str]]) -> JSONResponse:
    summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return problem(422, summary, instance=request.url.path, errors=errors)


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what the answers are: every error response is a
    ``Problem`` as ``application/problem+json`` (FastAPI's own 422 schema is not what we send)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        schemas.update(
            {
                name: schema
                for name, schema in TypeAdapter(Problem)
                .json_schema(ref_template="#/components/schemas/{model}")
                .pop("$defs", {})
                .items()
            }
        )
        schemas["Problem"] = {
            k: v
            for k, v in TypeAdapter(Problem)
            .json_schema(ref_template="#/components/schemas/{model}")
            .items()
            if k != "$defs"
        }
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in doc.get("paths", {}).items():
            if path in _OPERATIONS:  # /readyz answers 503 with its checks, not a problem
                continue
            for operation in operations.values():
                for code, response in operation.get("responses", {}).items():
                    if code[:1] in ("4", "5"):
                        response["content"] = content
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def field_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic's error list as ``{"field": "complainant.phone", "reason": "..."}`` items."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        reason = str(err.get("msg", "invalid"))
        out.append({"field": ".".join(loc) or "body", "reason": reason})
    return out


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """``router``'s routes on ``app``'s own router, each matched directly.

    Since FastAPI 0.137, ``include_router`` keeps the included router as one node of the app's
    routes, resolved again at every request: a context per candidate route, pushed into and
    popped from the scope. For intake's app that was 10–15 µs of every request (the 401 of
    ``POST /v1/complaints`` 104–109 against 116–130 µs, ``/healthz`` 58–60 against 62–71,
    measured in process), while the baseline it is compared with declares its route on the
    app. Our routers are included as they are (no prefix, tags or dependencies at the
    include), so their routes are the app's routes as declared. What this gives up:
    ``app.dependency_overrides`` does not reach them (nothing here uses it); a router with
    what only ``include_router`` carries over (its own startup or shutdown handlers, its
    lifespan, a frontend, a router nested in it) is refused rather than silently cut short.
    """
    flat = all(hasattr(route, "path") for route in router.routes)  # an included router has none
    own_lifespan = not isinstance(router.lifespan_context, type(APIRouter().lifespan_context))
    frontend = getattr(router, "_low_priority_routes", [])  # FastAPI keeps ``frontend()`` there
    if router.on_startup or router.on_shutdown or own_lifespan or frontend or not flat:
        raise ValueError("add_routes takes a flat router without handlers, lifespan or frontend")
    app.router.routes.extend(router.routes)


def install_common(app: FastAPI, *, service: str, readiness: dict[str, ReadinessCheck]) -> None:
    """Add ``/healthz``, ``/readyz``, ``/metrics``, request metrics and logs, the 422 format."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> Health:
        return Health(status="ok", service=service)

    @router.get(
        "/readyz",
        summary="Broker, database and consumers are ready",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: the checks say why"}},
    )
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in readiness.items()}
        ready = all(results.values())
        return JSONResponse(
            Readiness(status="ready" if ready else "not ready", checks=results).model_dump(),
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    add_routes(app, router)

    @app.exception_handler(RequestValidationError)
    async def unprocessable(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _unprocessable(request, field_errors(exc.errors()))

    @app.exception_handler(FieldErrors)
    async def bad_fields(request: Request, exc: FieldErrors) -> JSONResponse:
        return _unprocessable(request, exc.errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code < 400:  # a redirect raised as an exception keeps its own shape
            return Response(status_code=exc.status_code, headers=exc.headers)
        return problem(
            exc.status_code, str(exc.detail), instance=request.url.path, headers=exc.headers
        )

    _document_problems(app)

    app.add_middleware(RequestObserver, service=service)


_OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})
_COMPLAINT_IN_PATH = re.compile(r"/complaints/([0-9a-fA-F-]{36})(?:/|$)")
_CORRELATION = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_PEEK_LIMIT = 64 * 1024  # a JSON answer this small may name the complaint it created


class RequestObserver:
    """Per request: bind the log ids, count and time it, and log one line at info.

    ``correlation_id`` is the caller's ``X-Correlation-Id`` (or a new one), echoed in the
    answer; ``complaint_id`` comes from the path, or else from a small JSON answer that names
    one (intake's 202). Health, readiness and metrics requests are logged at debug only.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _metrics(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The request counter's and timer's children for these labels, asked of
        prometheus_client once (``labels`` takes a lock and builds a key on every call)."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                HTTP_SECONDS.labels(self.service, route),
            )
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        asked = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"x-correlation-id"),
            "",
        )
        correlation_id = asked if _CORRELATION.match(asked) else os.urandom(16).hex()
        found = _COMPLAINT_IN_PATH.search(path)
        level = logging.DEBUG if path in _OPERATIONS else logging.INFO
        logged = log.isEnabledFor(level)  # else the answer is not peeked at for its line
        status = 500
        peek: list[bytes] = []
        json_answer = False

        async def observe_send(message: Message) -> None:
            nonlocal status, json_answer
            if message["type"] == "http.response.start":
                status = int(message["status"])
                answer = MutableHeaders(scope=message)
                answer["X-Correlation-Id"] = correlation_id
                size = answer.get("content-length", "")
                json_answer = (
                    logged
                    and answer.get("content-type", "").startswith("application/json")
                    and size.isdigit()
                    and int(size) < _PEEK_LIMIT
                )
            elif message["type"] == "http.response.body" and json_answer and found is None:
                peek.append(message.get("body", b""))
            await send(message)

        started = time.perf_counter()
        with bound(correlation_id=correlation_id, complaint_id=found and found.group(1)):
            try:
                await self.app(scope, receive, observe_send)
            finally:
                elapsed = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", "unmatched")
                counted, timed = self._metrics(scope["method"], route, status)
                counted.inc()
                timed.observe(elapsed)
                if logged:
                    complaint_id = None if found else _complaint_in(peek)
                    with bound(complaint_id=complaint_id):
                        log.log(
                            level,
                            "%s %s %d",
                            scope["method"],
                            path,
                            status,
                            extra={
                                "method": scope["method"],
                                "route": route,
                                "path": path,
                                "status": status,
                                "duration_ms": round(elapsed * 1000, 1),
                            },
                        )


def _complaint_in(chunks: list[bytes]) -> str | None:
    """The ``complaint_id`` a JSON answer names at its top level, if it is small and does."""
    body = b"".join(chunks)
    if not body or len(body) >= _PEEK_LIMIT or b'"complaint_id"' not in body:
        return None
    try:
        found = json.loads(body).get("complaint_id")
    except (ValueError, AttributeError):
        return None
    return str(found) if found is not None else None

"""What every service's HTTP side shares: health, readiness, metrics, and clear 422 errors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.runtime.metrics import HTTP_REQUESTS, HTTP_SECONDS

ReadinessCheck = Callable[[], Awaitable[bool]]


class FieldErrors(Exception):
    """Bad input found after parsing (a rule across fields, a time in the future): a 422."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


def _unprocessable(errors: list[dict[str, str]]) -> JSONResponse:
    summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
    return JSONResponse({"detail": summary, "errors": errors}, status_code=422)


def field_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic's error list as ``{"field": "complainant.phone", "reason": "..."}`` items."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        reason = str(err.get("msg", "invalid"))
        out.append({"field": ".".join(loc) or "body", "reason": reason})
    return out


def install_common(app: FastAPI, *, service: str, readiness: dict[str, ReadinessCheck]) -> None:
    """Add ``/healthz``, ``/readyz``, ``/metrics``, request metrics and the 422 format."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/readyz", summary="Broker, database and consumers are ready")
    async def readyz() -> JSONResponse:
        results = {name: await check() for name, check in readiness.items()}
        ready = all(results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)

    @app.exception_handler(RequestValidationError)
    async def unprocessable(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _unprocessable(field_errors(exc.errors()))

    @app.exception_handler(FieldErrors)
    async def bad_fields(_: Request, exc: FieldErrors) -> JSONResponse:
        return _unprocessable(exc.errors)

    @app.middleware("http")
    async def observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        HTTP_REQUESTS.labels(service, request.method, path, str(response.status_code)).inc()
        HTTP_SECONDS.labels(service, path).observe(time.perf_counter() - started)
        return response

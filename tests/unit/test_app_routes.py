"""Every service's routes are its app's own, matched directly at each request.

FastAPI's ``include_router`` (0.137 and later) keeps an included router as one node resolved
again at every request; ``services.runtime.http.add_routes`` puts the routes on the app
itself. These tests fail if a service's app holds such a node again.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from services.runtime.app import build_app
from services.runtime.http import add_routes

SERVICES = ["intake", "workflow", "sla", "reporting"]


@pytest.mark.parametrize("name", SERVICES)
def test_a_services_routes_are_the_apps_own(name: str) -> None:
    app = build_app(importlib.import_module(f"services.{name}.spec").SPEC)
    nodes = [route for route in app.router.routes if not hasattr(route, "path")]
    assert nodes == [], f"{name}: routes resolved through an included router: {nodes}"
    paths = {route.path for route in app.router.routes}  # type: ignore[attr-defined]
    assert {"/healthz", "/readyz", "/metrics"} <= paths


def test_routes_added_answer_as_declared() -> None:
    router = APIRouter(tags=["things"])

    @router.get("/things/{n}")
    async def thing(n: int) -> dict[str, int]:
        return {"n": n}

    app = FastAPI()
    add_routes(app, router)
    client = TestClient(app)
    assert client.get("/things/3").json() == {"n": 3}
    assert client.get("/things/x").status_code == 422
    assert client.post("/things/3").status_code == 405
    assert app.openapi()["paths"]["/things/{n}"]["get"]["tags"] == ["things"]


def test_a_router_that_flattening_would_lose_something_of_is_refused(tmp_path: Path) -> None:
    inner = APIRouter()

    @inner.get("/inner")
    async def got() -> None:
        return None

    nested = APIRouter()
    nested.include_router(inner)
    with pytest.raises(ValueError, match="flat router"):
        add_routes(FastAPI(), nested)

    started = APIRouter(on_startup=[lambda: None])
    with pytest.raises(ValueError, match="flat router"):
        add_routes(FastAPI(), started)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    with pytest.raises(ValueError, match="flat router"):
        add_routes(FastAPI(), APIRouter(lifespan=lifespan))

    served = APIRouter()
    served.frontend("/", directory=tmp_path, check_dir=False)
    with pytest.raises(ValueError, match="flat router"):
        add_routes(FastAPI(), served)

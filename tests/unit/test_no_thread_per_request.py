"""No request of any service runs its endpoint or a dependency in a worker thread: FastAPI
runs a plain ``def`` through ``run_in_threadpool``, a hop to a thread and back (and a GIL
handover) for every request. Every endpoint and every dependency is a coroutine function
(or an object whose ``__call__`` is one, as FastAPI's security schemes are)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from services.apidocs import service_apps


def _calls(dependant: Dependant) -> Iterator[Any]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _runs_on_the_loop(call: Any) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (a class instance used as a dependency)
    )


def test_every_endpoint_and_dependency_of_every_service_runs_on_the_event_loop() -> None:
    in_threads = sorted(
        f"{name} {route.path}: {getattr(call, '__qualname__', call)!r}"
        for name, app in service_apps().items()
        for route in iter_route_contexts(app.routes)  # the included routers' too
        if isinstance(route.original_route, APIRoute)
        for call in _calls(route.dependant)
        if not _runs_on_the_loop(call)
    )
    assert in_threads == []


def test_the_check_sees_every_route() -> None:
    routes = {
        route.path
        for app in service_apps().values()
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
    }
    assert {"/v1/complaints", "/v1/complaints/{complaint_id}/acknowledge", "/v1/stats"} <= routes


def test_the_check_sees_a_plain_def() -> None:
    def plain() -> None: ...

    async def coroutine() -> None: ...

    assert not _runs_on_the_loop(plain)
    assert _runs_on_the_loop(coroutine)

"""A service copy is not ready (``/readyz``) until its warm-up is done: the lanes' fork server
it starts at boot (``Builder.start_lanes``) imports the service's modules, about a second of a
core, which load arriving meanwhile would wait behind. A fork server that cannot start does
not keep the copy unready forever: a rebuild tries again, or fails with the reason."""

from __future__ import annotations

import asyncio
import threading

import pytest

from services.reporting.spec import SPEC as REPORTING
from services.runtime import lanes
from services.runtime.app import build_app
from services.workflow.spec import SPEC as WORKFLOW


async def warm_check(app: object) -> bool:
    return bool(await app.state.service.readiness()["warm"]())  # type: ignore[attr-defined]


async def test_not_ready_until_the_fork_server_has_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, release = threading.Event(), threading.Event()

    def start_server(service: str) -> None:
        assert service == "reporting"
        started.set()
        release.wait(5)

    monkeypatch.setattr(lanes, "start_server", start_server)
    app = build_app(REPORTING)
    builder = app.state.service.builder
    assert not await warm_check(app)
    starting = asyncio.create_task(builder.start_lanes())
    await asyncio.to_thread(started.wait, 5)
    assert not await warm_check(app)  # still importing
    release.set()
    await starting
    assert await warm_check(app)


async def test_a_fork_server_that_fails_to_start_ends_the_warm_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def start_server(service: str) -> None:
        raise OSError("no fork server here")

    monkeypatch.setattr(lanes, "start_server", start_server)
    app = build_app(WORKFLOW)
    assert not await warm_check(app)
    await app.state.service.builder.start_lanes()
    assert await warm_check(app)


async def test_a_copy_that_builds_in_its_own_process_has_no_warm_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def start_server(service: str) -> None:
        raise AssertionError("no fork server is started for lanes in the service's process")

    monkeypatch.setattr(lanes, "start_server", start_server)
    app = build_app(REPORTING, REPORTING.settings().model_copy(update={"rebuild_lanes": 1}))
    assert await warm_check(app)
    await app.state.service.builder.start_lanes()
    assert await warm_check(app)

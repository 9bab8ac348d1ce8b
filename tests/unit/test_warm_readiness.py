"""A service copy is not ready (``/readyz``) until its warm-up is done: the lanes' fork server
it starts at boot (``Builder.start_lanes``) imports the service's modules, about a second of a
core, which load arriving meanwhile would wait behind. A fork server that cannot start does
not keep the copy unready forever: a rebuild tries again, or fails with the reason."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from services.reporting.spec import SPEC as REPORTING
from services.runtime import lanes
from services.runtime.app import build_app
from services.workflow.spec import SPEC as WORKFLOW

REPO = Path(__file__).resolve().parents[2]


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


SLOW_MODULE = """
import os, time
time.sleep(0.5)
with open(os.environ["WARM_MARK"], "w") as mark:
    mark.write(str(os.getpid()))
"""

STARTS_THE_SERVER = """
import multiprocessing.forkserver, os, sys
from services.runtime import lanes

if __name__ == "__main__":
    plain = lanes.context

    def with_a_slow_import(service):
        ctx = plain(service)
        preload = multiprocessing.forkserver._forkserver._preload_modules
        ctx.set_forkserver_preload([*preload, "slow_import"])
        return ctx

    lanes.context = with_a_slow_import
    lanes.start_server("reporting")
    print(os.path.exists(os.environ["WARM_MARK"]))
"""


def test_the_fork_server_has_imported_the_service_when_it_is_said_started(tmp_path: Path) -> None:
    """``ensure_running`` alone returns as soon as the server is spawned: the warm-up would
    end at once and the imports run under the first load."""
    (tmp_path / "slow_import.py").write_text(SLOW_MODULE)
    mark = tmp_path / "imported"
    script = tmp_path / "start.py"
    script.write_text(STARTS_THE_SERVER)
    env = {
        **os.environ,
        "WARM_MARK": str(mark),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
    assert mark.read_text() != str(os.getpid())  # imported in the fork server

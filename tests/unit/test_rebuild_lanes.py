"""How the builder follows its lane processes (``services.runtime.lanes``): their progress is
summed, a lane that fails or dies makes the build fail with its reason, and a lane stops once
the builder's end of its pipe is gone.

The lanes here are stand-ins: a pipe the test writes as a lane would, and a process whose exit
code the test sets. The real lanes are run by the rebuild tests (``tests/e2e``)."""

from __future__ import annotations

import asyncio
import multiprocessing
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, cast

import pytest

from services.runtime import lanes, logs
from services.runtime.settings import Settings


@dataclass
class FakeProcess:
    exitcode: int | None = None


def lane(n: int) -> lanes.Lane:
    return lanes.Lane("workflow", Settings(), "workflow.state.v1", 2, "workflow_g2", n, 2)


def running(n: int) -> tuple[lanes.Running, Connection, FakeProcess]:
    ours, theirs = multiprocessing.Pipe(duplex=True)
    process = FakeProcess()
    seen = lanes.Running(lane(n), cast(Any, process), ours, {}, {})
    return seen, theirs, process


class Reports:
    def __init__(self) -> None:
        self.rates: list[float] = []

    async def __call__(self, rate: float) -> None:
        self.rates.append(rate)


async def test_the_lanes_progress_is_summed_until_every_lane_is_done_and_gone() -> None:
    (a, pipe_a, proc_a), (b, pipe_b, proc_b) = running(0), running(1)
    pipe_a.send(("started", 10))
    pipe_a.send(("progress", {0: 40, 2: 30}, {0: 100, 2: 100}))
    pipe_b.send(("done", {1: 100, 3: 99}, {1: 100, 3: 100}))
    proc_b.exitcode = 0
    pipe_a.send(("done", {0: 100, 2: 98}, {0: 100, 2: 100}))
    proc_a.exitcode = 0
    reports = Reports()
    await asyncio.wait_for(lanes.wait([a, b], reports), 5)
    assert (a.done, a.total, a.lag, a.started) == (198, 200, 2, 10)
    assert (b.done, b.total, b.lag) == (199, 200, 1)
    assert a.finished and b.finished
    assert reports.rates  # the generation's progress was reported at the end


async def test_a_lane_that_reports_a_failure_fails_the_build_with_its_reason() -> None:
    (a, pipe_a, proc_a), (b, _, _) = running(0), running(1)
    pipe_a.send(("failed", "UndefinedTableError: relation does not exist"))
    proc_a.exitcode = 1
    with pytest.raises(lanes.LaneFailed, match=r"lane 0 of workflow\.state\.v1: UndefinedTable"):
        await asyncio.wait_for(lanes.wait([a, b], Reports()), 5)


async def test_a_lane_that_dies_before_it_caught_up_fails_the_build() -> None:
    (a, pipe_a, proc_a), (b, _, _) = running(0), running(1)
    pipe_a.send(("progress", {0: 5}, {0: 100}))
    proc_a.exitcode = -9  # SIGKILL: no word from it
    with pytest.raises(lanes.LaneFailed, match="exited with -9 before it caught up"):
        await asyncio.wait_for(lanes.wait([a, b], Reports()), 5)


def test_a_lane_sees_the_builder_gone_when_its_end_of_the_pipe_closes() -> None:
    ours, theirs = multiprocessing.Pipe(duplex=True)
    assert not theirs.poll()  # the builder never writes: nothing to read while it lives
    ours.close()
    assert theirs.poll()  # readable now: the end of file a lane takes for the builder's death
    with pytest.raises(EOFError):
        theirs.recv()


def test_a_lane_runs_on_the_event_loop_the_services_run_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uvicorn's "auto" loop (uvloop, installed with uvicorn[standard]) serves every service;
    # a lane's reads from Kafka and COPYs to PostgreSQL ran on asyncio's pure-Python loop
    from uvicorn.loops.auto import auto_loop_factory

    expected = type(auto_loop_factory()())
    seen: list[type] = []

    async def work(_lane: lanes.Lane, _pipe: Connection) -> None:
        seen.append(type(asyncio.get_running_loop()))

    monkeypatch.setattr(lanes, "_run", work)
    monkeypatch.setattr(logs, "configure_logging", lambda **_: None)  # the test's own logging
    ours, theirs = multiprocessing.Pipe(duplex=True)
    lanes.main(lane(0), theirs)
    assert seen == [expected]
    assert expected is not asyncio.SelectorEventLoop  # uvloop is there, as deployed
    ours.close()

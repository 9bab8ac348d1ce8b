"""Lanes in processes of their own: a rebuild that uses every core.

A projection whose rows all belong to one complaint (``parallel_build``) is built by
``rebuild_lanes`` lanes, each reading its own share of the log's partitions. In one process
the lanes share its one core (Python's GIL): one folds while another waits for PostgreSQL,
no more. Here each lane is a process of its own, so the lanes fold on as many cores as the
machine has (``rebuild_lane_processes``).

A lane process is forked from a fork server (``multiprocessing``'s ``forkserver``) that the
service starts beside itself when its builder starts (``start_server``), with the service's
modules imported once: a lane starts in milliseconds, not the second an import takes. The
fork server and its lanes run at a lower priority (``lane_priority``): they take the cores
the live service, its readers and PostgreSQL leave. The
lane builds the service again from its spec and the service's settings (so the builder uses
lanes in processes only for a service built from its spec alone: ``ConsumingService.spec``),
opens its own connections, and follows its partitions exactly as a lane in the builder's own
process would (``builder.follow``: the same batches, offsets stored with the rows, claims,
dead letters), until it is within ``NEAR`` events of the log's end. It reports
its progress on a pipe; the builder sums it into the generation's progress, then catches up
and swaps in its own process as before.

A lane holds no lease: the builder's copy does. A lane notices within a second when the
builder's process is gone (its pipe is closed: a SIGKILL closes it too) and stops; whatever
it had written stays, with its offsets, and the copy that takes the lease next resumes from
them. A lane that fails makes the generation fail with the lane's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, ForkServerProcess
from typing import Any

from services.runtime.builder import Progress, follow, open_part
from services.runtime.collector import few_collections
from services.runtime.serve import run_on_service_loop
from services.runtime.settings import Settings

log = logging.getLogger(__name__)

REPORT_S = 0.5  # how often a lane reports its progress (and looks for its builder)
NEAR = 100
"""A lane follows the log until it is this close to its end (or ``rebuild_swap_lag``, if
less): what it leaves, the builder applies alone, claiming each event, partly under the live
lock, at a fraction of the lanes' pace."""


class LaneFailed(RuntimeError):
    """A lane process failed; the message is its reason."""


class BuilderGone(RuntimeError):
    """The builder's process is gone: the lane stops (a copy resumes from the offsets)."""


@dataclass(frozen=True)
class Lane:
    """What a lane process builds (pickled to it)."""

    service: str  # the spec it builds the service from (``services.catalog.spec``)
    settings: Settings
    consumer: str  # the projection consumer's name (``<service>.<name>``)
    gen: int
    schema: str  # the generation's schema
    lane: int
    lanes: int


def context(service: str) -> ForkServerContext:
    """The fork server's context, with ``service``'s modules imported before any fork."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(
        [
            "services.runtime.lane_priority",  # first: the imports below run at its priority
            __name__,
            "services.runtime.app",
            f"services.{service}.spec",
        ]
    )
    return ctx


WARM_UP_S = 60.0  # the longest the fork server's imports and first fork may take


def start_server(service: str) -> None:
    """Start the fork server now (its imports take about a second of CPU), so that a
    rebuild does not wait for it, and return once it has imported them. Blocking: run it in
    a thread."""
    ctx = context(service)
    multiprocessing.forkserver.ensure_running()
    # ``ensure_running`` returns once the server is spawned, not once it has imported; it
    # forks only after its imports, so a first fork that has ended says they are done
    first = ctx.Process(target=_nothing, name=f"{service}-lanes-warm-up", daemon=True)
    first.start()
    first.join(WARM_UP_S)
    if first.exitcode is None:
        first.kill()
        raise RuntimeError(f"the lanes' fork server did not fork within {WARM_UP_S:.0f} s")


def _nothing() -> None:
    """A first lane process's work: none (``start_server``)."""


@dataclass
class Running(Progress):
    """A lane process seen from the builder: its progress as last reported."""

    lane: Lane
    process: ForkServerProcess
    pipe: Connection
    applied: dict[int, int]
    ends: dict[int, int]
    started: int = 0  # events its partitions held in the generation when it started
    finished: bool = False  # it reported that it is near the log's end

    def read(self) -> None:
        """Take in what the lane reported since the last look."""
        while self.pipe.poll():
            try:
                kind, *payload = self.pipe.recv()
            except EOFError:
                return
            if kind == "failed":
                raise LaneFailed(f"lane {self.lane.lane} of {self.lane.consumer}: {payload[0]}")
            if kind == "started":
                self.started = payload[0]
                continue
            self.applied, self.ends = payload[0], payload[1]
            self.finished = kind == "done"


def start(lanes: Sequence[Lane]) -> list[Running]:
    """Fork a process for each lane (blocking: the fork server answers within milliseconds,
    or, not started yet, after its imports; run it in a thread). If one cannot be started,
    those started are ended."""
    running: list[Running] = []
    try:
        for lane in lanes:
            ctx = context(lane.service)
            ours, theirs = ctx.Pipe(duplex=True)
            process = ctx.Process(
                target=main, args=(lane, theirs), name=f"{lane.consumer}-lane-{lane.lane}"
            )
            try:
                process.start()
            finally:
                theirs.close()  # the lane's end lives in the lane alone: its EOF is our death
            running.append(Running(lane, process, ours, {}, {}))
    except BaseException:
        stop(running)
        raise
    return running


async def wait(
    running: Sequence[Running], report: Callable[[float], Awaitable[None]], every_s: float = 1.0
) -> None:
    """Until every lane reported it is near the log's end and exited, ``report``ing the rate
    (events/s) every ``every_s``; ``LaneFailed`` if one failed or died."""
    last_report = time.monotonic()
    done_at_report = sum(r.done for r in running)
    while True:
        for r in running:
            r.read()
            code = r.process.exitcode
            if code is not None and not r.finished:
                r.read()  # a report sent just before it exited
                if not r.finished:
                    raise LaneFailed(
                        f"lane {r.lane.lane} of {r.lane.consumer} exited with {code} "
                        "before it caught up"
                    )
        now = time.monotonic()
        finished = all(r.finished and r.process.exitcode is not None for r in running)
        if finished or now - last_report >= every_s:
            done = sum(r.done for r in running)
            await report((done - done_at_report) / max(now - last_report, 1e-3))
            last_report, done_at_report = now, done
        if finished:
            return
        await asyncio.sleep(0.05)


def stop(running: Sequence[Running], timeout_s: float = 5.0) -> None:
    """End every lane process still running (the builder was cancelled or failed)."""
    for r in running:
        if r.process.exitcode is None:
            r.process.terminate()
    deadline = time.monotonic() + timeout_s
    for r in running:
        r.process.join(max(deadline - time.monotonic(), 0.0))
        if r.process.exitcode is None:
            r.process.kill()
            r.process.join()
        r.pipe.close()


# -- in the lane process ----------------------------------------------------------------------


def main(lane: Lane, pipe: Connection) -> None:
    """A lane process: build its partitions, report, exit (1 with the reason on failure)."""
    from services.runtime.logs import configure_logging

    settings = lane.settings
    configure_logging(service=lane.service, level=settings.log_level, fmt=settings.log_format)
    try:
        run_on_service_loop(_run(lane, pipe))
    except BuilderGone:
        log.warning("%s lane %d: the builder is gone; stopping", lane.consumer, lane.lane)
        raise SystemExit(1) from None
    except BaseException as exc:
        log.exception("%s lane %d failed", lane.consumer, lane.lane)
        with contextlib.suppress(Exception):
            pipe.send(("failed", f"{type(exc).__name__}: {exc}"[:2000]))
        raise SystemExit(1) from None


async def _run(lane: Lane, pipe: Connection) -> None:
    from services.catalog import spec
    from services.runtime.app import build_app

    service: Any = build_app(spec(lane.service), lane.settings).state.service
    await service.open_pool(size=2)
    await service.broker.connect()  # dead letters are published, as the builder's are
    try:
        (consumer,) = [c for c in service.projections if c.name == lane.consumer]
        copy = consumer.builder_copy(lane.gen, lane.schema)
        copy.claiming = not copy.bulk_capable  # the builder ran ``begin_build`` for a bulk load
        part = await open_part(lane.settings, copy, lane.lane, lane.lanes)
        log.info(
            "%s lane %d of %d: process %d builds partitions %s",
            lane.consumer,
            lane.lane,
            lane.lanes,
            os.getpid(),
            sorted(tp.partition for tp in part.partitions),
        )
        pipe.send(("started", part.done))
        try:

            async def report(_rate: float) -> None:
                if pipe.poll():  # the builder never writes: this is its end closed
                    raise BuilderGone
                pipe.send(("progress", dict(part.applied), dict(part.ends)))

            with few_collections():
                near = min(NEAR, lane.settings.rebuild_swap_lag)
                await follow([part], lane.settings, report, every_s=REPORT_S, near=near)
            pipe.send(("done", dict(part.applied), dict(part.ends)))
        finally:
            await part.reader.stop()
    finally:
        with contextlib.suppress(Exception):
            await service.broker.stop()
        await service.pool.close()

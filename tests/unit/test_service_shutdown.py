"""A service's shutdown is bounded: a broker that never stops, or a task that ignores its
cancellation, does not keep a SIGTERMed process alive."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any

from services.runtime.service import ConsumingService


class _StuckBroker:
    async def stop(self) -> None:
        await asyncio.Event().wait()  # never ends


class _Pool:
    def __init__(self, hangs: bool) -> None:
        self.hangs, self.terminated = hangs, False

    async def close(self) -> None:
        if self.hangs:
            await asyncio.Event().wait()

    def terminate(self) -> None:
        self.terminated = True


async def test_a_broker_that_never_stops_and_busy_connections_do_not_hold_the_shutdown() -> None:
    pool = _Pool(hangs=True)
    service: Any = SimpleNamespace(name="probe", broker=_StuckBroker(), _pool=pool)
    started = time.monotonic()
    await ConsumingService._stop_within(service, broker_s=0.2, pool_s=0.2)
    assert time.monotonic() - started < 2
    assert pool.terminated  # the connections were closed by force


async def test_a_pool_that_closes_in_time_is_not_terminated() -> None:
    pool = _Pool(hangs=False)
    service: Any = SimpleNamespace(name="probe", broker=_StuckBroker(), _pool=pool)
    await ConsumingService._stop_within(service, broker_s=0.1, pool_s=1.0)
    assert not pool.terminated


def test_the_exit_timer_ends_a_process_whose_shutdown_hangs() -> None:
    code = (
        "import time\n"
        "from services.runtime.service import _exit_after\n"
        "_exit_after(0.3, 'probe')\n"
        "time.sleep(30)\n"  # a shutdown that hangs
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=20)
    assert done.returncode == 1
    assert time.monotonic() - started < 10

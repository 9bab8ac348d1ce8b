"""The event loop's lag on /metrics: a stretch of CPU work that does not yield shows as one
late wake-up of that length; a loop that yields shows none."""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import REGISTRY

from services.runtime.monitor import loop_lag

NAME = "complaints_event_loop_lag_seconds"


def _counts() -> tuple[float, float, float]:
    """(observations, of them at most 25 ms late, of them at most 100 ms late)."""

    def bucket(le: str) -> float:
        return REGISTRY.get_sample_value(f"{NAME}_bucket", {"le": le}) or 0.0

    return REGISTRY.get_sample_value(f"{NAME}_count") or 0.0, bucket("0.025"), bucket("0.1")


async def _watched(work: object) -> tuple[float, float, float]:
    before = _counts()
    watching = asyncio.create_task(loop_lag(interval_s=0.03))
    await asyncio.sleep(0.15)  # a few wake-ups on an idle loop
    if callable(work):
        work()
    await asyncio.sleep(0.15)
    watching.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watching
    after = _counts()
    return tuple(a - b for a, b in zip(after, before, strict=True))  # type: ignore[return-value]


async def test_a_stretch_that_holds_the_loop_is_observed_as_one_late_wake_up() -> None:
    count, within_25ms, within_100ms = await _watched(lambda: time.sleep(0.3))
    assert count >= 3
    # the one wake-up that waited behind the 300 ms stretch; every other was on time
    assert count - within_100ms == 1
    assert within_25ms >= count - 1 - 1  # at most one other slowed by the machine


async def test_a_loop_that_yields_is_never_observed_late() -> None:
    count, _, within_100ms = await _watched(None)
    assert count >= 5 and within_100ms == count

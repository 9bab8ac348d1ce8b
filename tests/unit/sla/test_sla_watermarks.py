"""The SLA judges a deadline once the workflow's watermark has passed it (no grace), holds it
while the workflow is silent, and falls back on the grace without one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pydantic
import pytest

from contracts.watermarks import Watermark, decode_watermark, encode_watermark
from services.runtime.watermarks import Fence, Watermarks
from services.sla.scheduler import Scheduler

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENTS = "complaints.events"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def mark(
    producer: str, before: datetime, offsets: dict[int, int] | None = None, topic: str = EVENTS
) -> Watermark:
    return Watermark(producer=producer, topic=topic, before=before, offsets=offsets or {0: 1})


def test_the_fence_is_the_earliest_word_of_every_producer_below_the_furthest_offsets() -> None:
    clock = Clock()
    marks = Watermarks(["workflow", "other"], topic=EVENTS, wait_s=60, clock=clock)
    assert marks.fence() is None  # never heard from: the grace
    marks.note(mark("workflow", T0, {0: 5, 1: 9}))
    assert marks.fence() is None  # "other" not yet
    marks.note(mark("other", T0 + timedelta(seconds=5), {0: 7, 1: 2, 2: 4}))
    assert marks.fence() == Fence(before=T0, offsets={0: 7, 1: 9, 2: 4})
    marks.note(mark("workflow", T0 + timedelta(seconds=9), {0: 6, 1: 9}))
    assert marks.fence() == Fence(before=T0 + timedelta(seconds=5), offsets={0: 7, 1: 9, 2: 4})


def test_words_about_another_log_or_from_another_producer_are_not_taken() -> None:
    marks = Watermarks(["workflow"], topic=EVENTS, wait_s=60, clock=Clock())
    marks.note(mark("workflow", T0, topic="test.other.complaints.events"))
    marks.note(mark("intake", T0))
    assert marks.fence() is None
    marks.note(mark("workflow", T0))
    assert marks.fence() == Fence(before=T0, offsets={0: 1})


def test_a_silent_producer_holds_the_fence_until_the_wait_ends() -> None:
    clock = Clock()
    marks = Watermarks(["workflow"], topic=EVENTS, wait_s=60, clock=clock)
    marks.note(mark("workflow", T0))
    clock.t += 59.9
    # silent (behind, or stopped): judged no further than it said
    assert marks.fence() == Fence(before=T0, offsets={0: 1})
    clock.t += 0.2
    assert marks.fence() is None  # silent past the wait: taken for down, the grace again
    # A new relay leader may say an earlier instant first: its word is taken whole (an instant
    # with another word's offsets could claim what neither said).
    marks.note(mark("workflow", T0 - timedelta(seconds=1), {0: 3}))
    assert marks.fence() == Fence(before=T0 - timedelta(seconds=1), offsets={0: 3})


def test_no_producer_to_wait_for_means_the_grace() -> None:
    marks = Watermarks([], topic=EVENTS, wait_s=60, clock=Clock())
    marks.note(mark("workflow", T0))
    assert marks.fence() is None


def test_a_watermark_round_trips_and_bad_bytes_name_the_field() -> None:
    sent = mark("workflow", T0)
    assert decode_watermark(encode_watermark(sent)) == sent
    with pytest.raises(pydantic.ValidationError, match="before"):
        decode_watermark(
            b'{"producer": "w", "topic": "t", "before": "2026-03-02T09:00", "offsets": {}}'
        )
    with pytest.raises(pydantic.ValidationError, match="offsets"):
        decode_watermark(
            b'{"producer": "w", "topic": "t", "before": "2026-03-02T09:00Z", "offsets": {"0": -1}}'
        )


class Applied:
    """The consumer's answer: partition → the instant it is applied to; ``now`` for those
    applied up to where the fence's offsets say (the offsets it was asked with are kept)."""

    def __init__(self, applied: dict[int, datetime], reached: set[int]) -> None:
        self.applied = applied
        self.reached = reached
        self.asked: list[Mapping[int, int] | None] = []

    async def applied_by_partition(
        self, now: datetime, reached: Mapping[int, int] | None = None
    ) -> dict[int, datetime]:
        self.asked.append(reached)
        return {
            p: now if reached is not None and p in self.reached else min(now, at)
            for p, at in self.applied.items()
        }


def scheduler(
    applied: dict[int, datetime], fence: Fence | None, reached: set[int] = frozenset()
) -> Scheduler:
    return Scheduler(
        rules=cast(Any, None),
        write=cast(Any, None),
        consumer=cast(Any, Applied(applied, set(reached))),
        relay=cast(Any, None),
        topic=EVENTS,
        grace=timedelta(seconds=0.3),
        tick=timedelta(seconds=0.1),
        now=lambda: T0,
        fence=lambda: fence,
    )


async def test_without_a_fence_a_deadline_is_judged_a_grace_after_the_partition_allows() -> None:
    behind = T0 - timedelta(seconds=2)
    judged = await scheduler({0: T0, 1: behind}, None).judged_until()
    assert judged == (T0, {0: T0 - timedelta(seconds=0.3), 1: behind - timedelta(seconds=0.3)})


async def test_with_a_fence_a_deadline_is_judged_strictly_before_it_and_no_grace() -> None:
    behind = T0 - timedelta(seconds=2)
    fence = Fence(before=T0 - timedelta(milliseconds=10), offsets={0: 40, 1: 70, 2: 9})
    judging = scheduler({0: T0, 1: behind, 2: behind}, fence, reached={2})
    judged = await judging.judged_until()
    # Partition 0 is applied to its end and partition 2 past the fence's offset: up to the
    # watermark (a decision stamped at the fence itself may not be in the log yet).
    # Partition 1 is behind the fence's offset: up to what it applied.
    before = fence.before - timedelta(microseconds=1)
    assert judged == (T0, {0: before, 1: behind, 2: before})
    assert cast(Any, judging)._consumer.asked == [fence.offsets]
    # A fence ahead of the scheduler's own clock judges no further than now.
    ahead = Fence(before=T0 + timedelta(seconds=1), offsets={0: 1})
    assert await scheduler({0: T0}, ahead).judged_until() == (T0, {0: T0})


async def test_a_due_check_waits_for_the_next_word_or_the_timeout() -> None:
    marks = Watermarks(["workflow"], topic=EVENTS, wait_s=60, clock=Clock())
    waiting = [asyncio.create_task(marks.next_word(5.0)) for _ in range(2)]
    await asyncio.sleep(0.01)
    assert not any(w.done() for w in waiting)
    marks.note(mark("workflow", T0))  # every waiter wakes at once
    await asyncio.wait_for(asyncio.gather(*waiting), 1.0)
    await asyncio.wait_for(marks.next_word(0.05), 1.0)  # nothing said: back at the timeout


async def test_a_word_that_came_after_the_fence_judged_by_is_not_waited_for_again() -> None:
    # A round judges by a fence, then works about as long as the watermarks' interval: the
    # watermark that came meanwhile may allow more at once, not one interval later.
    marks = Watermarks(["workflow"], topic=EVENTS, wait_s=60, clock=Clock())
    marks.note(mark("workflow", T0))
    fence = marks.fence()
    assert fence is not None
    marks.note(mark("workflow", T0 + timedelta(milliseconds=20)))  # during the round
    await asyncio.wait_for(marks.next_word(5.0, since=fence.heard), 0.5)  # at once

    latest = marks.fence()
    assert latest is not None and latest.heard == fence.heard + 1
    waiting = asyncio.create_task(marks.next_word(5.0, since=latest.heard))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # nothing after the latest: the next word is waited for
    marks.note(mark("workflow", T0 + timedelta(milliseconds=40)))
    await asyncio.wait_for(waiting, 1.0)

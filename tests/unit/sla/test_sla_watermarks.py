"""The SLA judges a deadline once the workflow's watermark has passed it (no grace), holds it
while the workflow is silent, and falls back on the grace without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pydantic
import pytest

from contracts.watermarks import Watermark, decode_watermark, encode_watermark
from services.runtime.watermarks import Watermarks
from services.sla.scheduler import Scheduler

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EVENTS = "complaints.events"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def mark(producer: str, before: datetime, topic: str = EVENTS) -> Watermark:
    return Watermark(producer=producer, topic=topic, before=before)


def test_the_fence_is_the_earliest_word_of_every_producer_waited_for() -> None:
    clock = Clock()
    marks = Watermarks(["workflow", "other"], topic=EVENTS, wait_s=60, clock=clock)
    assert marks.fence() is None  # never heard from: the grace
    marks.note(mark("workflow", T0))
    assert marks.fence() is None  # "other" not yet
    marks.note(mark("other", T0 + timedelta(seconds=5)))
    assert marks.fence() == T0
    marks.note(mark("workflow", T0 + timedelta(seconds=9)))
    assert marks.fence() == T0 + timedelta(seconds=5)


def test_words_about_another_log_or_from_another_producer_are_not_taken() -> None:
    marks = Watermarks(["workflow"], topic=EVENTS, wait_s=60, clock=Clock())
    marks.note(mark("workflow", T0, topic="test.other.complaints.events"))
    marks.note(mark("intake", T0))
    assert marks.fence() is None
    marks.note(mark("workflow", T0))
    assert marks.fence() == T0


def test_a_silent_producer_holds_the_fence_until_the_wait_ends_and_it_never_moves_back() -> None:
    clock = Clock()
    marks = Watermarks(["workflow"], topic=EVENTS, wait_s=60, clock=clock)
    marks.note(mark("workflow", T0))
    clock.t += 59.9
    assert marks.fence() == T0  # silent (behind, or stopped): judged no further than it said
    marks.note(mark("workflow", T0 - timedelta(seconds=1)))  # a new relay leader says less
    assert marks.fence() == T0
    clock.t += 60.1
    assert marks.fence() is None  # silent past the wait: taken for down, the grace again


def test_no_producer_to_wait_for_means_the_grace() -> None:
    marks = Watermarks([], topic=EVENTS, wait_s=60, clock=Clock())
    marks.note(mark("workflow", T0))
    assert marks.fence() is None


def test_a_watermark_round_trips_and_bad_bytes_name_the_field() -> None:
    sent = mark("workflow", T0)
    assert decode_watermark(encode_watermark(sent)) == sent
    with pytest.raises(pydantic.ValidationError, match="before"):
        decode_watermark(b'{"producer": "workflow", "topic": "t", "before": "2026-03-02T09:00"}')


class Applied:
    """The consumer's answer: partition → the instant it is applied to."""

    def __init__(self, applied: dict[int, datetime]) -> None:
        self.applied = applied

    async def applied_by_partition(self, now: datetime) -> dict[int, datetime]:
        return {p: min(now, at) for p, at in self.applied.items()}


def scheduler(applied: dict[int, datetime], fence: datetime | None) -> Scheduler:
    return Scheduler(
        rules=cast(Any, None),
        write=cast(Any, None),
        consumer=cast(Any, Applied(applied)),
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
    fence = T0 - timedelta(milliseconds=10)
    judged = await scheduler({0: T0, 1: behind}, fence).judged_until()
    # Partition 0 is applied to its end: up to the watermark (a decision stamped at the fence
    # itself may not be in the log yet). Partition 1 is behind: up to what it applied.
    assert judged == (T0, {0: fence - timedelta(microseconds=1), 1: behind})
    # A fence ahead of the scheduler's own clock judges no further than now.
    ahead = await scheduler({0: T0}, T0 + timedelta(seconds=1)).judged_until()
    assert ahead == (T0, {0: T0})

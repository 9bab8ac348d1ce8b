"""A consumer of the log hands a record over as soon as it comes, on an idle topic too
(``polls_without_blind_sleep``): FastStream's batch subscriber slept ``batch_timeout_ms``
after every poll that found nothing, so a record published meanwhile waited up to that long."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker

from services.runtime.consumer import base

REAL_SLEEP = asyncio.sleep  # the stand-in consumer's, whatever the test does to the module


class Consumer:
    """Stands in for aiokafka's consumer: each poll takes ``takes`` seconds and returns what
    it is given next."""

    def __init__(self, *polls: tuple[float, dict[Any, list[Any]]]) -> None:
        self.polls = list(polls)
        self.asked: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        self.asked.append((timeout_ms, max_records))
        takes, batches = self.polls.pop(0)
        await REAL_SLEEP(takes)
        return batches


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sleeps of the subscriber's poll itself (``asyncio``'s, and ``anyio``'s, which
    FastStream's own poll uses)."""
    seen: list[float] = []

    async def sleep(seconds: float) -> None:
        seen.append(seconds)
        await REAL_SLEEP(0)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    monkeypatch.setattr(anyio, "sleep", sleep)
    return seen


def subscriber() -> Any:
    broker = KafkaBroker("127.0.0.1:9")
    sub = broker.subscriber("t", group_id="g", batch=True, max_records=7, batch_timeout_ms=50)
    base.polls_without_blind_sleep(sub, max_records=7, timeout_ms=50)
    return sub


async def test_a_poll_that_waited_its_whole_time_for_nothing_does_not_sleep_after_it(
    sleeps: list[float],
) -> None:
    consumer = Consumer((0.06, {}))
    assert await subscriber().get_msg(consumer) == ()
    assert consumer.asked == [(50, 7)]
    assert sleeps == []  # FastStream's own get_msg sleeps 50 ms here


async def test_records_are_handed_over_in_partition_order_without_a_sleep(
    sleeps: list[float],
) -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer = Consumer((0.0, {a: ["a1", "a2"], b: ["b1"]}))
    assert await subscriber().get_msg(consumer) == ("a1", "a2", "b1")
    assert sleeps == []


async def test_a_poll_that_came_back_empty_early_sleeps_the_rest_so_the_loop_never_spins(
    sleeps: list[float],
) -> None:
    consumer = Consumer((0.0, {}))
    assert await subscriber().get_msg(consumer) == ()
    (slept,) = sleeps
    assert 0.03 < slept <= 0.05

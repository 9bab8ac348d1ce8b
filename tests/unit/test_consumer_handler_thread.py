"""A batch reaches the consumer as its raw records with no hop to a worker thread and back
(FastStream's injection of ``Context("message")`` resolved it with a synchronous function in
a thread, for every batch)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio.to_thread
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from tests.unit.test_consumer_passes_unread import ReadsAll, consumer


async def test_a_batch_reaches_the_consumer_as_records_without_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops: list[Any] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    broker = KafkaBroker("127.0.0.1:1")
    tested = consumer(ReadsAll())  # applies nothing: its handle_batch is replaced
    seen: list[list[Any]] = []

    async def handle_batch(records: Sequence[Any]) -> None:
        seen.append(list(records))

    tested.handle_batch = handle_batch  # type: ignore[method-assign]
    tested.attach(broker)
    async with TestKafkaBroker(broker) as test:
        await test.publish_batch(b"one", b"two", topic="complaints.events")
    [records] = seen
    assert hops == []
    assert [r.value for r in records] == [b"one", b"two"]
    assert all(r.topic == "complaints.events" for r in records)

"""The computed gauges: consumer lag per partition, rebuild progress, backlogs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from prometheus_client import REGISTRY

from services.runtime.monitor import Monitor


@dataclass
class FakeConsumer:
    name: str
    topic: str
    positions: dict[int, tuple[int, int]]
    assigned: set[int] = field(default_factory=set)
    book_schema: str = "opsunit_g1"

    async def progress(self) -> dict[int, tuple[int, int]]:
        return self.positions


class FakeConnection:
    def __init__(self, dead: dict[str, int], backlog: int) -> None:
        self.dead, self.backlog = dead, backlog

    async def fetchval(self, sql: str, *args: Any) -> int:
        if "dead_letters" in sql:
            return self.dead.get(args[0], 0)
        assert "outbox" in sql and "published_at IS NULL" in sql
        return self.backlog


class FakeGenerations:
    """The registry: a live generation, and the one being built (``None``: no rebuild)."""

    def __init__(self, building: Any) -> None:
        self.building_now = building

    async def live(self, conn: Any) -> Any:
        return SimpleNamespace(gen=3)

    async def building(self, conn: Any) -> Any:
        return self.building_now


class FakePool:
    def __init__(self, conn: FakeConnection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[FakeConnection]:
        yield self.conn


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_lag_progress_and_rebuild_come_from_offsets_and_the_registry() -> None:
    consumer = FakeConsumer(
        "opsunit.complaints.v1", "t.events", {0: (40, 100), 1: (60, 60)}, assigned={0, 1, 2}
    )
    extra_calls: list[Any] = []

    async def extra(conn: Any) -> None:
        extra_calls.append(conn)

    conn = FakeConnection({"opsunit.complaints.v1": 2}, backlog=7)
    service = SimpleNamespace(
        name="opsunit",
        schema="opsunit",
        consumers=[consumer],
        relay=object(),
        generations=FakeGenerations(
            SimpleNamespace(events_done=400, events_total=1000, rate=250.0, lag=600)
        ),
        pool=FakePool(conn),
        settings=SimpleNamespace(metrics_interval_s=5.0),
    )
    monitor = Monitor(service)  # type: ignore[arg-type]
    monitor.add("extra", extra)
    await monitor.refresh()

    labels = {"consumer": "opsunit.complaints.v1", "topic": "t.events"}
    assert sample("complaints_consumer_lag", **labels, partition="0") == 60
    assert sample("complaints_consumer_lag", **labels, partition="1") == 0
    assert sample("complaints_consumer_progress_ratio", consumer=labels["consumer"]) == 0.625
    assert sample("complaints_consumer_assigned_partitions", consumer=labels["consumer"]) == 3
    assert sample("complaints_projection_rebuilding", service="opsunit") == 1
    assert sample("complaints_projection_generation", service="opsunit") == 3
    assert sample("complaints_rebuild_events_done", service="opsunit") == 400
    assert sample("complaints_rebuild_events_total", service="opsunit") == 1000
    assert sample("complaints_rebuild_events_per_second", service="opsunit") == 250
    assert sample("complaints_rebuild_lag", service="opsunit") == 600
    assert sample("complaints_dead_letters_recorded", consumer=labels["consumer"]) == 2
    assert sample("complaints_outbox_backlog", schema="opsunit") == 7
    assert extra_calls == [conn]

    consumer.positions = {0: (100, 100), 1: (60, 60)}  # caught up, and the new one swapped in
    service.generations = FakeGenerations(None)
    await monitor.refresh()
    assert sample("complaints_consumer_lag", **labels, partition="0") == 0
    assert sample("complaints_consumer_progress_ratio", consumer=labels["consumer"]) == 1
    assert sample("complaints_projection_rebuilding", service="opsunit") == 0


async def test_an_empty_log_is_fully_applied() -> None:
    consumer = FakeConsumer("opsempty.v1", "t.events", {0: (0, 0)}, book_schema="opsempty_g1")
    service = SimpleNamespace(
        name="opsempty",
        schema="opsempty",
        consumers=[consumer],
        relay=None,
        generations=FakeGenerations(None),
        pool=FakePool(FakeConnection({}, backlog=0)),
        settings=SimpleNamespace(metrics_interval_s=5.0),
    )
    await Monitor(service).refresh()  # type: ignore[arg-type]
    assert sample("complaints_consumer_progress_ratio", consumer="opsempty.v1") == 1
    assert sample("complaints_dead_letters_recorded", consumer="opsempty.v1") == 0

"""A service process is settled once built (what it holds is set aside from the collector,
young collections rarer), and stays settled after a generation was loaded in bulk; a process
that was not settled is left as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from services.runtime.collector import YOUNG, few_collections, settle


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_settled_process_sets_what_it_holds_aside_and_collects_the_young_less_often() -> None:
    before = gc.get_threshold()
    held = [[n] for n in range(1000)]  # containers the process holds from its start
    settle()
    assert gc.get_freeze_count() >= len(held)
    assert gc.get_threshold() == (max(YOUNG, before[0]), *before[1:])


def test_a_bulk_load_leaves_a_settled_process_settled_and_another_as_it_was() -> None:
    threshold = gc.get_threshold()
    with few_collections(young=123_456):
        assert gc.get_threshold()[0] == 123_456
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0  # not settled before: nothing stays set aside
    assert gc.get_threshold() == threshold

    settle()
    settled = gc.get_threshold()
    with few_collections(young=123_456):
        loaded = [[n] for n in range(1000)]  # what a load leaves alive is the process's now
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == settled
    del loaded


def test_a_settled_process_measures_each_collection_by_generation() -> None:
    """Once settled, every collection's pause is observed under its generation, once."""
    settle()
    settle()  # settled again (after a bulk load): still one hook

    def count(generation: int) -> float:
        value = REGISTRY.get_sample_value(
            "complaints_gc_pause_seconds_count", {"generation": str(generation)}
        )
        return value or 0.0

    before = [count(g) for g in range(3)]
    gc.collect(2)
    gc.collect(0)
    assert [count(g) - before[g] for g in range(3)] == [1, 0, 1]

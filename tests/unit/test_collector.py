"""A service process is settled once built (what it holds is set aside from the collector,
young collections rarer), and stays settled after a generation was loaded in bulk; a process
that was not settled is left as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

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

"""The garbage collector of a service process: what it must not do to a running service.

CPython's full collection walks every container object the process holds. A service holds a
lot that lives as long as it does (modules, the app and its routes, pydantic schemas, the
SLA policy and calendar), so every full collection walked it all again: 190–240 ms of a
running SLA, workflow or intake process on this machine's cores, every few seconds under
load, during which the process answered nothing, judged nothing, published nothing. That was
the tail of the SLA's alert lateness (bench/README.md, "Garbage collections, and the SLA's
due alerts").

``settle`` sets what the process holds once it is built aside (``gc.freeze``: no collection
walks it again; nothing in it is garbage) and collects the youngest generation less often;
``few_collections`` does more of the same while a generation is loaded in bulk.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Iterator
from typing import Any

from services.runtime.metrics import GC_PAUSE_SECONDS

YOUNG = 7_000
"""The youngest generation is collected once this many more container objects are alive
(CPython's default: 700). What refcounting frees does not count, so memory stays bounded by
what is alive; ten times fewer young collections make ten times fewer full ones."""


class _Pauses:
    """A ``gc.callbacks`` hook: how long each collection held the process, by generation
    (``complaints_gc_pause_seconds``), so a stall on ``/metrics`` can be told from a slow
    statement."""

    def __init__(self) -> None:
        self._by_generation = [GC_PAUSE_SECONDS.labels(str(g)) for g in range(3)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)


_PAUSES = _Pauses()


def _set_aside() -> None:
    """Collect what is garbage now, and set the rest aside from every later collection."""
    gc.collect()
    gc.freeze()


def settle(young: int = YOUNG) -> None:
    """Once a service process is built (``services.runtime.serve``): collect what is garbage
    already, set the rest aside, and collect the youngest generation once ``young`` more
    objects are alive; from then on each collection's pause is measured."""
    if _PAUSES not in gc.callbacks:
        gc.callbacks.append(_PAUSES)
    _set_aside()
    threshold = gc.get_threshold()
    gc.set_threshold(max(young, threshold[0]), *threshold[1:])


@contextlib.contextmanager
def few_collections(young: int = 1_000_000) -> Iterator[None]:
    """Fewer garbage collections while a generation is loaded: the objects the process holds
    when it starts are set aside (``gc.freeze``: a collection no longer walks them), and the
    youngest generation is collected once ``young`` more container objects are alive instead
    of 700. A batch's rows are tuples and dicts that live until the batch is written (a
    workflow batch of 5,000 events keeps about 250,000); collecting them over and over was a
    third of preparing a batch, for nothing (they hold no cycles), and at 50,000 still a tenth
    of a workflow rebuild. What refcounting frees does not count towards ``young``, so memory
    stays bounded by what is alive.

    Afterwards every object is a collection's again (``gc.unfreeze``: what the load set aside
    may be garbage now); a process that was settled is settled again."""
    threshold = gc.get_threshold()
    settled = gc.get_freeze_count() > 0
    gc.freeze()
    gc.set_threshold(max(young, threshold[0]), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()
        if settled:
            _set_aside()

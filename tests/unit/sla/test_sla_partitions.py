"""The scheduler judges each complaint as far as its own partition of the log is applied."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.runtime.kafka import partition_of
from services.sla.scheduler import judgeable

T = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _complaints_in(partition: int, n: int) -> list[uuid.UUID]:
    found: list[uuid.UUID] = []
    while len(found) < n:
        cid = uuid.uuid4()
        if partition_of(cid, 3) == partition:
            found.append(cid)
    return found


def _row(cid: uuid.UUID, due: datetime) -> dict[str, Any]:
    return {"complaint_id": cid, "office": "Y园", "next_check_at": due}


def test_a_partition_behind_holds_back_its_own_complaints_only() -> None:
    a, b = _complaints_in(0, 2)
    (c,) = _complaints_in(1, 1)
    (d,) = _complaints_in(2, 1)
    untils = {0: T, 1: T - timedelta(seconds=2), 2: T}  # partition 1 is behind
    due = [_row(a, T - timedelta(seconds=1)), _row(b, T), _row(c, T - timedelta(seconds=1))]
    due.append(_row(d, T - timedelta(seconds=1)))

    groups = judgeable(due, untils)  # type: ignore[arg-type]

    assert {until: [r["complaint_id"] for r in rows] for until, rows in groups.items()} == {
        T: [a, b, d]  # due by their partition's instant (b exactly at it)
    }  # c waits: its partition may still hold the event that stops its timer


def test_complaints_of_partitions_applied_to_different_instants_are_judged_to_each() -> None:
    (a,) = _complaints_in(0, 1)
    (c,) = _complaints_in(1, 1)
    earlier = T - timedelta(seconds=2)
    untils = {0: T, 1: earlier, 2: T}
    due = [_row(a, earlier - timedelta(seconds=1)), _row(c, earlier - timedelta(seconds=1))]

    groups = judgeable(due, untils)  # type: ignore[arg-type]

    assert {u: [r["complaint_id"] for r in rows] for u, rows in groups.items()} == {
        T: [a],
        earlier: [c],
    }


def test_nothing_due_nothing_judged() -> None:
    assert judgeable([], {0: T}) == {}

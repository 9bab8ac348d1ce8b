"""The SLA projection's batch path writes exactly the rows its per-event path writes: the
same complaints, the same history at the same positions, a check asked for every complaint an
event touched — whole lives in one batch or split, an event already recorded taking no place."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.rebuild_services import histories
from contracts import Envelope, EventData, new_envelope
from contracts.lifecycle import (
    Actor,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintOfficeTransferred,
    ComplaintSentBack,
    ComplaintTransferred,
    DepartmentAssigned,
    PlanImplemented,
    RevisitRecorded,
    Role,
)
from deploy.local import sandbox
from services.runtime.store import consumer_tables_sql
from services.sla import store
from services.sla.calendar import load_calendar
from services.sla.policy import load_policy
from services.sla.projection import ClockProjection
from services.sla.scheduler import SlaRules
from services.sla.timers import fold
from tests.conftest import RUN, Infra

pytestmark = pytest.mark.infra

GEN = "sla_g1"
RULES = SlaRules(policy=load_policy(), calendar=load_calendar())
Event = tuple[Envelope, EventData]


@pytest.fixture
async def pool(real_infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"complaints_test_{RUN}_slabatch"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=2, server_settings={"search_path": f"{GEN}, sla"}
    )
    async with pool.acquire() as conn:
        await conn.execute(consumer_tables_sql(GEN))
        await conn.execute(Path(store.__file__).with_name("schema.sql").read_text("utf-8"))
    yield pool
    await pool.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


HEAD = Actor(staff_id="H001", role=Role.CS_HEAD)


def transferred_life(received: Event) -> list[Event]:
    """A complaint of the generated log carried on through 转派, 退单 and 跨项目转办 (the
    issue 15 events), closed with a v3 ``ComplaintClosed``: its copy under a new id."""
    envelope, data = received
    cid, t0 = uuid.uuid4(), envelope.occurred_at
    office = str(getattr(data, "office", "Y园"))
    bodies: list[EventData] = [
        data,
        ComplaintAcknowledged(actor=HEAD),
        ComplaintJudged.model_validate(
            {"actor": HEAD, "validity": "valid", "category": "facilities", "priority": "normal"}
        ),
        DepartmentAssigned(
            actor=HEAD, department="保洁部", deadline=t0 + timedelta(days=3), reason="manual"
        ),
        ComplaintTransferred(
            actor=HEAD,
            from_department="保洁部",
            to_department="工程部",
            reason="不是保洁问题",
            deadline=t0 + timedelta(days=4),
        ),
        ComplaintSentBack(actor=HEAD, department="工程部", reason="应由开发商处理"),
        ComplaintOfficeTransferred(
            actor=HEAD, from_office=office, to_office="HJ花园", reason="两个项目共管的大门"
        ),
        DepartmentAssigned(
            actor=HEAD, department="工程部", deadline=t0 + timedelta(days=5), reason="manual"
        ),
        PlanImplemented(actor=HEAD, plan_id=1, summary="已修复大门"),
        RevisitRecorded(actor=HEAD, visit_no=1, satisfied=True),
        ComplaintClosed(actor=HEAD, summary="跨项目协调后解决"),
    ]
    return [
        (
            new_envelope(
                body,
                event_id=uuid.uuid4(),
                complaint_id=cid,
                occurred_at=t0 + timedelta(minutes=30 * n),
                recorded_at=t0 + timedelta(minutes=30 * n),
                source="test",
            ),
            body,
        )
        for n, body in enumerate(bodies)
    ]


def log_of_life() -> list[Event]:
    events = histories(30, seed=9, alerts=True, days=3)
    moved = transferred_life(next(e for e in events if e[0].type == "ComplaintReceived"))
    # A copy of an event already recorded (as after a dead letter was replayed): no place.
    return [*events, *moved, events[len(events) // 2], moved[5], events[-3]]


async def snapshot(conn: asyncpg.Connection) -> dict[str, Any]:
    complaints = await conn.fetch(f"SELECT * FROM {GEN}.complaints ORDER BY complaint_id")
    return {
        "complaints": [
            (r["complaint_id"], r["office"], r["occurred_at"], r["next_check_at"] is not None)
            for r in complaints
        ],
        "history": [
            tuple(r.values())
            for r in await conn.fetch(f"SELECT * FROM {GEN}.history ORDER BY complaint_id, seq")
        ],
    }


async def apply(conn: asyncpg.Connection, events: Sequence[Event], size: int | None) -> None:
    projection = ClockProjection(RULES)
    await conn.execute(f"TRUNCATE {GEN}.complaints, {GEN}.history")
    if size is None:
        for envelope, data in events:
            async with conn.transaction():
                await projection.apply(conn, envelope, data)
        return
    for at in range(0, len(events), size):
        async with conn.transaction():
            await projection.apply_batch(conn, events[at : at + size])


async def test_batches_write_the_same_rows_as_one_event_at_a_time(pool: asyncpg.Pool) -> None:
    events = log_of_life()
    async with pool.acquire() as conn:
        await apply(conn, events, None)
        reference = await snapshot(conn)
        for size in (len(events), 7, 1):
            await apply(conn, events, size)
            assert await snapshot(conn) == reference, f"batches of {size}"
    assert len(reference["complaints"]) == 31
    relevant = [e for e in events if RULES.relevant(e[0].type)]
    assert len(reference["history"]) == len({e[0].event_id for e in relevant}) < len(relevant)
    assert all(checked for *_, checked in reference["complaints"])


async def test_the_issue_15_events_are_recorded_and_fold_alike_on_both_paths(
    pool: asyncpg.Pool,
) -> None:
    events = log_of_life()
    moved = transferred_life(events[0])
    cid = moved[0][0].complaint_id
    office = str(getattr(moved[0][1], "office", ""))
    folds = []
    async with pool.acquire() as conn:
        for size in (None, 4):
            await apply(conn, [*events, *moved], size)
            history = await store.history(conn, cid)
            folds.append(
                fold(
                    history,
                    complaint_id=cid,
                    office=office,
                    policy=RULES.policy,
                    calendar=RULES.calendar,
                )
            )
    types = [type(data).__name__ for data, _ in history]
    assert types == [type(data).__name__ for _, data in moved]  # every one of them counts
    assert folds[0] == folds[1]
    assert folds[0].office == "HJ花园"
    assert not [kind for kind, timer in folds[0].timers.items() if timer.active]


async def test_an_event_of_a_complaint_not_received_before_it_fails_the_batch(
    pool: asyncpg.Pool,
) -> None:
    events = log_of_life()
    received = events[0]
    cid = received[0].complaint_id
    following = next(
        e for e in events[1:] if e[0].complaint_id == cid and RULES.relevant(e[0].type)
    )
    ack = ComplaintAcknowledged.model_validate({"actor": {"staff_id": "a", "role": "cs_agent"}})
    stray = received[0].model_copy(
        update={"event_id": uuid.uuid4(), "complaint_id": uuid.uuid4(), "type": ack.event_type}
    )
    projection = ClockProjection(RULES)
    async with pool.acquire() as conn:
        for batch in ([*events[:5], (stray, ack)], [following, received]):
            with pytest.raises(LookupError):
                async with conn.transaction():
                    await projection.apply_batch(conn, batch)
            with pytest.raises(LookupError):  # as one event at a time would
                async with conn.transaction():
                    for envelope, data in batch:
                        await projection.apply(conn, envelope, data)

"""The reporting projection's batch path writes exactly the rows its per-event path writes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from contracts import Channel, Envelope, EventData, LoggedEvent, Validity, new_envelope
from contracts.enums import Priority, ServiceCategory
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.lifecycle import (
    AccountabilityRecord,
    Actor,
    CloseOutcome,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintOfficeTransferred,
    MajorComplaintUnflagged,
    PlanImplemented,
    PreventiveMeasureRecorded,
    Role,
)
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from deploy.local import sandbox
from services.reporting import store
from services.reporting.projection import ComplaintsProjection
from services.runtime.store import consumer_tables_sql
from tests.conftest import RUN, Infra
from tests.integration.reporting_db import assert_counts_are_current, assert_current_is_the_fold

pytestmark = pytest.mark.infra

HERE = Path(store.__file__).parents[1]  # the reporting package (store is a package)
# The projection's tables in the schema ``reporting`` (one generation's, as a builder makes
# them), and the functions over them.
SCHEMA = (
    "CREATE SCHEMA reporting; SET search_path TO reporting; "
    + (HERE / "schema.sql").read_text(encoding="utf-8")
    + (HERE / "functions.sql").read_text(encoding="utf-8")
)
CHINA = ZoneInfo("Asia/Shanghai")
T0 = datetime(2025, 9, 1, 9, 0, tzinfo=CHINA)
AGENT = Actor(staff_id="A1", role=Role.CS_AGENT)
TABLES = {
    "complaints": "complaint_id",
    "daily_intake": "day, office, channel",
    "events": "seq",
    "timer_events": "complaint_id, timer, seq",
    "complaint_current": "complaint_id",
}
TRUNCATE = (
    "TRUNCATE reporting.complaints, reporting.daily_intake, reporting.events, "
    "reporting.timer_events, reporting.complaint_current, reporting.current_counts "
    "RESTART IDENTITY"
)


@pytest.fixture
async def pool(real_infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"complaints_test_{RUN}_batch"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=2, server_settings={"search_path": "reporting"}
    )
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)
    yield pool
    await pool.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


def story(n: int) -> list[tuple[Envelope, EventData]]:
    cid = uuid.uuid4()
    at = T0 + timedelta(hours=n)

    def wrap(data: EventData, minutes: float, event_id: uuid.UUID | None = None) -> Any:
        when = at + timedelta(minutes=minutes)
        return new_envelope(
            data,
            event_id=event_id or uuid.uuid4(),
            complaint_id=cid,
            occurred_at=when,
            recorded_at=when,
            source="t",
        ), data

    received = ComplaintReceivedV3.from_submission(
        Channel.APP,
        Submission.model_validate(
            {
                "submission_id": f"b-{cid.hex[:10]}",
                "office": f"批量{n % 3}园",
                "unit": f"{n}栋1单元{n}01",
                "complainant": {"name": "何先生", "phone": "13812345678"},
                "subject": "漏水",
                "description": "楼上漏水",
                "occurred_at": at.isoformat(),
            }
        ),
    )
    deadline = at + timedelta(minutes=30)
    warning = SlaWarning(timer="first_response", deadline=deadline, target="30分钟", share=0.8)
    breach = SlaBreached(timer="first_response", deadline=deadline, hard=False)
    return [
        wrap(received, 0),
        wrap(received, 1),  # a second receipt of the same complaint counts nothing
        wrap(warning, 24, sla_event_id(cid, "first_response", deadline, AlertKind.WARNING)),
        wrap(breach, 30, sla_event_id(cid, "first_response", deadline, AlertKind.BREACHED)),
        wrap(ComplaintAcknowledged(actor=AGENT), 40),
        wrap(
            ComplaintJudged(
                actor=AGENT,
                validity=Validity.VALID,
                category=ServiceCategory.FACILITIES,
                priority=Priority.URGENT,
            ),
            50,
        ),
        # the facts of issue 15: office, quoted texts, closing outcome and summary
        wrap(MajorComplaintUnflagged(actor=AGENT, reason="非重大"), 55),
        wrap(
            ComplaintOfficeTransferred(
                actor=AGENT, from_office=f"批量{n % 3}园", to_office="批量新园", reason="移交"
            ),
            60,
        ),
        wrap(
            PlanImplemented(
                actor=AGENT,
                plan_id=1,
                summary="已修复",
                accountability=[AccountabilityRecord(person="张三", measure="扣罚", reason="迟")],
            ),
            300,
        ),
        wrap(PreventiveMeasureRecorded(actor=AGENT, measure="每周巡检"), 320),
        wrap(
            ComplaintClosed(
                actor=AGENT, outcome=CloseOutcome.UNSATISFIED, reason="不满意", summary="已尽力"
            ),
            600,
        ),
    ]


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: [
            tuple(r.values())
            for r in await conn.fetch(f"SELECT * FROM reporting.{table} ORDER BY {order}")
        ]
        for table, order in TABLES.items()
    }


async def test_batch_path_writes_the_same_rows_as_one_event_at_a_time(pool: asyncpg.Pool) -> None:
    events = [e for n in range(6) for e in story(n)]
    projection = ComplaintsProjection(b"pepper-of-this-test")
    async with pool.acquire() as conn:
        async with conn.transaction():
            for envelope, data in events:
                await projection.apply(conn, envelope, data)
        one_by_one = await snapshot(conn)
        await assert_counts_are_current(conn)
        await conn.execute(TRUNCATE)
        async with conn.transaction():
            await projection.apply_batch(conn, events[:17])  # batches cut mid-complaint
            await projection.apply_batch(conn, events[17:])
        batched = await snapshot(conn)
    assert len(one_by_one["complaints"]) == 6
    assert sum(r[3] for r in one_by_one["daily_intake"]) == 6
    assert len(one_by_one["events"]) == 6 * 10
    closed = [r for r in one_by_one["events"] if r[3] == "ComplaintClosed"]
    assert {(r[-4], r[-3], r[-2]) for r in closed} == {(None, None, "unsatisfied")}
    assert batched == one_by_one
    assert len(one_by_one["complaint_current"]) == 6
    async with pool.acquire() as conn:
        await assert_current_is_the_fold(conn)


async def ranked_snapshot(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    """The rows, with each ``seq`` replaced by its rank: the order of the facts, not the
    numbers (a bulk load leaves gaps where duplicates were)."""
    ranks = "SELECT seq, row_number() OVER (ORDER BY seq) AS rank FROM reporting.events"
    return {
        "complaint_current": [
            tuple(r.values())
            for r in await conn.fetch(
                "SELECT * FROM reporting.complaint_current ORDER BY complaint_id"
            )
        ],
        "complaints": [
            tuple(r.values())
            for r in await conn.fetch("SELECT * FROM reporting.complaints ORDER BY complaint_id")
        ],
        "daily_intake": [
            tuple(r.values())
            for r in await conn.fetch(
                "SELECT * FROM reporting.daily_intake ORDER BY day, office, channel"
            )
        ],
        "events": [
            tuple(r.values())
            for r in await conn.fetch(
                f"""SELECT r.rank, e.event_id, e.complaint_id, e.type, e.occurred_at,
                           e.recorded_at, e.status, e.validity, e.category, e.final,
                           e.satisfied, e.major_rule, e.timer, e.deadline, e.hard, e.office,
                           e.priority, e.outcome, e.detail
                    FROM reporting.events e JOIN ({ranks}) r USING (seq) ORDER BY r.rank"""
            )
        ],
        "timer_events": [
            tuple(r.values())
            for r in await conn.fetch(
                f"""SELECT t.complaint_id, t.timer, r.rank, t.effect, t.occurred_at,
                           t.recorded_at, t.deadline, t.hard
                    FROM reporting.timer_events t JOIN ({ranks}) r USING (seq)
                    ORDER BY t.complaint_id, t.timer, r.rank"""
            )
        ],
    }


async def test_a_bulk_load_with_duplicates_writes_the_rows_of_each_event_applied_once(
    pool: asyncpg.Pool,
) -> None:
    """What a builder writes (COPY, duplicates and all, then ``finish_build``) equals applying
    each distinct event once, in the log's order."""
    stories = [story(n) for n in range(8)]
    log = [e for s in stories for e in s]
    # the same event again: right after it, and far later; and a receipt under another id
    log = log[:3] + log[:1] + log[3:] + [stories[2][0], stories[5][4], stories[1][2]]
    log.append((stories[6][0][0].model_copy(update={"event_id": uuid.uuid4()}), stories[6][0][1]))
    projection = ComplaintsProjection(b"pepper-of-this-test")
    async with pool.acquire() as conn:
        async with conn.transaction():
            for envelope, data in log:  # idempotent: each event applied once in effect
                await projection.apply(conn, envelope, data)
        once = await ranked_snapshot(conn)
        await conn.execute(TRUNCATE)
        await conn.execute(consumer_tables_sql("reporting"))
        async with conn.transaction():
            await projection.begin_build(conn)
        for start in range(0, len(log), 10):  # batches, as a builder loads them
            async with conn.transaction():
                rows = projection.rows([LoggedEvent.read(e, d) for e, d in log[start : start + 10]])
                await projection.write(conn, rows, bulk=True)
        async with conn.transaction():
            await projection.finish_build(conn, "reporting.complaints.v1")
        # the states are folded after the swap, a few complaints at a time
        assert await conn.fetchval("SELECT count(*) FROM reporting.complaint_current") == 0
        assert not await store.kept_current(conn)
        chunks = 0
        while True:
            async with conn.transaction():
                more = await store.fold_pending(conn, 3)
            chunks += 1
            if not more:
                break
        assert await store.kept_current(conn)
        bulk = await ranked_snapshot(conn)
        processed = await conn.fetchval("SELECT count(*) FROM reporting.processed_events")
    assert chunks == 4  # 8 complaints, 3 a time: 3 + 3 + 2, then none left
    # in the order they occurred: a period's complaints lie together in the table
    async with pool.acquire() as conn:
        placed = await conn.fetch("SELECT occurred_at FROM complaint_current ORDER BY ctid")
    assert [r["occurred_at"] for r in placed] == sorted(r["occurred_at"] for r in placed)
    assert len(once["complaints"]) == 8
    assert sum(r[3] for r in once["daily_intake"]) == 8
    assert bulk == once
    assert len(bulk["complaint_current"]) == 8
    assert processed == len(once["events"])
    async with pool.acquire() as conn:
        await assert_current_is_the_fold(conn)


async def test_a_generation_without_counts_is_read_folded(pool: asyncpg.Pool) -> None:
    """A live generation an earlier version built, with ``complaint_current`` but no
    ``current_counts`` (until this version's is swapped in): "now" is folded as of now, as
    while a fill-in is pending, not read from counts it lacks."""
    events = story(0)
    projection = ComplaintsProjection(b"pepper-of-this-test")
    async with pool.acquire() as conn:
        async with conn.transaction():
            await projection.apply_batch(conn, events)
        assert await store.kept_current(conn)
        assert await store.reading(conn, now=True) is store.Reading.NOW
        await conn.execute("DROP TABLE reporting.current_counts")
        assert not await store.kept_current(conn)
        assert await store.reading(conn, now=True) is store.Reading.FOLDED

"""A complaint judged from its stored agenda (no event since its fold): the alerts still owed
are returned and enqueued once, a breached target marks its clock breached and no other, and
the complaint's next check moves to what its agenda owes next."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bench.common import received_event, submission_body
from contracts import decode_event, encode_event
from deploy.local import sandbox
from services.runtime.store import consumer_tables_sql, outbox_table_sql
from services.sla import store
from services.sla.calendar import load_calendar
from services.sla.policy import load_policy
from services.sla.projection import ClockProjection
from services.sla.scheduler import SlaRules, judge_from_agenda, refold
from tests.conftest import RUN, Infra

pytestmark = pytest.mark.infra

GEN = "sla_g1"
RULES = SlaRules(policy=load_policy(), calendar=load_calendar())
TOPIC = "complaints.events"


@pytest.fixture
async def pool(real_infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"complaints_test_{RUN}_slajudged"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=2, server_settings={"search_path": f"{GEN}, sla"}
    )
    async with pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA IF NOT EXISTS sla")
        await conn.execute(outbox_table_sql(store.SCHEMA))
        await conn.execute(consumer_tables_sql(GEN))
        await conn.execute(Path(store.__file__).with_name("schema.sql").read_text("utf-8"))
    yield pool
    await pool.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


async def clock_states(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> dict[str, str]:
    rows = await conn.fetch("SELECT timer, state FROM clocks WHERE complaint_id = $1", complaint_id)
    return {r["timer"]: r["state"] for r in rows}


async def next_check(conn: asyncpg.Connection, complaint_id: uuid.UUID) -> datetime:
    value: datetime = await conn.fetchval(
        "SELECT next_check_at FROM complaints WHERE complaint_id = $1", complaint_id
    )
    return value


async def test_a_check_from_the_agenda_breaches_only_the_missed_clock_and_moves_the_next_check(
    pool: asyncpg.Pool,
) -> None:
    # Received at t0: the first response is warned at 24 minutes and due at 30 (wall clock);
    # the reply is due in working days, long after.
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, a working day
    body = submission_body(1, RUN)
    body["occurred_at"] = t0.isoformat()
    received, data = decode_event(encode_event(received_event(body)))  # as the log gives it
    cid = received.complaint_id
    async with pool.acquire() as conn:
        async with conn.transaction():
            await ClockProjection(RULES).apply(conn, received, data)
        async with conn.transaction():
            folded_at = t0 + timedelta(minutes=1)
            owed = await refold(
                conn,
                rules=RULES,
                topic=TOPIC,
                complaints=[(cid, received.data["office"])],
                until=folded_at,
                now=folded_at,
            )
        assert owed == []
        assert await clock_states(conn, cid) == {"first_response": "running", "reply": "running"}
        assert await next_check(conn, cid) == t0 + timedelta(minutes=24)  # the warning

        # Judged at 31 minutes: the warning is no longer owed (its deadline passed), the
        # breach of the target is.
        until = t0 + timedelta(minutes=31)
        async with conn.transaction():
            alerts = await judge_from_agenda(
                conn, topic=TOPIC, complaint_ids=[cid], until=until, now=until
            )
        assert [(a.type, a.data["timer"], a.data["hard"]) for a in alerts] == [
            ("SlaBreached", "first_response", False)
        ]
        assert await clock_states(conn, cid) == {"first_response": "breached", "reply": "running"}
        after = await next_check(conn, cid)
        assert after > until, "the next check is what the agenda owes after the judgment"
        assert after == await conn.fetchval(
            "SELECT min(owed_from) FROM agenda WHERE complaint_id = $1", cid
        )
        logged = await conn.fetch(f"SELECT payload FROM {store.SCHEMA}.outbox")
        assert [decode_event(bytes(r["payload"]))[1].event_type for r in logged] == ["SlaBreached"]

        # Judged again at the same instant: nothing is owed twice.
        async with conn.transaction():
            again = await judge_from_agenda(
                conn, topic=TOPIC, complaint_ids=[cid], until=until, now=until
            )
        assert again == []
        assert await conn.fetchval(f"SELECT count(*) FROM {store.SCHEMA}.outbox") == 1

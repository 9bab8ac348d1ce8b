"""The notifier's worker and consumer against a real PostgreSQL (the ``sla`` schema's durable
tables), with the robots played by ``httpx.MockTransport``: throttled answers wait out the
robot's block without costing an attempt, each robot is paced to its per-minute limit, a
failing delivery dies by age rather than by attempt count, bulk retry picks what it is told,
and old alerts are skipped against the notifier's start watermark, not against the time they
happen to be read."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from bench.common import submission_body
from contracts import Channel, Envelope, EventData, decode_event, encode_event, new_envelope
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.lifecycle import Actor, ComplaintOfficeTransferred, Role
from contracts.sla import SlaBreached
from deploy.local import sandbox
from services.sla import deliveries_store as notifier
from services.sla.notifications import Notifications, parse_notifications
from services.sla.notifier import AlertDeliveries, DeliveryWorker
from tests.conftest import RUN, Infra

pytestmark = pytest.mark.infra

DURABLE = Path(notifier.__file__).with_name("durable.sql")
ENV = {"S_D": "SEC-d", "S_W": "w-secret", "S_Q": "q-secret"}


def config(delivery: str = "{}") -> Notifications:
    return parse_notifications(
        f"""
delivery: {delivery}
rules: [{{alert: breach, roles: [cs_head]}}]
targets:
  - {{name: ding, office: 测园, role: cs_head, kind: dingtalk,
     url: "http://robots.test/ding?access_token=t", secret_env: S_D}}
  - {{name: wecom, office: 测园, role: cs_head, kind: wecom,
     url: "http://robots.test/wecom?key=k", secret_env: S_W}}
  - {{name: quick, office: 测园, role: cs_head, kind: wecom, per_minute: 3,
     throttle_block_s: 30, url: "http://robots.test/quick?key=k", secret_env: S_Q}}
""",
        environ=ENV,
    )


@pytest.fixture
async def pool(real_infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"complaints_test_{RUN}_notifier"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=3)
    async with pool.acquire() as conn:
        await conn.execute("CREATE SCHEMA sla")
        await conn.execute(DURABLE.read_text("utf-8"))
    yield pool
    await pool.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


class Robots:
    """Every request by target, answered by ``answer(target)`` (status, JSON body)."""

    def __init__(self, answer: Callable[[str], tuple[int, dict[str, Any]]]) -> None:
        self.answer = answer
        self.hits: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            target = request.url.path.strip("/")
            self.hits.append(target)
            status, body = self.answer(target)
            return httpx.Response(status, content=orjson.dumps(body))

        return httpx.MockTransport(handle)


async def add_deliveries(
    conn: asyncpg.Connection,
    target: str,
    n: int,
    *,
    attempts: int = 0,
    age: timedelta = timedelta(),
) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(n)]
    await conn.executemany(
        """INSERT INTO sla.notification_deliveries
               (delivery_id, alert_event_id, alert_type, alert_kind, complaint_id, office, target,
                target_kind, title, content, alert_at, attempts, attempts_since, created_at)
           VALUES ($1, $2, 'SlaBreached', 'breach', $3, '测园', $4, 'wecom', 't', 'x',
                   now() - $5::interval, $6, now() - $5::interval, now() - $5::interval)""",
        [(d, uuid.uuid4(), uuid.uuid4(), target, age, attempts) for d in ids],
    )
    return ids


def logged(data: EventData, complaint: uuid.UUID, at: datetime) -> Envelope:
    """``data`` as the log holds it: about ``complaint``, occurred and recorded ``at``."""
    return new_envelope(
        data,
        event_id=uuid.uuid4(),
        complaint_id=complaint,
        occurred_at=at,
        recorded_at=at,
        source="test",
    )


def as_read(data: EventData, complaint: uuid.UUID, at: datetime) -> tuple[Envelope, EventData]:
    """``logged``, as a consumer reads it back: upcast to its latest version (a receipt
    written as version 3 is read as ``ComplaintReceived``)."""
    return decode_event(encode_event(logged(data, complaint, at)))


async def rows_of(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT *, extract(epoch FROM next_attempt_at - now()) AS wait_s
               FROM sla.notification_deliveries WHERE delivery_id = ANY($1::uuid[])""",
            ids,
        )
    )


async def round_of(pool: asyncpg.Pool, cfg: Notifications, robots: Robots, batch: int = 20) -> int:
    worker = DeliveryWorker(
        config=cfg, pool=lambda: pool, now=lambda: datetime.now(UTC), batch=batch
    )
    async with httpx.AsyncClient(transport=robots.transport()) as client:
        return await worker.run_once(client)


@pytest.mark.parametrize(
    ("target", "status", "body"),
    [
        ("ding", 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
        ("wecom", 429, {}),
    ],
)
async def test_a_throttled_answer_waits_out_the_block_without_counting_an_attempt(
    pool: asyncpg.Pool, target: str, status: int, body: dict[str, Any]
) -> None:
    robots = Robots(lambda t: (status, body))
    async with pool.acquire() as conn:
        ids = await add_deliveries(conn, target, 3, attempts=2)
    assert await round_of(pool, config(), robots) == 3
    async with pool.acquire() as conn:
        rows = await rows_of(conn, ids)
        blocked = await conn.fetchval(
            "SELECT extract(epoch FROM blocked_until - now()) FROM sla.notification_targets "
            "WHERE target = $1",
            target,
        )
    for row in rows:
        assert row["state"] == "retrying" and row["attempts"] == 2  # not counted
        assert "throttled" in row["last_error"]
        assert 590 <= row["wait_s"] <= 600  # the robot's block window (default 600 s)
    assert 590 <= blocked <= 600
    # Nothing goes to the blocked robot, even a delivery due now; the others are served.
    async with pool.acquire() as conn:
        more = await add_deliveries(conn, target, 1)
        other = await add_deliveries(conn, "quick", 1)
    robots.answer = lambda t: (200, {"errcode": 0})
    robots.hits.clear()
    assert await round_of(pool, config(), robots) == 1
    assert robots.hits == ["quick"]
    async with pool.acquire() as conn:
        assert [r["state"] for r in await rows_of(conn, more)] == ["pending"]
        assert [r["state"] for r in await rows_of(conn, other)] == ["delivered"]


async def test_each_robot_gets_at_most_its_per_minute_limit(pool: asyncpg.Pool) -> None:
    robots = Robots(lambda t: (200, {"errcode": 0}))
    async with pool.acquire() as conn:
        ding = await add_deliveries(conn, "ding", 30)
        quick = await add_deliveries(conn, "quick", 5)
    # One big round: 19 (the default) to ding, 3 (its own limit) to quick.
    assert await round_of(pool, config(), robots, batch=100) == 22
    assert Counter(robots.hits) == {"ding": 19, "quick": 3}
    # The limit is per minute, not per round: the next rounds send nothing more.
    assert await round_of(pool, config(), robots, batch=100) == 0
    assert len(robots.hits) == 22
    async with pool.acquire() as conn:
        states = Counter(r["state"] for r in await rows_of(conn, ding + quick))
        # a minute later, the window has room again
        await conn.execute("UPDATE sla.notification_attempts SET at = at - interval '61 seconds'")
    assert states == {"delivered": 22, "pending": 13}
    assert await round_of(pool, config(), robots, batch=100) == 11 + 2


async def test_a_failing_delivery_dies_by_age_not_by_attempts_with_capped_backoff(
    pool: asyncpg.Pool,
) -> None:
    robots = Robots(lambda t: (500, {"errmsg": "down"}))
    cfg = config("{give_up_after_s: 3600}")
    assert cfg.delivery.max_attempts is None and cfg.delivery.backoff_max_s == 600
    async with pool.acquire() as conn:
        young = await add_deliveries(conn, "ding", 1, attempts=40, age=timedelta(minutes=50))
        old = await add_deliveries(conn, "wecom", 1, attempts=1, age=timedelta(minutes=61))
    assert await round_of(pool, cfg, robots) == 2
    async with pool.acquire() as conn:
        (y,) = await rows_of(conn, young)
        (o,) = await rows_of(conn, old)
    # 41 failures in 50 minutes: still retried, at most 10 minutes from now
    assert y["state"] == "retrying" and y["attempts"] == 41
    assert 299 <= y["wait_s"] <= 600
    assert o["state"] == "dead" and o["attempts"] == 2
    # An explicit max_attempts still holds when set.
    async with pool.acquire() as conn:
        capped = await add_deliveries(conn, "quick", 1, attempts=2)
    assert await round_of(pool, config("{max_attempts: 3}"), robots) == 1
    async with pool.acquire() as conn:
        assert [r["state"] for r in await rows_of(conn, capped)] == ["dead"]


async def test_bulk_retry_of_dead_deliveries_by_target_and_since(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        old_ding = await add_deliveries(conn, "ding", 2, age=timedelta(hours=30))
        new_ding = await add_deliveries(conn, "ding", 2, age=timedelta(hours=2))
        new_wecom = await add_deliveries(conn, "wecom", 1, age=timedelta(hours=2))
        alive = await add_deliveries(conn, "ding", 1, age=timedelta(hours=2))
        await conn.execute(
            "UPDATE sla.notification_deliveries SET state = 'dead', attempts = 9 "
            "WHERE NOT delivery_id = ANY($1::uuid[])",
            alive,
        )
        since = datetime.now(UTC) - timedelta(hours=3)
        first = await notifier.retry_dead(conn, target="ding", since=since)
        assert {r["delivery_id"] for r in first} == set(new_ding)
        rows = await rows_of(conn, new_ding)
        assert all(r["state"] == "pending" and r["attempts"] == 0 for r in rows)
        # the age to give up at starts again
        assert all(datetime.now(UTC) - r["attempts_since"] < timedelta(minutes=1) for r in rows)
        rest = await notifier.retry_dead(conn)
        assert {r["delivery_id"] for r in rest} == set(old_ding + new_wecom)
        assert await notifier.retry_dead(conn) == []
        assert [r["state"] for r in await rows_of(conn, alive)] == ["pending"]


async def test_alerts_are_skipped_against_the_start_watermark_not_the_reading_time(
    pool: asyncpg.Pool,
) -> None:
    """A notifier that first starts on a log with old alerts skips those older than
    ``max_age_s`` before its start; one that stalls for days after its start still sends
    every alert recorded since (the watermark is written once)."""
    start = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    now = start
    consumer = AlertDeliveries(config(), lambda: now)
    complaint = uuid.uuid4()

    async def read(recorded_at: datetime) -> int:
        data = SlaBreached(timer="reply", deadline=recorded_at, hard=False)
        envelope = logged(data, complaint, recorded_at)
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO sla.notification_offices (complaint_id, office) VALUES ($1, '测园') "
                "ON CONFLICT DO NOTHING",
                complaint,
            )
            await consumer.apply(conn, envelope, data)
        async with pool.acquire() as conn:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM sla.notification_deliveries WHERE alert_event_id = $1",
                    envelope.event_id,
                )
            )

    assert await read(start - timedelta(days=3)) == 0  # history when the notifier started
    assert await read(start - timedelta(hours=20)) == 3  # within a day of the start: sent
    # Stalled over a long weekend: read four days later, an escalation of the first evening.
    now = start + timedelta(days=4)
    assert await read(start + timedelta(hours=10)) == 3
    assert await read(start - timedelta(days=2)) == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT started_at FROM sla.notifier_watermark") == start
    # The worker's start writes it too, once: a later start changes nothing.
    worker = DeliveryWorker(config=config(), pool=lambda: pool, now=lambda: now)
    await worker._mark_start()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT started_at FROM sla.notifier_watermark") == start


async def test_a_batch_follows_offices_and_records_alerts_as_one_event_at_a_time_does(
    pool: asyncpg.Pool,
) -> None:
    """``apply_batch`` sets the offices of a run of events with two statements; it leaves the
    rows ``apply`` leaves event by event: receipts (some twice, some after a move), moves
    between offices, and alerts whose deliveries name the office followed at their turn."""
    rng = random.Random(3)
    now = datetime.now(UTC)
    complaints = [uuid.uuid4() for _ in range(12)]
    events: list[tuple[Envelope, EventData]] = []
    for n in range(160):
        cid = rng.choice(complaints)
        roll = rng.random()
        if roll < 0.4:
            body = submission_body(complaints.index(cid), "batch")
            body["office"] = rng.choice(["测园", "乙园"])
            data: EventData = ComplaintReceivedV3.from_submission(
                Channel.HOTLINE, Submission.model_validate(body)
            )
        elif roll < 0.75:
            data = ComplaintOfficeTransferred(
                actor=Actor(staff_id="head", role=Role.CS_HEAD),
                from_office="乙园",
                to_office=rng.choice(["测园", "乙园", "丙园"]),
                reason="跨项目转办",
            )
        else:
            data = SlaBreached(timer="reply", deadline=now - timedelta(minutes=n), hard=False)
        events.append(as_read(data, cid, now))

    async def rows(conn: asyncpg.Connection) -> tuple[list[Any], list[Any]]:
        offices = await conn.fetch(
            "SELECT complaint_id, office FROM sla.notification_offices ORDER BY complaint_id"
        )
        deliveries = await conn.fetch(
            "SELECT delivery_id, complaint_id, office, target FROM sla.notification_deliveries "
            "ORDER BY delivery_id"
        )
        return [tuple(r) for r in offices], [tuple(r) for r in deliveries]

    async def clear(conn: asyncpg.Connection) -> None:
        await conn.execute("TRUNCATE sla.notification_offices, sla.notification_deliveries")

    consumer = AlertDeliveries(config(), lambda: now)
    async with pool.acquire() as conn:
        async with conn.transaction():
            for envelope, data in events:
                await consumer.apply(conn, envelope, data)
        one_by_one = await rows(conn)
        assert one_by_one[0] and one_by_one[1]  # offices followed, alerts recorded
        for size in (160, 17, 3):
            await clear(conn)
            async with conn.transaction():
                for at in range(0, len(events), size):
                    await consumer.apply_batch(conn, events[at : at + size])
            assert await rows(conn) == one_by_one


async def test_a_batch_names_each_alert_by_the_office_it_had_at_its_turn(
    pool: asyncpg.Pool,
) -> None:
    """Within one batch, an alert takes the office as the batch's earlier events left it: a
    receipt read again (another office) changes nothing, a move does, and an office stored
    by an earlier batch stands against a later receipt. Only 测园 has targets, so an alert
    that named any other office would leave no deliveries, and one that should not have
    would leave some."""
    now = datetime.now(UTC)
    c, d = uuid.uuid4(), uuid.uuid4()

    def received(complaint: uuid.UUID, office: str) -> tuple[Envelope, EventData]:
        body = submission_body(0, "turn")
        body["office"] = office
        data = ComplaintReceivedV3.from_submission(Channel.HOTLINE, Submission.model_validate(body))
        return as_read(data, complaint, now)

    def breached(complaint: uuid.UUID, minutes: int) -> tuple[Envelope, EventData]:
        data = SlaBreached(timer="reply", deadline=now - timedelta(minutes=minutes), hard=False)
        return logged(data, complaint, now), data

    move = ComplaintOfficeTransferred(
        actor=Actor(staff_id="head", role=Role.CS_HEAD),
        from_office="乙园",
        to_office="测园",
        reason="跨项目转办",
    )
    first, second, third, of_d = breached(c, 1), breached(c, 2), breached(c, 3), breached(d, 4)
    earlier = [received(d, "测园")]
    batch = [
        received(c, "乙园"),
        received(c, "测园"),  # read again, another office: c stays in 乙园
        first,  # 乙园: no target
        (logged(move, c, now), move),
        second,  # 测园
        received(c, "乙园"),  # a receipt after the move changes nothing
        third,  # 测园
        received(d, "乙园"),  # d's office was stored by an earlier batch
        of_d,  # 测园
    ]
    consumer = AlertDeliveries(config(), lambda: now)
    async with pool.acquire() as conn, conn.transaction():
        await consumer.apply_batch(conn, earlier)
        await consumer.apply_batch(conn, batch)
        delivered = await conn.fetch(
            "SELECT alert_event_id, office FROM sla.notification_deliveries"
        )
    assert Counter((r["alert_event_id"], r["office"]) for r in delivered) == {
        (second[0].event_id, "测园"): 3,
        (third[0].event_id, "测园"): 3,
        (of_d[0].event_id, "测园"): 3,
    }

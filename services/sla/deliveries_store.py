"""SQL of the notifier's delivery tables (``sla.notification_*``, durable: never rebuilt):
claiming a round of due deliveries within the robots' pacing, and the attempts and blocks
that pacing reads."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg


async def take_round(conn: asyncpg.Connection, lock: int) -> bool:
    """Take the round lock until the transaction ends (one copy sends at a time)."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", lock))


async def claim_due(
    conn: asyncpg.Connection,
    *,
    limit: int,
    targets: Sequence[str],
    per_minute: Sequence[int],
    default_per_minute: int,
) -> list[asyncpg.Record]:
    """Lock up to ``limit`` due deliveries, earliest first, that the robots may take now: none
    of a target blocked after a throttled answer, and of each target at most its per-minute
    allowance less the POSTs it was sent in the last minute."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """WITH recent AS (
               SELECT target, count(*) AS n FROM sla.notification_attempts
               WHERE at > clock_timestamp() - interval '1 minute' GROUP BY target),
           limits AS (
               SELECT * FROM unnest($2::text[], $3::int[]) AS l(target, per_minute)),
           due AS (
               SELECT d.delivery_id, d.next_attempt_at,
                      row_number() OVER (PARTITION BY d.target
                                         ORDER BY d.next_attempt_at, d.delivery_id)
                          AS rank,
                      coalesce(l.per_minute, $4) - coalesce(r.n, 0) AS room
               FROM sla.notification_deliveries d
               LEFT JOIN limits l USING (target)
               LEFT JOIN recent r USING (target)
               LEFT JOIN sla.notification_targets b USING (target)
               WHERE d.state IN ('pending', 'retrying')
                 AND d.next_attempt_at <= clock_timestamp()
                 AND (b.blocked_until IS NULL OR b.blocked_until <= clock_timestamp()))
           SELECT delivery_id, target, title, content, attempts
           FROM sla.notification_deliveries
           WHERE delivery_id IN (SELECT delivery_id FROM due WHERE rank <= room
                                 ORDER BY next_attempt_at LIMIT $1)
           ORDER BY next_attempt_at
           FOR UPDATE SKIP LOCKED""",
        limit,
        list(targets),
        list(per_minute),
        default_per_minute,
    )
    return rows


async def record_attempts(conn: asyncpg.Connection, targets: Sequence[str]) -> None:
    """Count one POST sent to each of ``targets`` now (the pacing's last minute)."""
    if targets:
        await conn.executemany(
            "INSERT INTO sla.notification_attempts (target) VALUES ($1)", [(t,) for t in targets]
        )


async def block_target(conn: asyncpg.Connection, target: str, seconds: float, reason: str) -> None:
    """Send ``target`` nothing for ``seconds`` (it answered: throttled)."""
    await conn.execute(
        """INSERT INTO sla.notification_targets (target, blocked_until, reason)
           VALUES ($1, clock_timestamp() + make_interval(secs => $2), $3)
           ON CONFLICT (target) DO UPDATE
           SET blocked_until = EXCLUDED.blocked_until, reason = EXCLUDED.reason""",
        target,
        seconds,
        reason,
    )


async def forget_attempts_before(conn: asyncpg.Connection, kept: timedelta) -> None:
    """Drop the attempts older than ``kept`` (the pacing reads the last minute only)."""
    await conn.execute(
        "DELETE FROM sla.notification_attempts WHERE at < clock_timestamp() - $1::interval", kept
    )


COLUMNS = """delivery_id, alert_event_id, alert_type, alert_kind, complaint_id, office, target,
             target_kind, title, state, attempts, next_attempt_at, last_error, last_attempt_at,
             delivered_at, alert_at, created_at, attempts_since"""


async def set_offices(conn: asyncpg.Connection, changes: Sequence[tuple[UUID, str, bool]]) -> None:
    """The complaints' offices as the notifier follows them, for each ``(complaint_id, office,
    moved)`` in turn, with at most two statements: a receipt sets the office once (a replayed
    receipt changes nothing), a move replaces it — so a complaint that moved takes its last
    move's office, whatever came before, and one that only got receipts keeps the office it
    has, else takes its first receipt's."""
    moved: dict[UUID, str] = {}
    received: dict[UUID, str] = {}
    for complaint_id, office, is_move in changes:
        if is_move:
            moved[complaint_id] = office
        else:
            received.setdefault(complaint_id, office)
    received = {cid: office for cid, office in received.items() if cid not in moved}
    if received:
        await conn.execute(
            """INSERT INTO sla.notification_offices (complaint_id, office)
               SELECT * FROM unnest($1::uuid[], $2::text[])
               ON CONFLICT (complaint_id) DO NOTHING""",
            list(received),
            list(received.values()),
        )
    if moved:
        await conn.execute(
            """INSERT INTO sla.notification_offices (complaint_id, office)
               SELECT * FROM unnest($1::uuid[], $2::text[])
               ON CONFLICT (complaint_id) DO UPDATE SET office = EXCLUDED.office,
                                                        updated_at = now()""",
            list(moved),
            list(moved.values()),
        )


async def watermark(conn: asyncpg.Connection, now: datetime) -> datetime:
    """The notifier's start watermark: written once (``now``, the first time it is asked),
    then always the same."""
    await conn.execute(
        "INSERT INTO sla.notifier_watermark (started_at) VALUES ($1) ON CONFLICT DO NOTHING", now
    )
    started: datetime = await conn.fetchval("SELECT started_at FROM sla.notifier_watermark")
    return started


async def insert_deliveries(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """One delivery per alert and target (a replayed alert adds none)."""
    if not rows:
        return
    await conn.executemany(
        """INSERT INTO sla.notification_deliveries
               (delivery_id, alert_event_id, alert_type, alert_kind, complaint_id, office,
                target, target_kind, title, content, alert_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT DO NOTHING""",
        rows,
    )


async def mark_delivered(conn: asyncpg.Connection, delivery: UUID, attempts: int) -> None:
    """The robot took the delivery."""
    await conn.execute(
        """UPDATE sla.notification_deliveries
           SET state = 'delivered', attempts = $2, delivered_at = clock_timestamp(),
               last_attempt_at = clock_timestamp()
           WHERE delivery_id = $1""",
        delivery,
        attempts,
    )


async def mark_failed(
    conn: asyncpg.Connection,
    delivery: UUID,
    *,
    attempts: int,
    error: str,
    retry_in_s: float,
    out_of_tries: bool,
    give_up_after_s: float,
) -> str:
    """The attempt failed: retry in ``retry_in_s``, or ``dead`` when out of tries or too old
    (``give_up_after_s`` since its attempts began); the state it is in now."""
    state: str = await conn.fetchval(
        """UPDATE sla.notification_deliveries
           SET state = CASE WHEN $5 OR clock_timestamp() - attempts_since
                                       >= make_interval(secs => $6)
                            THEN 'dead' ELSE 'retrying' END,
               attempts = $2, last_error = $3, last_attempt_at = clock_timestamp(),
               next_attempt_at = clock_timestamp() + make_interval(secs => $4)
           WHERE delivery_id = $1
           RETURNING state""",
        delivery,
        attempts,
        error,
        retry_in_s,
        out_of_tries,
        give_up_after_s,
    )
    return state


async def deliveries_by_state(conn: asyncpg.Connection) -> dict[str, int]:
    """How many deliveries are in each state."""
    rows = await conn.fetch(
        "SELECT state, count(*) AS n FROM sla.notification_deliveries GROUP BY state"
    )
    return {r["state"]: r["n"] for r in rows}


# -- reads and the operator's retry (the API and the CLI) ---------------------------------------


async def office_of(conn: asyncpg.Connection, complaint_id: UUID) -> str | None:
    """The complaint's office as the notifier knows it, or ``None`` for an unknown one."""
    office: str | None = await conn.fetchval(
        "SELECT office FROM sla.notification_offices WHERE complaint_id = $1", complaint_id
    )
    return office


async def offices_of(conn: asyncpg.Connection, complaint_ids: Collection[UUID]) -> dict[UUID, str]:
    """``office_of`` for many complaints in one statement (an unknown one is left out)."""
    rows = await conn.fetch(
        "SELECT complaint_id, office FROM sla.notification_offices "
        "WHERE complaint_id = ANY($1::uuid[])",
        list(complaint_ids),
    )
    return {row["complaint_id"]: row["office"] for row in rows}


async def deliveries(
    conn: asyncpg.Connection,
    *,
    complaint_id: UUID | None = None,
    state: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Deliveries, newest first, of one complaint and/or in one state."""
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM sla.notification_deliveries
            WHERE ($1::uuid IS NULL OR complaint_id = $1) AND ($2::text IS NULL OR state = $2)
            ORDER BY created_at DESC, target LIMIT $3""",
        complaint_id,
        state,
        limit,
    )
    return [dict(r) for r in rows]


class NotRetryable(ValueError):
    """A retry asked for a delivery that is unknown or not dead."""


async def retry(conn: asyncpg.Connection, delivery: UUID) -> dict[str, Any]:
    """Send a dead delivery again: ``pending``, due now, with a fresh count of attempts and a
    fresh age to give up at (the last error stays until the next attempt). Only a dead one: a
    delivery still being retried or delivered is left alone."""
    row = await conn.fetchrow(
        f"""UPDATE sla.notification_deliveries
            SET state = 'pending', attempts = 0, next_attempt_at = now(), attempts_since = now()
            WHERE delivery_id = $1 AND state = 'dead'
            RETURNING {COLUMNS}""",
        delivery,
    )
    if row is not None:
        return dict(row)
    state = await conn.fetchval(
        "SELECT state FROM sla.notification_deliveries WHERE delivery_id = $1", delivery
    )
    if state is None:
        raise NotRetryable(f"delivery_id: no delivery {delivery}")
    raise NotRetryable(f"delivery_id: delivery {delivery} is {state}, not dead")


async def retry_dead(
    conn: asyncpg.Connection, *, target: str | None = None, since: datetime | None = None
) -> list[dict[str, Any]]:
    """Send every dead delivery again (to ``target`` only; of alerts recorded at or after
    ``since`` only), as ``retry`` does one; return them. The robots' pacing spreads them out."""
    rows = await conn.fetch(
        f"""UPDATE sla.notification_deliveries
            SET state = 'pending', attempts = 0, next_attempt_at = now(), attempts_since = now()
            WHERE state = 'dead' AND ($1::text IS NULL OR target = $1)
              AND ($2::timestamptz IS NULL OR alert_at >= $2)
            RETURNING {COLUMNS}""",
        target,
        since,
    )
    return [dict(r) for r in rows]

"""SQL of the notifier's delivery tables (``sla.notification_*``, durable: never rebuilt):
claiming a round of due deliveries within the robots' pacing, and the attempts and blocks
that pacing reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

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

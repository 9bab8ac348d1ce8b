"""SLA clocks fed from the log: a received complaint starts its first-response clock."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData

# 首问责任制: the first person reached responds within 30 minutes (wall clock).
FIRST_RESPONSE = timedelta(minutes=30)


class ClockProjection:
    """One row per (complaint, timer) with its deadline and state."""

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Start or stop clocks; the other timers arrive with the SLA issue."""
        if isinstance(data, ComplaintReceived):
            await conn.execute(
                """INSERT INTO sla.clocks
                     (complaint_id, timer, office, started_at, deadline, state)
                   VALUES ($1, 'first_response', $2, $3, $4, 'running')
                   ON CONFLICT (complaint_id, timer) DO NOTHING""",
                envelope.complaint_id,
                data.office,
                envelope.occurred_at,
                envelope.occurred_at + FIRST_RESPONSE,
            )

    async def clear(self, conn: asyncpg.Connection) -> None:
        """Empty the clocks (rebuild)."""
        await conn.execute("TRUNCATE sla.clocks")

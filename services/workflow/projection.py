"""Workflow's state table, fed from the log: every received complaint enters as ``received``."""

from __future__ import annotations

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData


class StateProjection:
    """One row per complaint with its lifecycle status."""

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Project one event; lifecycle events arrive with the workflow issue."""
        if isinstance(data, ComplaintReceived):
            await conn.execute(
                """INSERT INTO workflow.complaints
                     (complaint_id, office, unit, channel, status, received_at, version)
                   VALUES ($1, $2, $3, $4, 'received', $5, 1)
                   ON CONFLICT (complaint_id) DO NOTHING""",
                envelope.complaint_id,
                data.office,
                data.unit,
                data.channel.value,
                envelope.occurred_at,
            )

    async def clear(self, conn: asyncpg.Connection) -> None:
        """Empty the state table (rebuild)."""
        await conn.execute("TRUNCATE workflow.complaints")

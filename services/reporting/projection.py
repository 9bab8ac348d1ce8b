"""The first reporting projection: received complaints, and intake counts per day."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData
from contracts.intake import mask_name, mask_phone

CHINA = ZoneInfo("Asia/Shanghai")


class ComplaintsProjection:
    """One row per complaint with its received facts; a counter per (day, office, channel)."""

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Project one event (events this projection does not follow are ignored)."""
        if isinstance(data, ComplaintReceived):
            await self._received(conn, envelope, data)

    async def _received(
        self, conn: asyncpg.Connection, envelope: Envelope, data: ComplaintReceived
    ) -> None:
        day = data.occurred_at.astimezone(CHINA).date()
        inserted = await conn.fetchval(
            """INSERT INTO reporting.complaints
                 (complaint_id, channel, submission_id, office, unit, complainant_name,
                  complainant_phone, subject, description, demand, occurred_at, received_at,
                  received_day, received_event_id)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
               ON CONFLICT (complaint_id) DO NOTHING
               RETURNING true""",
            envelope.complaint_id,
            data.channel.value,
            data.submission_id,
            data.office,
            data.unit,
            mask_name(data.complainant.name),
            mask_phone(data.complainant.phone),
            data.subject,
            data.description,
            data.demand,
            data.occurred_at,
            envelope.recorded_at,
            day,
            envelope.event_id,
        )
        if inserted:  # a second ComplaintReceived for one complaint must not count twice
            await conn.execute(
                """INSERT INTO reporting.daily_intake (day, office, channel, received)
                   VALUES ($1, $2, $3, 1)
                   ON CONFLICT (day, office, channel)
                   DO UPDATE SET received = reporting.daily_intake.received + 1""",
                day,
                data.office,
                data.channel.value,
            )

    async def clear(self, conn: asyncpg.Connection) -> None:
        """Empty the projection's tables (rebuild)."""
        await conn.execute("TRUNCATE reporting.complaints, reporting.daily_intake")

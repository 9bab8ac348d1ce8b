"""Reporting's projection: every event of a complaint kept as one fact row, nothing overwritten.

``apply`` computes the rows (``services.reporting.domain``) and ``store`` writes them, all in
the consumer's transaction, with the offsets: a received complaint (masked), the daily intake
counter, the event's fact row, and what the event did to each SLA timer. Every report and the
dashboard are answered from these rows "as of" an instant (see ``schema.sql``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData
from services.reporting import store
from services.reporting.domain import event_fact, place_of, timer_effects

CHINA = ZoneInfo("Asia/Shanghai")

PROJECTION_TABLES = ["complaints", "daily_intake", "events", "timer_events"]
"""The tables this projection fills (dropped and rebuilt when the schema changes)."""


class ComplaintsProjection:
    """Received complaints, intake counts per day, and one fact row per event of each."""

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Project one event of the log (inside the consumer's transaction)."""
        if isinstance(data, ComplaintReceived):
            day = data.occurred_at.astimezone(CHINA).date()
            inserted = await store.add_complaint(conn, envelope, data, place_of(data), day)
            if not inserted:  # a second ComplaintReceived for one complaint must not count twice
                return
            await store.count_intake(conn, day, data.office, data.channel.value)
        fact = event_fact(envelope, data)
        seq = await store.add_event(conn, fact)
        if seq is not None:
            await store.add_timer_effects(conn, fact, seq, timer_effects(data))

    async def clear(self, conn: asyncpg.Connection) -> None:
        """Empty the projection's tables (rebuild from offset 0)."""
        await store.clear(conn)

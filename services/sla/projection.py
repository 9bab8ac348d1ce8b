"""The SLA projection: each complaint's timer-relevant history, fed from the log.

Applying an event only records it and asks the scheduler to look at the complaint; judging
deadlines (and publishing alerts) is the scheduler's, which knows how far the log was read.
"""

from __future__ import annotations

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData
from services.sla import store
from services.sla.scheduler import SlaRules


class ClockProjection:
    """History per complaint; the scheduler turns it into clocks."""

    def __init__(self, rules: SlaRules) -> None:
        self.rules = rules

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Record an event that moves a timer; ignore the others."""
        if not self.rules.relevant(envelope.type):
            return
        if isinstance(data, ComplaintReceived):
            await store.insert_complaint(conn, envelope, data)
        if await store.lock(conn, envelope.complaint_id) is None:
            raise LookupError(f"{envelope.type} for unknown complaint {envelope.complaint_id}")
        await store.add_history(conn, envelope)
        await store.request_check(conn, envelope.complaint_id)

    async def finalize(self, conn: asyncpg.Connection, previous: str) -> None:
        """Before a rebuilt generation goes live: take over the live generation's judgments
        of every complaint whose history did not change (``store.carry_judgments``)."""
        await store.carry_judgments(conn, previous)

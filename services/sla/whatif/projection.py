"""The scratch replay's projection: SLA's clocks, kept to the period's complaints, and the
alerts the live service published for them."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData
from contracts.sla import AlertKind, SlaBreached, SlaWarning
from services.sla.projection import ClockProjection
from services.sla.scheduler import SlaRules
from services.sla.whatif.inputs import Period


@dataclass(frozen=True)
class EitherRules(SlaRules):
    """Records an event when the live rules *or* the other rules look at it."""

    other: SlaRules | None = None

    def relevant(self, event_type: str) -> bool:
        return super().relevant(event_type) or (
            self.other is not None and self.other.relevant(event_type)
        )


PUBLISHED_SQL = """
CREATE TABLE IF NOT EXISTS published_alerts (
    event_id     uuid PRIMARY KEY,
    complaint_id uuid NOT NULL,
    timer        text NOT NULL,
    kind         text NOT NULL,
    due_at       timestamptz NOT NULL
);
"""


class WhatIfProjection:
    """SLA's ``ClockProjection``, kept to the complaints received in the period, plus the SLA
    alerts the live service published for them (the ``published`` check)."""

    def __init__(self, rules: SlaRules, period: Period) -> None:
        self.clocks = ClockProjection(rules)
        self.rules = rules
        self.period = period
        # Complaints received in the period, as seen (a superset of the table's: a batch may
        # roll back): most events are another period's and need no query at all.
        self.candidates: set[UUID] = set()

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Record what the folds need; ignore everything else."""
        if isinstance(data, SlaWarning | SlaBreached):
            if await self._followed(conn, envelope.complaint_id):
                kind = AlertKind.WARNING
                if isinstance(data, SlaBreached):
                    kind = AlertKind.HARD_BREACHED if data.hard else AlertKind.BREACHED
                await conn.execute(
                    """INSERT INTO published_alerts (event_id, complaint_id, timer, kind, due_at)
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                    envelope.event_id,
                    envelope.complaint_id,
                    data.timer,
                    kind.value,
                    envelope.occurred_at,
                )
            return
        if not self.rules.relevant(envelope.type):
            return
        if isinstance(data, ComplaintReceived):
            if not self.period.holds(data.occurred_at):
                return  # another period's complaint: not replayed
            self.candidates.add(envelope.complaint_id)
        elif not await self._followed(conn, envelope.complaint_id):
            return
        await self.clocks.apply(conn, envelope, data)

    async def _followed(self, conn: asyncpg.Connection, complaint_id: UUID) -> bool:
        if complaint_id not in self.candidates:
            return False
        return bool(
            await conn.fetchval("SELECT 1 FROM complaints WHERE complaint_id = $1", complaint_id)
        )

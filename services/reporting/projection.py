"""Reporting's projection: every event of a complaint kept as one fact row, nothing overwritten.

``apply`` computes the rows (``services.reporting.domain``) and ``store`` writes them, all in
the consumer's transaction, with the offsets: a received complaint (masked), the daily intake
counter, the event's fact row, and what the event did to each SLA timer. Every report and the
dashboard are answered from these rows "as of" an instant (see ``schema.sql``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID
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

    async def apply_batch(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Envelope, EventData]]
    ) -> None:
        """Project a batch of events with one statement per table: the same rows as ``apply``
        for each event in turn (the rebuild and a busy log take this path)."""
        complaints: list[tuple[Any, ...]] = []
        intake: dict[UUID, tuple[date, str, str]] = {}
        for envelope, data in events:
            if isinstance(data, ComplaintReceived):
                day = data.occurred_at.astimezone(CHINA).date()
                complaints.append(store.complaint_row(envelope, data, place_of(data), day))
                intake.setdefault(envelope.complaint_id, (day, data.office, data.channel.value))
        fresh = await store.add_complaints(conn, complaints)
        counts = Counter(key for cid, key in intake.items() if cid in fresh)
        await store.count_intakes(conn, counts)
        # A ComplaintReceived of a complaint already there adds no fact (as in ``apply``):
        # only the first receipt of each complaint this batch inserted counts.
        first_received: dict[UUID, UUID] = {}
        for row in complaints:
            if row[0] in fresh:
                first_received.setdefault(row[0], row[13])
        facts = [
            (event_fact(envelope, data), data)
            for envelope, data in events
            if not isinstance(data, ComplaintReceived)
            or first_received.get(envelope.complaint_id) == envelope.event_id
        ]
        seqs = await store.add_events(conn, [fact for fact, _ in facts])
        await store.add_timer_effects_many(
            conn,
            [
                store.timer_effect_row(fact, seqs[fact.event_id], timer, effect)
                for fact, data in facts
                if fact.event_id in seqs
                for timer, effect in timer_effects(data)
            ],
        )

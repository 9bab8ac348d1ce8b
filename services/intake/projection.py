"""Intake's projections: the caller directory and the list of rejected submissions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData, LoggedEvent
from contracts.submissions import SubmissionRejected
from services.intake import store
from services.runtime import vault

RECEIVED = ComplaintReceived.event_type


class CallerDirectory:
    """Complainant (by reference) → who complained last (sealed name, office, unit), from
    every channel.

    A hotline call that leaves out the caller's name, office or unit is completed from here.
    It lags the log by a moment: a number's first complaint must be read before a second call
    from it can rely on the directory. The name stays sealed as the log has it and is opened
    at the look-up, so an erased complainant is forgotten at once and after any rebuild.
    """

    # Read as the log holds them (``decode_logged``): the directory keeps only receipts, and
    # validating every event of the log again with pydantic, to ignore most of them, was the
    # directory's main cost in intake's process.
    reads_logged = True
    # The other types are passed by their header, unread and unclaimed (``reads``).
    reads = frozenset({RECEIVED})
    # A number is looked up when its caller calls again: a third of a second later is soon
    # enough. The broker holds a fetch that long for a batch, so under load the directory
    # writes a batch of receipts at a time, not a transaction per receipt (in a copy of its
    # own under wrk: about 310 → 110 µs of CPU a complaint; bench/README.md).
    may_wait_ms = 300

    def __init__(self, pepper: bytes) -> None:
        self.pepper = pepper

    async def apply(
        self, conn: asyncpg.Connection, envelope: Envelope | LoggedEvent, data: Any
    ) -> None:
        """Remember the complainant of a received complaint; ignore every other event."""
        await self.apply_batch(conn, [(envelope, data)])

    async def apply_batch(
        self, conn: asyncpg.Connection, batch: Sequence[tuple[Envelope | LoggedEvent, Any]]
    ) -> None:
        """``apply`` for a batch with one statement (the consumer's batch path): a statement
        per event was the caller directory's whole cost in intake's process."""
        await store.remember_callers(
            conn,
            [
                (
                    vault.personal_of_logged(self.pepper, event.data),
                    event.data["office"],
                    event.data["unit"],
                    datetime.fromisoformat(event.data["occurred_at"]),
                    event.complaint_id,
                )
                for event in (LoggedEvent.read(envelope, data) for envelope, data in batch)
                if event.type == RECEIVED
            ],
        )


class RejectedSubmissions:
    """Every ``SubmissionRejected``, for ``GET /v1/submissions/rejected``."""

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """List a rejection."""
        if isinstance(data, SubmissionRejected):
            await store.add_rejection(conn, envelope, data)

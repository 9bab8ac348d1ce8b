"""Workflow's projection: each complaint's history and state, fed from the log."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from contracts import Envelope, EventData
from contracts.privacy import ComplainantErased
from services.workflow.handlers import Context, apply_logged, apply_logged_batch


class StateProjection:
    """History and current state per complaint; automatic rules fire as events arrive."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Append the event to its complaint and run the rules it triggers (an erasure is
        about a complainant, not a complaint: the vault holds its effect)."""
        if not isinstance(data, ComplainantErased):
            await apply_logged(conn, self.ctx, envelope, data)

    async def apply_batch(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Envelope, EventData]]
    ) -> None:
        """``apply`` for each event in turn, folded in memory from the stored states."""
        about_complaints = [(e, d) for e, d in events if not isinstance(d, ComplainantErased)]
        if about_complaints:
            await apply_logged_batch(conn, self.ctx, about_complaints)

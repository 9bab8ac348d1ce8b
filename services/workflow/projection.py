"""Workflow's projection: each complaint's history and state, fed from the log, with the
automatic rules (its reactor, declared beside it in the spec) run after each event."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import asyncpg

from contracts import Envelope, EventData
from contracts.privacy import ComplainantErased
from services.runtime import vault
from services.runtime.consumer.reactor import Reactor
from services.workflow.domain import State
from services.workflow.handlers import Context, apply_logged, apply_logged_batch

log = logging.getLogger(__name__)


class StateProjection:
    """History and current state per complaint; the automatic rules (``react_with``) run on
    the state each event leaves, and what they emit is folded right behind it."""

    # Every row it writes belongs to one complaint (its history, its state; a rule's journal
    # entry and outbox row belong to the causing event): a builder's lanes may write at once.
    parallel_build = True

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._rules: Reactor[State] | None = None

    def react_with(self, reactor: Reactor[State]) -> None:
        """Run ``reactor`` (the automatic rules) on the state each event leaves."""
        self._rules = reactor

    @property
    def rules(self) -> Reactor[State]:
        if self._rules is None:  # never: the spec declares the rules beside the projection
            raise RuntimeError("the workflow's state projection runs with its rules (react_with)")
        return self._rules

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Append the event to its complaint and run the rules it triggers (an erasure is
        about a complainant, not a complaint: the vault holds its effect)."""
        if isinstance(data, ComplainantErased):
            await _enforce(conn, data)
        else:
            await apply_logged(conn, self.ctx, self.rules, envelope, data)

    async def apply_batch(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Envelope, EventData]]
    ) -> None:
        """``apply`` for each event in turn, folded in memory from the stored states."""
        about_complaints = [(e, d) for e, d in events if not isinstance(d, ComplainantErased)]
        if about_complaints:
            await apply_logged_batch(conn, self.ctx, self.rules, about_complaints)
        for _, data in events:
            if isinstance(data, ComplainantErased):
                await _enforce(conn, data)


async def _enforce(conn: asyncpg.Connection, erased: ComplainantErased) -> None:
    """The log is the record of erasures: make the vault agree with one (a no-op unless a
    vault backup older than the erasure was restored)."""
    destroyed = await vault.enforce_erasure(
        conn,
        erased.complainant_ref,
        erased_at=erased.erased_at,
        reason=erased.reason,
        reference=erased.reference,
        erased_by=erased.erased_by,
    )
    if destroyed:
        log.warning("a key erased on %s was in the vault again: destroyed", erased.erased_at)

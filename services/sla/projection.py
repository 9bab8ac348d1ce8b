"""The SLA projection: each complaint's timer-relevant history, fed from the log.

Applying an event only records it and asks the scheduler to look at the complaint; judging
deadlines (and publishing alerts) is the scheduler's, which knows how far the log was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData
from contracts.envelope import envelope_json
from services.sla import store
from services.sla.scheduler import SlaRules


class ClockProjection:
    """History per complaint; the scheduler turns it into clocks."""

    # Every row it writes belongs to one complaint: a builder's lanes may write at once.
    parallel_build = True

    def __init__(self, rules: SlaRules) -> None:
        self.rules = rules
        # The consumer passes the other types unread (by their header): most of the log is
        # events no timer hears of, this service's own alerts among them.
        self.reads = rules.events

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

    async def apply_batch(
        self, conn: asyncpg.Connection, events: Sequence[tuple[Envelope, EventData]]
    ) -> None:
        """``apply`` for each event in turn, with a few statements for the whole batch.

        The batch's receipts create their complaints with one statement; its complaints are
        locked (in id order) with their last history position; the history rows go in with
        one COPY, positions counted on from there in log order; every complaint an event
        touched is asked to be checked with one UPDATE. An event for a complaint not received
        before it raises ``LookupError``, as ``apply`` would (the consumer then applies the
        batch one event at a time to park it); an event already in the history takes no
        position, as ``apply``'s ``ON CONFLICT`` would.
        """
        relevant = [(env, data) for env, data in events if self.rules.relevant(env.type)]
        if not relevant:
            return
        created = await store.insert_complaints(
            conn, [(env, data) for env, data in relevant if isinstance(data, ComplaintReceived)]
        )
        created_by: dict[UUID, int] = {}
        for n, (env, data) in enumerate(relevant):
            if isinstance(data, ComplaintReceived) and env.complaint_id in created:
                created_by.setdefault(env.complaint_id, n)
        ids = list(dict.fromkeys(env.complaint_id for env, _ in relevant))
        last = await store.lock_with_last_seq(conn, ids)
        known = await store.events_in_history(conn, [env.event_id for env, _ in relevant])
        rows: list[store.HistoryRow] = []
        for n, (env, _) in enumerate(relevant):
            cid = env.complaint_id
            if cid not in last or created_by.get(cid, n) > n:
                raise LookupError(f"{env.type} for unknown complaint {cid}")
            if env.event_id in known:
                continue
            known.add(env.event_id)
            last[cid] += 1
            rows.append((cid, last[cid], env.event_id, env.occurred_at, envelope_json(env)))
        await store.add_history_rows(conn, rows)
        await store.request_checks(conn, ids)

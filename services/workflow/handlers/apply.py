"""Applying events read from the log: appended to their complaint, folded, and each followed
by the events the automatic rules (a ``Reactor``: ``rules.AutomaticRules``) derive from it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData
from contracts.envelope import envelope_json
from services.runtime.consumer.reactor import Reactor
from services.workflow import store
from services.workflow.domain import (
    State,
    evolve,
)
from services.workflow.handlers.context import Context, deadline_after, deadline_since


async def apply_logged(
    conn: asyncpg.Connection,
    ctx: Context,
    rules: Reactor[State],
    envelope: Envelope,
    data: EventData,
) -> None:
    """Apply an event read from the log, one at a time (the consumer's ``apply``).

    The reference path: the state is folded from the whole history, as it always was; the row
    then stores it for the batch path and the commands (``apply_logged_batch``).
    """
    if isinstance(data, ComplaintReceived):
        await store.insert_complaint(conn, envelope, data, ctx.pepper)
    row = await store.lock_complaint(conn, envelope.complaint_id)
    if row is None:
        raise LookupError(f"{envelope.type} for unknown complaint {envelope.complaint_id}")
    state = await store.load_state(conn, envelope.complaint_id)
    state, since = await append_event(conn, rules, state, row["clock_since"], [(envelope, data)])
    await store.save_summary(
        conn,
        envelope.complaint_id,
        state,
        deadline_after(ctx, state, row["occurred_at"], since),
        since,
    )


async def apply_logged_batch(
    conn: asyncpg.Connection,
    ctx: Context,
    rules: Reactor[State],
    events: Sequence[tuple[Envelope, EventData]],
) -> None:
    """Apply a batch of events read from the log: the same rows as ``apply_logged`` for each
    in turn, with a handful of statements for the whole batch instead of several per event.

    The batch's receipts create their complaints with one statement; its complaints are locked
    and their stored states read with one more (no history replay); every event is folded in
    memory, in log order, each followed by the events the rules derive from it; then the
    history rows go in with one COPY and each complaint's summary and state with one UPDATE.
    The rules' statements are batched too (``Reactor.for_batch``), their decisions unchanged.
    An event for a complaint not received before it raises ``LookupError``, as one at a time
    would: the consumer then applies the batch event by event to park that one.
    """
    received = [(env, data) for env, data in events if isinstance(data, ComplaintReceived)]
    created = await store.insert_complaints(conn, received, ctx.pepper)
    created_by = _created_by(events, created)
    ids = list(dict.fromkeys(env.complaint_id for env, _ in events))
    rows = await store.lock_complaints(conn, ids)
    states = await store.load_states(conn, rows.values(), created)
    folding = {
        cid: _Folding(states[cid], row["clock_since"], created_by.get(cid, -1))
        for cid, row in rows.items()
    }
    batch_rules = await rules.for_batch(conn, events, created_by)
    history: list[store.HistoryRow] = []
    for n, (envelope, data) in enumerate(events):
        f = folding.get(envelope.complaint_id)
        if f is None or f.born > n:
            raise LookupError(f"{envelope.type} for unknown complaint {envelope.complaint_id}")
        if not isinstance(data, rules.causes):  # no rule can run: the fold of ``_fold``, inline
            state = evolve(f.state, data)
            f.since = deadline_since(f.state, state, f.since, envelope.occurred_at)
            f.state = state
            history.append(_history_row(envelope, state))
            continue
        batch_rules.position = n
        f.state, f.since = await _fold(
            conn, batch_rules, f.state, f.since, [(envelope, data)], history
        )
    await batch_rules.finish(conn)
    await store.add_history_rows(conn, history)
    await store.save_summaries(
        conn,
        [
            (
                cid,
                f.state,
                deadline_after(ctx, f.state, rows[cid]["occurred_at"], f.since),
                f.since,
            )
            for cid, f in folding.items()
        ],
    )


@dataclass(slots=True)
class _Folding:
    """One complaint of a batch while it is folded (looked up once per event)."""

    state: State
    since: datetime | None  # when its step's clock began
    born: int  # the position of the receipt that created it in this batch; -1: before it


def _created_by(
    events: Sequence[tuple[Envelope, EventData]], created: Collection[UUID]
) -> dict[UUID, int]:
    """Each complaint the batch created (``created``) → the position of its receipt."""
    created_by: dict[UUID, int] = {}
    for n, (env, data) in enumerate(events):
        if isinstance(data, ComplaintReceived) and env.complaint_id in created:
            created_by.setdefault(env.complaint_id, n)
    return created_by


async def append_event(
    conn: asyncpg.Connection,
    rules: Reactor[State],
    state: State,
    since: datetime | None,
    events: list[tuple[Envelope, EventData]],
) -> tuple[State, datetime | None]:
    """Fold events into the history, then the events the automatic rules derive from them;
    the state after them, and since when its step's clock runs."""
    history: list[store.HistoryRow] = []
    state, since = await _fold(conn, rules, state, since, events, history)
    for complaint_id, seq, event_id, kind, envelope in history:
        await store.add_history(conn, complaint_id, seq, event_id, kind, envelope)
    return state, since


async def _fold(
    conn: asyncpg.Connection,
    rules: Reactor[State],
    state: State,
    since: datetime | None,
    events: list[tuple[Envelope, EventData]],
    history: list[store.HistoryRow],
) -> tuple[State, datetime | None]:
    """Evolve ``state`` by events, each followed by the events the rules derive from it;
    add their history rows to ``history``. ``since``: when the clock of the complaint's step
    began (``deadline_since``), kept along."""
    queue = list(events)
    while queue:
        envelope, data = queue.pop(0)
        before, state = state, evolve(state, data)
        since = deadline_since(before, state, since, envelope.occurred_at)
        history.append(_history_row(envelope, state))
        queue.extend(await rules.react(conn, envelope, data, state))
    return state, since


def _history_row(envelope: Envelope, state: State) -> store.HistoryRow:
    """The history row of ``envelope``, folded into ``state``."""
    return (
        envelope.complaint_id,
        state.version,
        envelope.event_id,
        envelope.type,
        envelope_json(envelope),
    )

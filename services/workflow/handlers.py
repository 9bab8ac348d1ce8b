"""The workflow's service layer: apply events, decide commands, run the automatic rules.

Both doors lead through ``append``: a staff command (decided here, published through the
outbox) and an event read from the log (decided elsewhere, or by this service before). Each
appended event may trigger automatic rules, whose events get ids derived from the event that
caused them, so a replay of the log re-derives the same ids instead of deciding anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData, Validity, new_envelope
from contracts.intake import ID_NAMESPACE
from contracts.lifecycle import ComplaintJudged
from contracts.sla import SlaBreached
from services.runtime.consumer import mark_applied
from services.runtime.outbox import enqueue
from services.workflow import store
from services.workflow.commands import Command
from services.workflow.domain import (
    MajorPolicy,
    RoutingRules,
    State,
    Status,
    decide,
    detect_major,
    escalate,
    evolve,
    route,
)

# 首问责任制: the first person reached responds within 30 minutes (wall clock).
FIRST_RESPONSE = timedelta(minutes=30)
_HANDLING = {
    Status.ASSIGNED,
    Status.ANALYSED,
    Status.PLAN_PROPOSED,
    Status.PLAN_APPROVED,
    Status.REOPENED,
}


@dataclass(frozen=True)
class Rules:
    """The data the automatic rules read (routing table, major-complaint policy)."""

    routing: RoutingRules
    major: MajorPolicy = field(default_factory=MajorPolicy)


@dataclass(frozen=True)
class Context:
    """Where appended events come from and go to."""

    consumer: str  # the projection consumer whose processed_events the decided events join
    topic: str
    rules: Rules


def derived_id(kind: str, cause: UUID) -> UUID:
    """The id of the event a rule derives from ``cause``: the same on every replay."""
    return uuid.uuid5(ID_NAMESPACE, f"{kind}:{cause}")


def next_deadline(state: State, occurred_at: datetime) -> tuple[str, datetime] | None:
    """The earliest deadline the workflow itself knows of for an open complaint."""
    if not state.is_open:
        return None
    due: list[tuple[datetime, str]] = []
    if state.status is Status.RECEIVED:
        due.append((occurred_at + FIRST_RESPONSE, "first_response"))
    if state.status in _HANDLING and state.deadline is not None:
        due.append((state.deadline, "department"))
    if state.commitments and not state.answered:
        due.append((state.commitments[-1], "promise"))
    if not due:
        return None
    at, kind = min(due)
    return kind, at


async def apply_logged(
    conn: asyncpg.Connection, ctx: Context, envelope: Envelope, data: EventData
) -> None:
    """Apply an event read from the log, one at a time (the consumer's ``apply``).

    The reference path: the state is folded from the whole history, as it always was; the row
    then stores it for the batch path and the commands (``apply_logged_batch``).
    """
    if isinstance(data, ComplaintReceived):
        await store.insert_complaint(conn, envelope, data)
    row = await store.lock_complaint(conn, envelope.complaint_id)
    if row is None:
        raise LookupError(f"{envelope.type} for unknown complaint {envelope.complaint_id}")
    state = await store.load_state(conn, envelope.complaint_id)
    state = await _append(conn, ctx, row["occurred_at"], state, [(envelope, data)])
    await store.save_summary(
        conn, envelope.complaint_id, state, next_deadline(state, row["occurred_at"])
    )


_CAUSES = (ComplaintReceived, ComplaintJudged, SlaBreached)
"""The events an automatic rule may be evaluated for."""


async def apply_logged_batch(
    conn: asyncpg.Connection, ctx: Context, events: Sequence[tuple[Envelope, EventData]]
) -> None:
    """Apply a batch of events read from the log: the same rows as ``apply_logged`` for each
    in turn, with a handful of statements instead of several per event.

    The batch's complaints are created (receipts) and locked at once, and their stored states
    read (no history replay); every event is folded in memory, in log order, followed by the
    events the rules derive from it; then the history rows go in with one COPY and each
    complaint's summary and state with one UPDATE. Rules keep their once-ever semantics: the
    journal is read once for the batch's causing events, and only a rule it does not hold is
    journalled and decided, exactly as one event at a time would (the repeat rule counts only
    the complaints received before its cause, not those the batch created for later receipts).
    An event for a complaint not received before it raises ``LookupError``, as one at a time
    would: the consumer then applies the batch event by event to park that one.
    """
    received = [(env, data) for env, data in events if isinstance(data, ComplaintReceived)]
    created = await store.insert_complaints(conn, received)
    created_by: dict[UUID, int] = {}  # complaint created by this batch → its receipt's position
    for n, (env, data) in enumerate(events):
        if isinstance(data, ComplaintReceived) and env.complaint_id in created:
            created_by.setdefault(env.complaint_id, n)
    ids = list(dict.fromkeys(env.complaint_id for env, _ in events))
    rows = await store.lock_complaints(conn, ids)
    states = await store.load_states(conn, rows.values())
    journal = _Journal(
        await store.rules_run(
            conn, [env.event_id for env, data in events if isinstance(data, _CAUSES)]
        )
    )
    history: list[store.HistoryRow] = []
    for n, (envelope, data) in enumerate(events):
        cid = envelope.complaint_id
        if cid not in rows or created_by.get(cid, n) > n:
            raise LookupError(f"{envelope.type} for unknown complaint {cid}")
        later = _CreatedAfter(created_by, n)
        states[cid] = await _fold(
            conn, ctx, states[cid], [(envelope, data)], history, journal, later
        )
    await store.add_history_rows(conn, history)
    await store.save_summaries(
        conn,
        [(cid, states[cid], next_deadline(states[cid], rows[cid]["occurred_at"])) for cid in ids],
    )


class _CreatedAfter:
    """The complaints a batch created for receipts after position ``n``: not there yet for
    the event at ``n``."""

    def __init__(self, created_by: dict[UUID, int], n: int) -> None:
        self.created_by, self.n = created_by, n

    def __contains__(self, complaint_id: object) -> bool:
        return isinstance(complaint_id, UUID) and self.created_by.get(complaint_id, -1) > self.n


class _Journal:
    """Whether a rule runs for a causing event: at most once ever (``workflow.rule_runs``).

    ``ran`` holds the pairs the journal is already known to hold (read once for a batch);
    any other is journalled now, and runs only if no one journalled it meanwhile.
    """

    def __init__(self, ran: set[tuple[UUID, str]] | None = None) -> None:
        self.ran = ran or set()

    async def first(self, conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
        if (cause, rule) in self.ran:
            return False
        return await _first_evaluation(conn, cause, rule)


@dataclass(frozen=True)
class Decided:
    """What a command did: the complaint's new state and the events it appended."""

    state: State
    events: list[Envelope]
    replayed: bool = False  # the same idempotency key was used before: nothing new happened


async def handle_command(
    conn: asyncpg.Connection,
    ctx: Context,
    complaint_id: UUID,
    command: Command,
    *,
    now: datetime,
    idempotency_key: str | None = None,
) -> Decided | None:
    """Decide a command against the complaint's current state, in the caller's transaction.

    The complaint's row is locked first, so two commands on one complaint are decided one after
    the other, the second against the state the first left. Returns ``None`` for an unknown
    complaint; raises ``CommandRejected`` when the procedure forbids the command.
    """
    row = await store.lock_complaint(conn, complaint_id)
    if row is None:
        return None
    state = await store.current_state(conn, row)
    if idempotency_key and await store.has_event(
        conn, command_event_id(complaint_id, idempotency_key, 0)
    ):
        return Decided(state=state, events=[], replayed=True)
    decided = decide(command, state, now=now)
    envelopes = [
        new_envelope(
            data,
            event_id=command_event_id(complaint_id, idempotency_key, n),
            complaint_id=complaint_id,
            occurred_at=now,
            recorded_at=now,
            source=f"workflow/{command.name}",
            correlation_id=complaint_id,
        )
        for n, data in enumerate(decided)
    ]
    for env in envelopes:
        await enqueue(conn, store.SCHEMA, ctx.topic, env)
        await mark_applied(conn, ctx.consumer, env.event_id)
    state = await _append(
        conn, ctx, row["occurred_at"], state, list(zip(envelopes, decided, strict=True))
    )
    await store.save_summary(conn, complaint_id, state, next_deadline(state, row["occurred_at"]))
    return Decided(state=state, events=envelopes)


def command_event_id(complaint_id: UUID, idempotency_key: str | None, n: int) -> UUID:
    """The id of a command's ``n``-th event: random, or derived from the client's key."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(ID_NAMESPACE, f"command:{complaint_id}:{idempotency_key}:{n}")


async def _append(
    conn: asyncpg.Connection,
    ctx: Context,
    occurred_at: datetime,
    state: State,
    events: list[tuple[Envelope, EventData]],
) -> State:
    """Fold events into the history, then the events the automatic rules derive from them."""
    history: list[store.HistoryRow] = []
    state = await _fold(conn, ctx, state, events, history, _Journal())
    for complaint_id, seq, event_id, kind, envelope in history:
        await store.add_history(conn, complaint_id, seq, event_id, kind, envelope)
    return state


async def _fold(
    conn: asyncpg.Connection,
    ctx: Context,
    state: State,
    events: list[tuple[Envelope, EventData]],
    history: list[store.HistoryRow],
    journal: _Journal,
    unseen: Container[UUID] = (),
) -> State:
    """Evolve ``state`` by events, each followed by the events the rules derive from it;
    add their history rows to ``history``. ``unseen``: complaints the repeat rule must not
    count (see ``store.prior_complaints``)."""
    queue = list(events)
    while queue:
        envelope, data = queue.pop(0)
        state = evolve(state, data)
        history.append(
            (
                envelope.complaint_id,
                state.version,
                envelope.event_id,
                envelope.type,
                envelope.model_dump_json(),
            )
        )
        for derived_env, derived in await _rules(conn, ctx, envelope, data, state, journal, unseen):
            # Already in the outbox: decided before this replay; its logged copy will come.
            if await enqueue(conn, store.SCHEMA, ctx.topic, derived_env):
                await mark_applied(conn, ctx.consumer, derived_env.event_id)
                queue.append((derived_env, derived))
    return state


async def _first_evaluation(conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
    """Record that ``rule`` runs for ``cause``; ``False`` if it ran before (a replay)."""
    return bool(
        await conn.fetchval(
            "INSERT INTO workflow.rule_runs (cause_event_id, rule) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING true",
            cause,
            rule,
        )
    )


async def _rules(
    conn: asyncpg.Connection,
    ctx: Context,
    envelope: Envelope,
    data: EventData,
    state: State,
    journal: _Journal,
    unseen: Container[UUID],
) -> list[tuple[Envelope, EventData]]:
    """The automatic rules: major on receipt, routing on judgement, escalation on a breach.

    Each rule is evaluated once per causing event, ever: on a replay its decision is already
    in the log, and deciding again (against another arrival order) could differ.
    """
    derived: list[EventData] = []
    if isinstance(data, ComplaintReceived):
        if await journal.first(conn, envelope.event_id, "major"):
            prior = await store.prior_complaints(
                conn, data, envelope.complaint_id, ctx.rules.major.window, unseen=unseen
            )
            flagged = detect_major(data, prior, ctx.rules.major)
            if flagged is not None:
                derived.append(flagged)
    elif (
        isinstance(data, ComplaintJudged)
        and data.validity is not Validity.INVALID
        and data.category is not None
        and state.office is not None
        and await journal.first(conn, envelope.event_id, "routing")
    ):
        derived.append(route(data.category, state.office, ctx.rules.routing))
    elif isinstance(data, SlaBreached) and await journal.first(
        conn, envelope.event_id, "escalation"
    ):
        # The breach happened at its deadline: judge the escalation at that instant.
        escalation = escalate(
            state, timer=data.timer, deadline=data.deadline, now=envelope.occurred_at
        )
        if escalation is not None:
            derived.append(escalation)
    return [
        (
            new_envelope(
                event,
                event_id=derived_id(event.event_type, envelope.event_id),
                complaint_id=envelope.complaint_id,
                occurred_at=envelope.recorded_at,
                recorded_at=envelope.recorded_at,
                source="workflow/rules",
                correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id,
            ),
            event,
        )
        for event in derived
    ]

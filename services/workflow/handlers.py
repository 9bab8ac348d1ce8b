"""The workflow's service layer: apply events, decide commands, run the automatic rules.

Both doors lead through ``append``: a staff command (decided here, published through the
outbox) and an event read from the log (decided elsewhere, or by this service before). Each
appended event may trigger automatic rules, whose events get ids derived from the event that
caused them, so a replay of the log re-derives the same ids instead of deciding anew.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
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
    OfficePolicy,
    RoutingRules,
    State,
    decide,
    detect_major,
    escalate,
    evolve,
    next_deadline,
    route,
)


@dataclass(frozen=True)
class Rules:
    """The data the automatic rules read (routing table, major-complaint policy)."""

    routing: RoutingRules
    major: MajorPolicy = field(default_factory=MajorPolicy)
    office: OfficePolicy = field(default_factory=OfficePolicy)


@dataclass(frozen=True)
class Context:
    """Where appended events come from and go to."""

    consumer: str  # the projection consumer whose processed_events the decided events join
    topic: str
    rules: Rules


def derived_id(kind: str, cause: UUID) -> UUID:
    """The id of the event a rule derives from ``cause``: the same on every replay."""
    return uuid.uuid5(ID_NAMESPACE, f"{kind}:{cause}")


async def apply_logged(
    conn: asyncpg.Connection, ctx: Context, envelope: Envelope, data: EventData
) -> None:
    """Apply an event read from the log (the consumer's ``apply``)."""
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
    state = await store.load_state(conn, complaint_id)
    if idempotency_key and await store.has_event(
        conn, command_event_id(complaint_id, idempotency_key, 0)
    ):
        return Decided(state=state, events=[], replayed=True)
    decided = decide(command, state, now=now, policy=ctx.rules.office)
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
    queue = list(events)
    while queue:
        envelope, data = queue.pop(0)
        state = evolve(state, data)
        await store.add_history(conn, envelope, state.version)
        for derived_env, derived in await _rules(conn, ctx, envelope, data, state):
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
    conn: asyncpg.Connection, ctx: Context, envelope: Envelope, data: EventData, state: State
) -> list[tuple[Envelope, EventData]]:
    """The automatic rules: major on receipt, routing on judgement, escalation on a breach.

    Each rule is evaluated once per causing event, ever: on a replay its decision is already
    in the log, and deciding again (against another arrival order) could differ.
    """
    derived: list[EventData] = []
    if isinstance(data, ComplaintReceived):
        if await _first_evaluation(conn, envelope.event_id, "major"):
            prior = await store.prior_complaints(
                conn, data, envelope.complaint_id, ctx.rules.major.window
            )
            flagged = detect_major(data, prior, ctx.rules.major)
            if flagged is not None:
                derived.append(flagged)
    elif (
        isinstance(data, ComplaintJudged)
        and data.validity is not Validity.INVALID
        and data.category is not None
        and state.office is not None
        and await _first_evaluation(conn, envelope.event_id, "routing")
    ):
        derived.append(route(data.category, state.office, ctx.rules.routing))
    elif isinstance(data, SlaBreached) and await _first_evaluation(
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

"""Staff commands: decided against the complaint's state, appended, published through the
outbox; a command given twice (the same idempotency key) acts once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from contracts import Envelope, EventData, new_envelope
from contracts.intake import ID_NAMESPACE
from services.runtime.consumer.reactor import Reactor
from services.runtime.outbox import enqueue
from services.runtime.store import mark_applied
from services.workflow import store
from services.workflow.commands import Command, Merge
from services.workflow.domain import (
    MergeTarget,
    State,
    Status,
    check_merge_target,
    decide,
)
from services.workflow.handlers.apply import append_event
from services.workflow.handlers.context import Context, deadline_after


@dataclass(frozen=True)
class Decided:
    """What a command did: the complaint's new state and the events it appended."""

    state: State
    events: list[Envelope]
    replayed: bool = False  # the same idempotency key was used before: nothing new happened


async def handle_command(
    conn: asyncpg.Connection,
    ctx: Context,
    rules: Reactor[State],
    complaint_id: UUID,
    command: Command,
    *,
    now: datetime,
    idempotency_key: str | None = None,
    authorize: Callable[[State], None] | None = None,
) -> Decided | None:
    """Decide a command against the complaint's current state, in the caller's transaction.

    The complaint's row is locked first, so two commands on one complaint are decided one after
    the other, the second against the state the first left. ``authorize`` sees that state
    first (the caller's office check: the office is the state's, transfers included) and
    raises to refuse. Returns ``None`` for an unknown complaint; raises ``CommandRejected``
    when the procedure forbids the command (``InvalidCommand`` when it names what cannot be,
    such as a complaint to merge into that does not exist).
    """
    row = await store.lock_complaint(conn, complaint_id)
    if row is None:
        return None
    state = await store.current_state(conn, row)
    if authorize is not None:
        authorize(state)
    if idempotency_key and await store.has_event(
        conn, command_event_id(complaint_id, idempotency_key, 0)
    ):
        return Decided(state=state, events=[], replayed=True)
    decided = decide(command, state, now=now, policy=ctx.rules.office)
    if isinstance(command, Merge):
        await _check_merge(conn, complaint_id, command, state)
    envelopes = _command_envelopes(complaint_id, command, decided, now, idempotency_key)
    for env in envelopes:
        await enqueue(conn, store.SCHEMA, ctx.topic, env)
        await mark_applied(conn, ctx.consumer, env.event_id)
    state, since = await append_event(
        conn,
        rules,
        state,
        row["clock_since"],
        list(zip(envelopes, decided, strict=True)),
    )
    await store.save_summary(
        conn, complaint_id, state, deadline_after(ctx, state, row["occurred_at"], since), since
    )
    return Decided(state=state, events=envelopes)


async def _check_merge(
    conn: asyncpg.Connection, complaint_id: UUID, command: Merge, state: State
) -> None:
    """Refuse a merge into a complaint that is missing, ended or another office's."""
    target = await store.summary(conn, command.into_complaint_id)
    check_merge_target(
        complaint_id,
        command,
        state,
        MergeTarget(Status(target["status"]), target["office"]) if target else None,
    )


def _command_envelopes(
    complaint_id: UUID,
    command: Command,
    decided: list[EventData],
    now: datetime,
    idempotency_key: str | None,
) -> list[Envelope]:
    """The decided events as they go to the log: ids from the idempotency key (a retried
    command gets the same ones), decided and recorded now, caused by the command."""
    return [
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


def command_event_id(complaint_id: UUID, idempotency_key: str | None, n: int) -> UUID:
    """The id of a command's ``n``-th event: random, or derived from the client's key."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(ID_NAMESPACE, f"command:{complaint_id}:{idempotency_key}:{n}")

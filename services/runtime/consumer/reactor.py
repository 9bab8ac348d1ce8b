"""Automatic rules: the consumer kind whose events cause events of the service's own.

A reactor is neither a projection (rows rebuilt from the log) nor a processor (records of a
topic that are not events). Its rules read the state a projection folds — the state right
after the causing event — so it runs inside that projection's consumer, in its transaction:
the projection folds an event, asks the reactor what the state it left causes
(``Reactor.react``), and folds the events the reactor emits right behind their cause.

What a reactor decides is durable. Each rule runs at most once per causing event, ever (its
journal lives in the service's own schema, never in a generation), so a replay or a rebuild of
the projection never decides again: against another arrival order it might decide otherwise.
The events it derives get ids derived from their cause (``derived_id``: the same on every
replay), leave through the outbox in the projection's transaction and are marked applied, so
their copies coming back from the log are skipped.

A service declares its reactor in its spec (``services.runtime.spec.Reacts``), naming the
projection whose state it reads; the app factory hands it to that projection
(``Reacting.react_with``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

import asyncpg

from contracts import Envelope, EventData, new_envelope
from contracts.intake import ID_NAMESPACE

StateT = TypeVar("StateT", contravariant=True)

Event = tuple[Envelope, EventData]


class Reactor(Protocol[StateT]):
    """Automatic rules over a projection's state, each run once per cause."""

    causes: tuple[type[EventData], ...]
    """The events any rule may run for: the projection folds every other event without
    asking (a batch's fold stays in memory for them)."""

    async def react(
        self, conn: asyncpg.Connection, cause: Envelope, data: EventData, state: StateT
    ) -> list[Event]:
        """The events ``cause`` causes, decided against ``state`` (the projection's state right
        after it) and emitted: in the outbox, marked applied. None when its rules ran before."""

    async def for_batch(
        self, conn: asyncpg.Connection, events: Sequence[Event], created_by: Mapping[UUID, int]
    ) -> BatchReactor[StateT]:
        """The same reactor for one batch of the projection: its reads and writes for the whole
        batch at once, its decisions unchanged. ``created_by``: the complaints the batch
        creates, each with its receipt's position (before it, they did not exist)."""


class BatchReactor(Reactor[StateT], Protocol):
    """A reactor for one batch: told where in the batch the fold is, finished after it."""

    position: int  # the position in the batch of the event being folded

    async def finish(self, conn: asyncpg.Connection) -> None:
        """Write what the batch's fold decided (outbox, journal, processed events)."""


@runtime_checkable
class Reacting(Protocol):
    """A projection a reactor runs inside."""

    def react_with(self, reactor: Reactor[Any]) -> None:
        """Run ``reactor`` after each event folded, and fold what it emits."""


def derived_id(kind: str, cause: UUID) -> UUID:
    """The id of the event of type ``kind`` a rule derives from ``cause``: the same on every
    replay."""
    return uuid.uuid5(ID_NAMESPACE, f"{kind}:{cause}")


def derived_envelope(cause: Envelope, event: EventData, *, source: str) -> Envelope:
    """``event``, derived from ``cause``: its derived id, in the cause's complaint and
    correlation, caused by it, at the instant the cause was recorded."""
    return new_envelope(
        event,
        event_id=derived_id(event.event_type, cause.event_id),
        complaint_id=cause.complaint_id,
        occurred_at=cause.recorded_at,
        recorded_at=cause.recorded_at,
        source=source,
        correlation_id=cause.correlation_id,
        causation_id=cause.event_id,
    )

"""What a consumer feeds and how it carries a batch: the projection's protocol, decoders,
dead letters, the prepared batch, the consumer group's name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import asyncpg
from aiokafka import ConsumerRecord

from contracts import Envelope, EventData, decode_event, decode_logged


class Projection(Protocol):
    """What a consumer feeds: one ``apply`` for every event.

    A projection may also offer ``apply_batch(conn, [(envelope, data), ...])`` writing the same
    rows as ``apply`` for each event in turn, with fewer statements; the consumer then uses it.
    """

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Turn one event into rows, inside the consumer's transaction."""


# A projection may also declare (all optional; reporting's does):
# - ``reads_logged = True``: it reads events as the log holds them (``contracts.LoggedEvent``,
#   the body as JSON, not validated again), and the consumer decodes with ``decode_logged``;
# - ``rows(events) -> rows`` (no I/O) and ``write(conn, rows)``: the consumer computes a
#   batch's rows while preparing it, when no event of it can turn out to be a duplicate;
# - ``idempotent = True``: applying an event twice changes nothing, so a builder skips the
#   ``processed_events`` claim per batch and calls ``begin_build(conn)`` before its bulk load
#   and ``finish_build(conn, consumer)`` after it (indexes, ``processed_events``).
# - ``reads``: the event types it applies (a set of names); a record whose type header
#   (``services.runtime.kafka.EVENT_TYPE``, written by ``event_headers``) names another type
#   is passed unread: not decoded, claimed or applied, only its offset stored. A record
#   without the header is decoded as ever.
# - ``may_wait_ms``: how long its readers can wait for an event (intake's caller directory:
#   300); the broker then holds a live fetch that long for a batch (``LogConsumer.wait_ms``).


Decoder = Callable[[ConsumerRecord[bytes, bytes]], tuple[Envelope, EventData]]
"""Turns a record into (envelope, body); raises ``ValueError`` for a record to dead-letter."""


def decode_record(record: ConsumerRecord[bytes, bytes]) -> tuple[Envelope, EventData]:
    """The default decoder: the record's value is an event envelope (``decode_event``)."""
    return decode_event(record.value or b"")


def decode_logged_record(record: ConsumerRecord[bytes, bytes]) -> tuple[Any, Any]:
    """The decoder of a projection that ``reads_logged``: (``LoggedEvent``, its JSON body)."""
    event = decode_logged(record.value or b"")
    return event, event.data


Decoded = tuple[ConsumerRecord[bytes, bytes], Envelope, EventData]


def header(record: ConsumerRecord[bytes, bytes], name: str) -> bytes | None:
    """The value of the record's header ``name``, if it has one."""
    return next((value for key, value in record.headers or () if key == name), None)


@dataclass(frozen=True)
class DeadLetter:
    """A record the consumer could not process, with why."""

    record: ConsumerRecord[bytes, bytes]
    error: str


@dataclass
class Batch:
    """A batch of records prepared for writing: decoded (what cannot be is to be parked),
    the offsets and time watermarks to store, and the rows when computed ahead."""

    records: Sequence[ConsumerRecord[bytes, bytes]]
    decoded: list[Decoded] = field(default_factory=list)
    unreadable: list[DeadLetter] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    seen_until: dict[int, datetime] = field(default_factory=dict)
    passed: int = 0  # records passed unread (a type the projection does not read)
    rows: Any = None  # the projection's ``rows`` of every decoded event (no claim needed)


def group_id(consumer: str, topic: str) -> str:
    """The Kafka consumer group of ``consumer``'s copies reading ``topic``: per topic, so that
    systems sharing a broker never rebalance each other's consumers (offsets live in
    PostgreSQL; the group only splits partitions between copies)."""
    return f"{consumer}@{topic}"

"""The transactional outbox: decide in PostgreSQL, publish to Kafka afterwards, lose nothing.

A service that decides something writes the new event into ``<schema>.outbox`` in the same
transaction as its state change. ``OutboxRelay`` publishes unpublished rows in order and marks
them published. A crash between publishing and marking republishes the same event (same
``event_id``), which every consumer ignores; a crash before publishing leaves the row for the
next round. Only one relay per schema publishes at a time (a PostgreSQL advisory lock), so the
order of one complaint's events is the order they were decided in, even with N copies.

Rows are kept after publishing: the outbox doubles as the record of what this service said, and
its ``event_id`` uniqueness lets rules that re-run on a replay recognise events already made.

**Watermarks.** A relay given a ``Watermarking`` also says how far its service's decisions
are in the log (``contracts.watermarks``): after a round, "every event decided before X is
published". A transaction that decides events takes the schema's writer lock in shared mode
(``deciding``) *before* it reads the clock for their ``recorded_at``. The relay reads X, then
passes the fence: one statement that takes the same lock exclusively and lets it go at once
(``store.fence``; never waiting: a decision in flight only skips the round's watermark), then
reads the unpublished rows in a later statement. Every transaction stamped before X took the
lock before X, so it had then ended: its rows are either published already or among those
read. The relay holds the lock for no longer than that statement, so a relay paused in its
round (a stopped process, a slow connection) never holds back a command. Once the
round's rows are acknowledged, X holds, below the offsets the relay's decided rows reach
in each partition (``outbox.decided``: written by a deciding transaction). The workflow's
commands take the lock (every event that can stop a clock is a command's, or derived from
one in its transaction). Outside the claim: events whose instant was taken elsewhere (those
the rules derive from another service's event carry that event's instant), and erasures,
which stop no clock and do not take the lock.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from aiokafka.structs import RecordMetadata
from faststream.kafka import KafkaBroker

from contracts import Envelope, encode_event
from contracts.watermarks import Watermark, encode_watermark
from services.runtime import store
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.kafka import EVENT_TYPE, complaint_key, event_headers, send
from services.runtime.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_WATERMARK

log = logging.getLogger(__name__)


def writers_lock(schema: str) -> str:
    """The advisory lock deciding transactions share and the relay's watermark takes."""
    return f"outbox-writers:{schema}"


async def deciding(conn: asyncpg.Connection, schema: str) -> None:
    """Called first in a transaction that will stamp events (``recorded_at``) and enqueue them
    into ``schema``'s outbox, before the clock is read: the relay's watermark never passes an
    instant such a transaction may still stamp. Deciding transactions never wait for each
    other; they wait only while the relay reads its instant (one short statement)."""
    await store.begin_deciding(conn, writers_lock(schema))


async def enqueue(conn: asyncpg.Connection, schema: str, topic: str, envelope: Envelope) -> bool:
    """Add an event to the outbox in the caller's transaction.

    Returns ``False`` when an event with this id is already there (decided before: a rule
    re-running on a replay, or a retried command), in which case nothing is written.
    """
    return envelope.event_id in await enqueue_many(conn, schema, topic, [envelope])


async def enqueue_many(
    conn: asyncpg.Connection, schema: str, topic: str, envelopes: Sequence[Envelope]
) -> set[UUID]:
    """``enqueue`` for many events with one statement, in their order; the ids of those
    written (an id already in the outbox, decided before, is skipped)."""
    if not envelopes:
        return set()
    return await store.insert_outbox(
        conn,
        schema,
        topic,
        event_ids=[env.event_id for env in envelopes],
        complaint_ids=[env.complaint_id for env in envelopes],
        payloads=[encode_event(env) for env in envelopes],
        headers=[json.dumps(event_headers(env)) for env in envelopes],
    )


async def emit(
    conn: asyncpg.Connection,
    schema: str,
    topic: str,
    consumer: str,
    envelopes: Sequence[Envelope],
) -> set[UUID]:
    """Events a consumer decides and applies itself at once (a reactor's: services.runtime.
    consumer.reactor): into the outbox, and marked applied for ``consumer`` so that their
    copies coming back from the log are skipped — two statements. The ids written; an event
    decided before is neither written nor marked: its logged copy will come and be applied."""
    written = await enqueue_many(conn, schema, topic, envelopes)
    await store.mark_applied_many(
        conn, consumer, [env.event_id for env in envelopes if env.event_id in written]
    )
    return written


@dataclass(frozen=True)
class Watermarking:
    """What a relay needs to publish watermarks: their topic, the name it signs them with, the
    topic its service's events go to and how to ask for its partitions' ends, the clock it
    stamps them with, and how often it says so when nothing is decided."""

    topic: str
    producer: str
    events_topic: str
    ends: Callable[[], Awaitable[dict[int, int]]]  # the events topic's end offsets, now
    now: Callable[[], datetime]
    interval_s: float


class OutboxRelay:
    """Publishes a schema's outbox to Kafka, in order, one relay at a time."""

    def __init__(
        self,
        *,
        schema: str,
        pool: Callable[[], asyncpg.Pool],
        broker: KafkaBroker,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        watermarking: Watermarking | None = None,
    ) -> None:
        self.schema = schema
        self._pool = pool
        self._broker = broker
        self._batch_size = batch_size
        self._watermarking = watermarking
        self._poll = (
            poll_interval_s
            if watermarking is None
            else min(poll_interval_s, watermarking.interval_s)
        )
        self._wake = asyncio.Event()
        self.is_leader = False
        # Partition → the offset after the latest decided event there (watermarks' offsets)
        self._reached: dict[int, int] | None = None

    def wake(self) -> None:
        """Publish now rather than at the next poll (called after a commit in this process)."""
        self._wake.set()

    async def run(self) -> None:
        """Publish forever: take the leader lock, drain the outbox, wait for more."""
        lock_key = f"outbox:{self.schema}"
        while True:
            try:
                async with self._pool().acquire() as lock_conn:
                    while not await store.try_lock(lock_conn, lock_key):  # noqa: ASYNC110
                        await asyncio.sleep(2.0)  # another copy relays; stand by
                    self.is_leader = True
                    self._reached = None  # what earlier leaders published: the ends, first
                    try:
                        while True:
                            if await self.publish_pending() < self._batch_size:
                                await self._sleep()
                            # a lost lock connection shows up here as an error
                            await store.ping(lock_conn)
                    finally:
                        self.is_leader = False
                        await store.unlock(lock_conn, lock_key)
            except asyncio.CancelledError:
                raise
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("outbox %s: database unavailable (%s); retrying", self.schema, exc)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("outbox %s: publishing failed; retrying", self.schema)
                await asyncio.sleep(1.0)

    async def _sleep(self) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
        except TimeoutError:
            pass
        self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events in decision order, then the watermark if
        the relay has one to say; return how many events."""
        fenced_at, rows = await self._pending()
        if rows:
            self._note_reached(rows, await self._publish(rows))
        if fenced_at is not None and len(rows) < self._batch_size:
            # Every row decided before ``fenced_at`` was among those read (the batch was not
            # full) and is acknowledged now.
            await self._publish_watermark(fenced_at)
        if not rows:
            return 0
        await self._mark_published([row["seq"] for row in rows])
        return len(rows)

    async def _pending(self) -> tuple[datetime | None, list[asyncpg.Record]]:
        """Up to a batch of unpublished rows; with watermarks, also the instant before which
        every decision had committed when they were read (``None``: one was in flight). The
        backlog gauge says how many were unpublished then."""
        async with self._pool().acquire() as conn:
            if self._watermarking is None:
                fenced_at, rows = None, await store.unpublished(conn, self.schema, self._batch_size)
            else:
                instant = self._watermarking.now()  # before the fence, so every decision
                # stamped before it had taken the lock when the fence looked
                fenced = await store.fence(conn, writers_lock(self.schema))
                fenced_at = instant if fenced else None
                # A statement of its own, after the fence: its snapshot holds every
                # decision stamped before ``fenced_at``.
                rows = await store.unpublished(conn, self.schema, self._batch_size)
            backlog = (
                len(rows)
                if len(rows) < self._batch_size
                else await store.outbox_backlog(conn, self.schema)
            )
        OUTBOX_BACKLOG.labels(self.schema).set(backlog)
        return fenced_at, rows

    def _note_reached(
        self, rows: Sequence[asyncpg.Record], acked: Sequence[RecordMetadata]
    ) -> None:
        """Where this relay's decided events (``deciding``) now reach in each partition of
        the events topic; the others are outside the watermark's word."""
        if self._watermarking is None or self._reached is None:
            return
        for row, meta in zip(rows, acked, strict=True):
            if row["decided"] and meta.topic == self._watermarking.events_topic:
                self._reached[meta.partition] = max(
                    meta.offset + 1, self._reached.get(meta.partition, 0)
                )

    async def _publish_watermark(self, before: datetime) -> None:
        """Say, once the broker acknowledged it, that every decision before ``before`` is in
        the log, below where this relay's events reach in each partition: the partitions'
        ends after its first round as leader (what earlier leaders published is below them),
        then past each event it published since."""
        marking = self._watermarking
        assert marking is not None
        if self._reached is None:
            self._reached = await marking.ends()
        said = Watermark(
            producer=marking.producer,
            topic=marking.events_topic,
            before=before,
            offsets=dict(self._reached),
        )
        await self._broker.publish(
            encode_watermark(said), topic=marking.topic, key=marking.producer.encode()
        )
        OUTBOX_WATERMARK.labels(self.schema).set(before.timestamp())

    async def _publish(self, rows: list[asyncpg.Record]) -> list[RecordMetadata]:
        """Send every row, then wait for every acknowledgement; where each landed."""
        # Send all, then await every acknowledgement: one complaint's events share a key,
        # hence a partition, and the idempotent producer keeps their order within it.
        futures, types = [], []
        for row in rows:
            headers = json.loads(row["headers"])
            types.append(headers[EVENT_TYPE])
            futures.append(
                await send(
                    self._broker,
                    row["topic"],
                    bytes(row["payload"]),
                    key=complaint_key(row["complaint_id"]),
                    headers=headers,
                )
            )
        acked: list[RecordMetadata] = await asyncio.gather(*futures)
        for kind in types:
            EVENTS_PUBLISHED.labels(kind).inc()
        return acked

    async def _mark_published(self, seqs: list[int]) -> None:
        async with self._pool().acquire() as conn:
            await store.mark_published(conn, self.schema, seqs)

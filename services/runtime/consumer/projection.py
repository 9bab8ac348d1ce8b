"""The projection consumer: each batch applied in one transaction with its offsets (see the
package)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from functools import partial
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord

from contracts import Envelope, EventData
from services.runtime import store
from services.runtime.consumer.base import LogConsumer
from services.runtime.consumer.batch import (
    Batch,
    DeadLetter,
    Decoded,
    Decoder,
    Projection,
    decode_logged_record,
    decode_record,
    header,
)
from services.runtime.kafka import EVENT_TYPE
from services.runtime.logs import bound
from services.runtime.metrics import (
    EVENTS_CONSUMED,
    EVENTS_DUPLICATE,
    EVENTS_PASSED,
)

log = logging.getLogger("services.runtime.consumer")  # one logger for the package


class ProjectionConsumer(LogConsumer):
    """Feeds a projection from the log, exactly once in effect, resuming from stored offsets."""

    def __init__(
        self, *, projection: Projection, decode: Decoder | None = None, **where: Any
    ) -> None:
        """``where``: its name, schema, topic, dead-letter topic, pool and so on
        (``LogConsumer``'s); ``decode``: how a record is read (default: an event envelope,
        or the event as logged when the projection ``reads_logged``)."""
        super().__init__(**where)
        self.search_path: str | None = None  # a builder's writes go to its generation
        self.projection = projection
        reads_logged = getattr(projection, "reads_logged", False)
        self._decode = decode or (decode_logged_record if reads_logged else decode_record)
        # The types the projection reads, as their headers spell them; ``None``: every event.
        reads = getattr(projection, "reads", None)
        self._reads = None if reads is None else frozenset(t.encode() for t in reads)
        # Whether its batches' statements are planned generically, whatever the pool's
        # ``plan_each_query``: set as the transaction enters its generation, no round trip of
        # its own. A projection whose writes' plans are the same for any rows says so.
        self._plans_generic = bool(getattr(projection, "plans_generic", False))
        # How long its readers can wait for an event (``LogConsumer.wait_ms``).
        self.wait_ms = getattr(projection, "may_wait_ms", 0)
        # Whether each batch claims its event ids in ``processed_events`` (skipping those
        # applied before). A builder loading an idempotent projection does not: it loads
        # in bulk (``write(rows, bulk=True)``), duplicates removed at the end.
        self.claiming = True

    # -- builders -------------------------------------------------------------------------

    def builder_copy(self, gen: int, schema: str) -> ProjectionConsumer:
        """The same projection, writing generation ``gen`` (in ``schema``) for a builder."""
        copy = ProjectionConsumer(
            name=self.name,
            schema=self.schema,
            projection=self.projection,
            topic=self.topic,
            deadletter_topic=self.deadletter_topic,
            pool=self._pool,
            max_records=self._max_records,
            decode=self._decode,
            broker=self._broker,
        )
        copy.write_to(gen, schema)
        copy.search_path = schema
        return copy

    @property
    def bulk(self) -> bool:
        """Whether batches are loaded in bulk (a builder's, between ``begin_build`` and
        ``finish_build``)."""
        return not self.claiming

    @property
    def bulk_capable(self) -> bool:
        """Whether a builder may load this projection without claiming event ids."""
        return bool(getattr(self.projection, "idempotent", False))

    # -- the batch ------------------------------------------------------------------------

    def prepare(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> Batch:
        """Decode a batch (no I/O); compute its rows too when no claim can drop an event.

        A record of a type the projection does not read is passed unread (only its offset
        stored); it does not move the partition's watermark either, which can only stay
        earlier than it would have: a lower bound of what is applied, as it must be."""
        batch = Batch(records)
        decode, reads = self._decode, self._reads
        for record in records:
            batch.next_offsets[record.partition] = record.offset + 1
            if reads is not None:
                kind = header(record, EVENT_TYPE)
                if kind is not None and kind not in reads:
                    batch.passed += 1
                    continue
            try:
                envelope, data = decode(record)
            except Exception as exc:  # not an event at all: deterministic, park it
                batch.unreadable.append(DeadLetter(record, f"{type(exc).__name__}: {exc}"[:4000]))
                continue
            seen = batch.seen_until.get(record.partition)
            if seen is None or envelope.recorded_at > seen:
                batch.seen_until[record.partition] = envelope.recorded_at
            batch.decoded.append((record, envelope, data))
        rows = getattr(self.projection, "rows", None)
        if self.bulk and rows is not None and batch.decoded:
            try:
                batch.rows = rows([envelope for _, envelope, _ in batch.decoded])
            except Exception:  # some event cannot be projected: found when written
                batch.rows = None
        return batch

    async def _apply_batch(self, batch: Batch, *, at_once: bool) -> list[DeadLetter] | None:
        """One transaction: store the offsets and skip duplicates (one statement), apply the
        rest, park what fails.

        ``at_once``: the whole batch is applied in one go (through the projection's
        ``write`` of rows computed ahead, or its ``apply_batch``); when that fails, ``write``
        calls again without it, and each event gets a savepoint of its own, to find and park
        the one at fault.

        A live projection's transaction first passes the service's live gate: when another
        generation went live since the last batch, nothing is applied (``None``): the
        consumer writes the new generation from then on, from that generation's offsets.
        """
        letters = list(batch.unreadable)
        duplicates = 0
        async with self._batch_lock, self._pool().acquire() as conn, conn.transaction():
            if not await self._enter(conn):
                return None
            if self.claiming:
                fresh = await self._claim(conn, batch)
                duplicates = len(batch.decoded) - len(fresh)
                letters += await self._apply_fresh(conn, fresh, at_once=at_once)
            else:  # the projection is idempotent: every event is applied (again)
                await self._store_offsets(conn, batch)
                letters += await self._apply_fresh(conn, batch.decoded, batch.rows, at_once=at_once)
            await self._dead_letters(conn, letters)
        if duplicates:  # counted once the batch is written
            EVENTS_DUPLICATE.labels(self.name).inc(duplicates)
        if batch.passed:
            EVENTS_PASSED.labels(self.name).inc(batch.passed)
        self._reached(batch)
        return letters

    async def _enter(self, conn: asyncpg.Connection) -> bool:
        """Open the batch's transaction on the right generation; ``False``: apply nothing."""
        if self.search_path is not None:  # a builder: its own generation, no live lock
            await store.set_local_search_path(
                conn, self.search_path, self.schema, plan_generic=self._plans_generic
            )
            return True
        if self.gate is None:  # a durable consumer: the service's own schema
            if self._plans_generic:
                await conn.execute(store.GENERIC_PLANS)
            return True
        live = await self.gate.enter(conn, plan_generic=self._plans_generic)
        if live.version != self.gate.version:
            # This copy runs another projection version than the live one: it must not write
            # tables of a shape it does not know. It waits for the swap to its own version.
            await self._reseek(conn)
            self._waiting = True  # handle_batch pauses, outside the transaction
            return False
        if live.gen != self.gen:
            log.info("%s: generation %s is live now (was %s)", self.name, live.gen, self.gen)
            self.write_to(live.gen, live.schema)
            await self._reseek(conn)
            return False
        return True

    async def _claim(self, conn: asyncpg.Connection, batch: Batch) -> list[Decoded]:
        """Mark the batch's events processed and store its offsets, in one statement; the
        events not seen before."""
        decoded = batch.decoded
        claimed = await self._claim_ids(conn, batch, [e.event_id for _, e, _ in decoded])
        fresh = []
        for record, envelope, data in decoded:
            if envelope.event_id in claimed:
                claimed.discard(envelope.event_id)  # a copy later in this batch is a duplicate
                fresh.append((record, envelope, data))
            else:
                self._log_event(record, envelope, duplicate=True)
        return fresh

    async def _apply_fresh(
        self, conn: asyncpg.Connection, fresh: list[Decoded], rows: Any = None, *, at_once: bool
    ) -> list[DeadLetter]:
        """Apply new events: all at once, or one by one to park the one that fails.

        ``rows``: the projection's ``rows`` of exactly these events, computed ahead."""
        if not fresh:
            return []

        async def apply_all() -> None:
            apply_batch = getattr(self.projection, "apply_batch", None)
            if self.bulk:
                await self._load(conn, [envelope for _, envelope, _ in fresh], rows)
            elif apply_batch is not None:
                await apply_batch(conn, [(envelope, data) for _, envelope, data in fresh])
            else:
                for _, envelope, data in fresh:
                    await self._apply_event(conn, envelope, data)

        if not at_once:  # some event could not be applied: find it
            return await self._apply_one_by_one(conn, fresh)
        await self._at_once(apply_all)
        for kind, n in Counter(envelope.type for _, envelope, _ in fresh).items():
            EVENTS_CONSUMED.labels(self.name, kind).inc(n)
        if log.isEnabledFor(logging.DEBUG):
            for record, envelope, _ in fresh:
                self._log_event(record, envelope, duplicate=False)
        return []

    async def _load(self, conn: asyncpg.Connection, events: list[Any], rows: Any = None) -> None:
        """Load events in bulk (a builder's): their ``rows`` (computed ahead, or now)."""
        projection: Any = self.projection
        await projection.write(conn, projection.rows(events) if rows is None else rows, bulk=True)

    async def _apply_one_by_one(
        self, conn: asyncpg.Connection, fresh: list[Decoded]
    ) -> list[DeadLetter]:
        letters, applied = await self._park_failing(
            conn,
            [
                (envelope.event_id, record, partial(self._apply_event, conn, envelope, data))
                for record, envelope, data in fresh
            ],
        )
        for n in applied:
            record, envelope, _ = fresh[n]
            EVENTS_CONSUMED.labels(self.name, envelope.type).inc()
            self._log_event(record, envelope, duplicate=False)
        return letters

    async def _apply_event(
        self, conn: asyncpg.Connection, envelope: Envelope, data: EventData
    ) -> None:
        """Apply one event (a builder loading in bulk: its rows)."""
        with bound(correlation_id=envelope.correlation_id, complaint_id=envelope.complaint_id):
            if self.bulk:
                await self._load(conn, [envelope])
            else:
                await self.projection.apply(conn, envelope, data)

    def _log_event(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, *, duplicate: bool
    ) -> None:
        """One debug line per event handled: ids and type only, never the event's data."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        with bound(correlation_id=envelope.correlation_id, complaint_id=envelope.complaint_id):
            log.debug(
                "%s: %s %s",
                self.name,
                "skipped duplicate" if duplicate else "applied",
                envelope.type,
                extra={
                    "consumer": self.name,
                    "event_type": envelope.type,
                    "event_id": str(envelope.event_id),
                    "schema_version": envelope.schema_version,
                    "partition": record.partition,
                    "offset": record.offset,
                    "duplicate": duplicate,
                },
            )

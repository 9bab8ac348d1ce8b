"""What every consumer of the log does, whatever it feeds: where it reads (attached to the
broker, each assigned partition positioned at the offsets stored in PostgreSQL, following the
live generation after a swap), each batch written with its offsets and held at while it fails,
poison dead-lettered, and how far it has applied."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg
from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

from services.runtime import store
from services.runtime.consumer.batch import Batch, DeadLetter, group_id
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.generations import LiveGate
from services.runtime.metrics import (
    BATCH_FAILURES,
    BATCH_SECONDS,
    CONSUMER_POSITION,
    DEAD_LETTERS,
)

log = logging.getLogger("services.runtime.consumer")  # one logger for the package


class AtOnceFailed(Exception):
    """A batch applied at once failed for a reason of one of its records (``_at_once``)."""


Record: TypeAlias = ConsumerRecord[bytes, bytes]
Apply: TypeAlias = Callable[[], Awaitable[None]]
"""Applies one record (or a whole batch) inside the caller's transaction."""


POISON_ATTEMPTS = 3
HOLD_BACKOFF_MAX_S = 30.0  # the longest wait between attempts at a batch that keeps failing
POLL_MS = 50  # the longest a poll waits for records before the loop goes round
# What the broker holds a fetch for when a consumer may wait (``LogConsumer.wait_ms``): about
# 80 receipts, so that under load such a consumer applies batches, not an event at a time.
BATCH_BYTES = 64 * 1024


def polls_without_blind_sleep(
    subscriber: BatchSubscriber, *, max_records: int, timeout_ms: int = POLL_MS
) -> None:
    """Make ``subscriber`` hand a record over as soon as it comes, on an idle topic too.

    FastStream's batch subscriber (``BatchSubscriber.get_msg``) sleeps ``batch_timeout_ms``
    after every poll that found nothing: on an idle consumer half the time is spent asleep,
    and a record published meanwhile waits up to that long. Here a poll waits for records
    the whole time (``getmany`` returns as soon as one comes); only a poll that came back
    empty early (an assignment changing) sleeps the rest of the time, so the loop never
    spins."""

    async def get_msg(consumer: Any) -> tuple[Record, ...]:
        started = time.monotonic()
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        if batches:
            return tuple(record for records in batches.values() for record in records)
        rest = timeout_ms / 1000 - (time.monotonic() - started)
        if rest > 0:
            await asyncio.sleep(rest)
        return ()

    subscriber.get_msg = get_msg  # type: ignore[method-assign]


class LogConsumer:
    """What every consumer of the log does, whatever it feeds: attached to the broker, each
    assigned partition positioned at the offsets stored in PostgreSQL, each batch written in
    one transaction with its offsets (``prepare`` and ``_apply_batch``: the kind's own), held
    at while it fails, its poison dead-lettered; and how far it has applied."""

    def __init__(
        self,
        *,
        name: str,
        schema: str,
        topic: str,
        deadletter_topic: str,
        pool: Callable[[], asyncpg.Pool],
        max_records: int = 500,
        durable: bool = False,
        broker: KafkaBroker | None = None,
    ) -> None:
        store.checked(schema)
        self.name = name
        self.schema = schema
        # A projection keeps its bookkeeping in the generation it writes (set by the service
        # when it knows the live generation, or by a builder); a durable consumer (one whose
        # effects are events and decisions, never rebuilt) keeps it in the service's schema.
        self.durable = durable
        self.book_schema = schema
        self.gate: LiveGate | None = None  # a live projection's writes pass the live lock
        self.gen: int | None = None  # the generation this consumer writes
        self._batch_lock = asyncio.Lock()  # a batch, or following a swap: one at a time
        self._waiting = False  # this copy's version is not the live one: wait for the swap
        self.topic = topic
        self.deadletter_topic = deadletter_topic
        self._pool = pool
        self._max_records = max_records
        # How long a fetch may wait for BATCH_BYTES (Kafka's fetch.max.wait.ms with
        # fetch.min.bytes); 0: records are handed over as they come.
        self.wait_ms = 0
        self._subscriber: BatchSubscriber | None = None
        self._broker: KafkaBroker | None = broker
        self.assigned: set[TopicPartition] = set()
        self.has_been_assigned = False

    def prepare(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> Batch:
        """The batch as the kind writes it (no I/O)."""
        raise NotImplementedError

    async def _apply_batch(self, batch: Batch, *, at_once: bool) -> list[DeadLetter] | None:
        """Write the batch and its offsets in one transaction; what it dead-lettered, or
        ``None`` when nothing was applied (the consumer repositioned). ``at_once``: the
        whole batch in one go (``_at_once``), else record by record, each in a savepoint
        (``_park_failing``)."""
        raise NotImplementedError

    # -- the batch ------------------------------------------------------------------------

    async def _dead_letters(self, conn: asyncpg.Connection, letters: list[DeadLetter]) -> None:
        """Last in the batch's transaction: dead-letter what failed."""
        for letter in letters:
            await self._dead_letter(conn, letter)

    async def _store_offsets(self, conn: asyncpg.Connection, batch: Batch) -> None:
        """Store where each partition goes on from, in the batch's transaction (a consumer
        that claims event ids stores them with its claim: ``store.claim``)."""
        await store.store_offsets(
            conn, self.book_schema, self.name, self.topic, batch.next_offsets, batch.seen_until
        )

    async def _claim_ids(
        self, conn: asyncpg.Connection, batch: Batch, ids: Sequence[UUID]
    ) -> set[UUID]:
        """Claim ``ids`` and store the batch's offsets, with one statement (``store.claim``):
        the ids not claimed before."""
        return await store.claim(
            conn,
            self.book_schema,
            self.name,
            ids,
            topic=self.topic,
            next_offsets=batch.next_offsets,
            watermarks=batch.seen_until,
        )

    async def _at_once(self, apply: Apply) -> None:
        """``apply()`` (the whole batch) straight in the batch's transaction. When it fails
        for a reason of its own, ``AtOnceFailed``: the transaction rolls back, and ``write``
        writes the batch again with a savepoint per record (``_park_failing``) to find the
        one at fault. A transient error is raised as it is: it is the database's fault, not
        a record's.

        No savepoint around the batch: it cost two round trips a batch (``SAVEPOINT``,
        ``RELEASE``), each 1–3 ms on a busy machine, for a failure that is rare."""
        try:
            await apply()
        except TRANSIENT_DB_ERRORS:
            raise
        except Exception as exc:
            raise AtOnceFailed from exc

    async def _park_failing(
        self, conn: asyncpg.Connection, items: Sequence[tuple[UUID, Record, Apply]]
    ) -> tuple[list[DeadLetter], list[int]]:
        """After the whole batch failed: each item's ``apply`` in savepoints of its own, up to
        ``POISON_ATTEMPTS`` times; one that keeps failing is a dead letter, and its claimed id
        is given back (replaying the dead letter after a fix must apply it). The dead
        letters, and the positions in ``items`` of those applied."""
        letters: list[DeadLetter] = []
        applied: list[int] = []
        for n, (claimed_id, record, apply) in enumerate(items):
            error = await self._attempts(conn, apply)
            if error is None:
                applied.append(n)
                continue
            letters.append(DeadLetter(record, error))
            await store.unclaim(conn, self.book_schema, self.name, claimed_id)
        return letters, applied

    async def _attempts(self, conn: asyncpg.Connection, apply: Apply) -> str | None:
        """``apply()`` in a savepoint, up to ``POISON_ATTEMPTS`` times; ``None`` once it
        succeeds, else the text of its last error (a transient error is raised)."""
        error = ""
        for _attempt in range(POISON_ATTEMPTS):
            try:
                async with conn.transaction():
                    await apply()
                return None
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as exc:  # anything else is this record's fault: park it
                error = f"{type(exc).__name__}: {exc}"
        return error[:4000]

    def _reached(self, batch: Batch) -> None:
        """The batch is stored: its partitions' positions, for the metrics."""
        for partition, offset in batch.next_offsets.items():
            CONSUMER_POSITION.labels(self.name, self.topic, str(partition)).set(offset)

    async def handle_batch(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply a batch in one transaction; never move past it until it is stored.

        ``write`` retries transient failures itself. Any other failure here is outside the
        projection (whose errors park the event at fault): a bug, or a driver error nobody
        classed as transient. Letting it reach the subscriber would drop the batch: the next
        batch's offsets would be stored past it. So the consumer holds at this batch, logs
        and counts each failure (``complaints_consumer_batch_failures_total``), and tries
        again with backoff; it resumes by itself when the cause goes away.
        """
        batch = self.prepare(records)
        delay = 1.0
        while True:
            try:
                await self.write(batch)
                return
            except Exception:
                BATCH_FAILURES.labels(self.name).inc()
                log.exception(
                    "%s: batch at %s failed; holding at it, retrying in %.0fs",
                    self.name,
                    {r.partition: r.offset for r in reversed(batch.records)},
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, HOLD_BACKOFF_MAX_S)

    async def write(self, batch: Batch) -> None:
        """Write a prepared batch in one transaction; retry transient failures."""
        delay = 0.2
        while True:
            try:
                started = time.perf_counter()
                try:
                    letters = await self._apply_batch(batch, at_once=True)
                except AtOnceFailed:  # rolled back: again, parking the record at fault
                    letters = await self._apply_batch(batch, at_once=False)
                if letters is None:  # the live generation changed: repositioned, not applied
                    if self._waiting:
                        self._waiting = False
                        await asyncio.sleep(1.0)
                    return
                BATCH_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                for letter in letters:
                    DEAD_LETTERS.labels(self.name).inc()
                    # The first line only: a validation error goes on to quote the input.
                    log.error(
                        "%s: dead-lettered %s[%d]@%d: %s",
                        self.name,
                        letter.record.topic,
                        letter.record.partition,
                        letter.record.offset,
                        letter.error.splitlines()[0] if letter.error else "",
                    )
                return
            except TRANSIENT_DB_ERRORS as exc:
                log.warning(
                    "%s: batch failed transiently (%s: %s); retrying in %.1fs",
                    self.name,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _dead_letter(self, conn: asyncpg.Connection, letter: DeadLetter) -> None:
        """Publish the record to the dead-letter topic (acknowledged) and remember it."""
        record = letter.record
        if self._broker is not None:  # a scratch replay (no broker) only records it
            await self._broker.publish(
                record.value,
                topic=self.deadletter_topic,
                key=record.key,
                headers={
                    "dlq-consumer": self.name,
                    "dlq-topic": record.topic,
                    "dlq-partition": str(record.partition),
                    "dlq-offset": str(record.offset),
                    "dlq-error": letter.error[:1000],
                },
            )
        await store.record_dead_letter(
            conn,
            self.book_schema,
            self.name,
            record.topic,
            record.partition,
            record.offset,
            letter.error,
        )

    # -- wiring ---------------------------------------------------------------------------

    def write_to(self, gen: int, schema: str) -> None:
        """Apply into generation ``gen`` (its bookkeeping is in ``schema``) from now on."""
        self.gen = gen
        self.book_schema = schema

    @property
    def group_id(self) -> str:
        """The Kafka consumer group its copies share (``name`` is what offsets are stored as)."""
        return group_id(self.name, self.topic)

    def attach(self, broker: KafkaBroker) -> None:
        """Register the batch subscriber on ``broker`` (before the broker starts)."""
        self._broker = broker
        subscriber = broker.subscriber(
            self.topic,
            # Kafka's group only splits partitions between copies (offsets live in
            # PostgreSQL), so it is per topic: systems sharing a broker never rebalance
            # each other's consumers.
            group_id=self.group_id,
            batch=True,
            max_records=self._max_records,
            batch_timeout_ms=POLL_MS,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.MANUAL,  # nothing is committed to Kafka: offsets live in PG
            listener=_SeekToStoredOffsets(self),
            # The handler reads the raw records; FastStream need not decode every body.
            decoder=_raw_records,
            title=f"{self.name}:{self.topic}",
            description=f"Projection consumer {self.name} (offsets stored in {self.schema})",
            # A fetch returns as soon as it has a record, unless this consumer may wait:
            # then the broker holds it until BATCH_BYTES came or ``wait_ms`` passed.
            fetch_min_bytes=BATCH_BYTES if self.wait_ms else 1,
            fetch_max_wait_ms=self.wait_ms or 500,  # 500: aiokafka's default
        )

        # The records come as the handler's body (``_raw_records``): asked for through
        # ``Context("message")``, FastStream's injection resolved it in a worker thread, a
        # hop to a thread and back for every batch.
        async def handle(records: Any) -> None:
            await self.handle_batch(list(records))

        subscriber(handle)
        polls_without_blind_sleep(subscriber, max_records=self._max_records)
        self._subscriber = subscriber

    def _consumer(self) -> Any:
        assert self._subscriber is not None and self._subscriber.consumer is not None
        return self._subscriber.consumer

    # -- offsets --------------------------------------------------------------------------

    async def stored_offsets(self, conn: asyncpg.Connection | None = None) -> dict[int, int]:
        """Partition → next offset to apply, as stored with the rows (of the generation this
        consumer writes)."""
        if conn is None:
            async with self._pool().acquire() as own:
                return await self.stored_offsets(own)
        return await store.stored_offsets(conn, self.book_schema, self.name, self.topic)

    async def follow_live(self) -> None:
        """Write the live generation from now on, if another went live since the last batch.

        A consumer with nothing to read gets no batch that would notice a swap: the service
        calls this every few seconds, so its stored offsets, lag and watermark (which the SLA
        scheduler judges by) are always the live generation's.
        """
        if self.gate is None or not self.has_been_assigned:
            return
        async with self._batch_lock, self._pool().acquire() as conn:
            live = await self.gate.current(conn)
            if live is None or live.gen == self.gen or live.version != self.gate.version:
                return
            log.info("%s: generation %s is live now (was %s)", self.name, live.gen, self.gen)
            self.write_to(live.gen, live.schema)
            await self._reseek(conn)

    async def _stored_for_seek(self) -> dict[int, int]:
        """The stored offsets to resume from, following the live generation if it changed."""
        async with self._pool().acquire() as conn:
            if self.gate is not None:
                live = await self.gate.current(conn)
                if live is not None and live.gen != self.gen:
                    self.write_to(live.gen, live.schema)
            return await self.stored_offsets(conn)

    async def _reseek(self, conn: asyncpg.Connection) -> None:
        """Position every assigned partition at the stored offsets again (after a swap)."""
        stored = await self.stored_offsets(conn)
        consumer = self._consumer()
        for tp in self.assigned:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)

    async def seek_assigned(self, assigned: set[TopicPartition]) -> None:
        """Position each newly assigned partition at its stored offset (or at the start)."""
        self.assigned = set(assigned)
        self.has_been_assigned = True
        if not assigned:
            return
        while True:
            try:
                stored = await self._stored_for_seek()
                break
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("%s: cannot read stored offsets (%s); retrying", self.name, exc)
                await asyncio.sleep(1.0)
        consumer = self._consumer()
        for tp in assigned:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
        log.info(
            "%s: assigned %s, resuming at %s",
            self.name,
            sorted(tp.partition for tp in assigned),
            stored,
        )

    # -- where it stands ---------------------------------------------------------------

    async def applied_by_partition(
        self, now: datetime, reached: Mapping[int, int] | None = None
    ) -> dict[int, datetime] | None:
        """Partition → the instant up to which it has been applied (by every copy), or ``None``.

        A partition applied up to its end, or up to its offset in ``reached`` (where a
        producer's watermark says its events before an instant are: ``Fence.offsets``), gives
        ``now``; one still behind gives the
        ``recorded_at`` of the last event applied from it: the instant before which no
        unapplied event of it was recorded, the latest moment a timer of a complaint keyed to
        it may be judged without missing the event that stopped it. ``None`` when a
        partition is behind and nothing of it was applied yet (a rebuild starting), or before
        the consumer started.
        """
        if self._subscriber is None or self._subscriber.consumer is None:
            return None
        consumer = self._subscriber.consumer
        partitions = consumer.partitions_for_topic(self.topic) or set()
        if not partitions:
            return None
        stored = await self._stored_positions()  # a lower bound of what is applied by now

        def beyond(partition: int) -> bool:
            row = stored.get(partition)
            return (
                reached is not None
                and partition in reached
                and (row["next_offset"] if row else 0) >= reached[partition]
            )

        if all(beyond(p) for p in partitions):  # the ends need not be asked
            return dict.fromkeys(partitions, now)
        ends = await consumer.end_offsets([TopicPartition(self.topic, p) for p in partitions])
        applied: dict[int, datetime] = {}
        for tp, end in ends.items():
            row = stored.get(tp.partition)
            if (row["next_offset"] if row else 0) >= end or beyond(tp.partition):
                applied[tp.partition] = now
            elif row is None or row["watermark"] is None:
                return None
            else:
                applied[tp.partition] = min(now, row["watermark"])
        return applied

    async def _stored_positions(self) -> dict[int, asyncpg.Record]:
        """The stored offsets and watermarks of the generation this consumer writes. A swap
        drops the old generation while the consumer still writes it (it notices at its next
        batch): then it follows the live generation now and reads that one's. A table missing
        for any other reason is an error."""
        gen, schema = self.gen, self.book_schema
        try:
            async with self._pool().acquire() as conn:
                return await store.stored_positions(conn, schema, self.name, self.topic)
        except asyncpg.UndefinedTableError:
            await self.follow_live()
            if self.gen == gen:
                raise
        async with self._pool().acquire() as conn:
            return await store.stored_positions(conn, self.book_schema, self.name, self.topic)

    async def progress(self) -> dict[int, tuple[int, int]] | None:
        """Partition → (stored next offset, end offset), over every partition of the topic.

        ``None`` before the consumer has started. Unlike :meth:`lag`, not only the partitions
        assigned to this copy: the stored offsets are the whole group's.
        """
        if self._subscriber is None or self._subscriber.consumer is None:
            return None
        consumer = self._subscriber.consumer
        partitions = consumer.partitions_for_topic(self.topic) or set()
        ends = await consumer.end_offsets([TopicPartition(self.topic, p) for p in partitions])
        stored = await self.stored_offsets()
        return {tp.partition: (stored.get(tp.partition, 0), end) for tp, end in ends.items()}

    async def lag(self) -> dict[int, int]:
        """Partition → events not yet applied (end offset − stored offset)."""
        consumer = self._consumer()
        ends: dict[TopicPartition, int] = await consumer.end_offsets(list(self.assigned))
        stored = await self.stored_offsets()
        return {tp.partition: end - stored.get(tp.partition, 0) for tp, end in ends.items()}


async def _raw_records(message: Any) -> Any:
    """FastStream decoder that leaves the bodies alone: the batch's records as they came (the
    consumer decodes them)."""
    return message.raw_message


class _SeekToStoredOffsets(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, position every partition where the stored offsets say."""

    def __init__(self, owner: LogConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Nothing to flush: each batch committed its offsets with its rows.
        self.owner.assigned -= set(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner.seek_assigned(assigned)

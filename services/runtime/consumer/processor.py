"""The processor consumer: records of a topic, read as they are, turned into decisions.

A processor is not a projection. It reads records that are not events of the log (a channel's
payloads on the submissions topic), and what it does with each — an event emitted through the
outbox, a decision recorded — is durable: never rebuilt, never replayed into a generation.
So its consumer knows no live gate, no generations, no envelopes: each record is claimed by
its place in the topic (``Processor.record_id``) with the offsets in one transaction, handed to
``Processor.process`` as it is, and dead-lettered when it keeps failing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol
from uuid import UUID

import asyncpg

from services.runtime.consumer.base import LogConsumer, Record
from services.runtime.consumer.batch import Batch, DeadLetter
from services.runtime.metrics import EVENTS_CONSUMED, EVENTS_DUPLICATE


class Processor(Protocol):
    """What a processor consumer feeds: each record once, as the topic holds it."""

    kind: str
    """What its records are, for the metrics (``complaints_events_consumed_total{type}``)."""

    def record_id(self, record: Record) -> UUID:
        """The id a record is claimed by: from its place in the topic, the same every time."""

    async def process(self, conn: asyncpg.Connection, record: Record) -> None:
        """Decide one record inside the consumer's transaction (emit through the outbox)."""


class ProcessorConsumer(LogConsumer):
    """Feeds a processor from a topic, each record once in effect, from stored offsets."""

    def __init__(self, *, processor: Processor, **where: Any) -> None:
        """``where``: its name, schema, topic, dead-letter topic, pool (``LogConsumer``'s).
        Never rebuilt: its bookkeeping stays in the service's own schema."""
        super().__init__(**where, durable=True)
        self.processor = processor

    def prepare(self, records: Sequence[Record]) -> Batch:
        """The records and where each partition goes on from; the time watermark of each
        partition is the timestamp of its last record (when the channel published it)."""
        batch = Batch(records)
        for record in records:
            batch.next_offsets[record.partition] = record.offset + 1
            at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            seen = batch.seen_until.get(record.partition)
            if seen is None or at > seen:
                batch.seen_until[record.partition] = at
        return batch

    async def _apply_batch(self, batch: Batch, *, at_once: bool) -> list[DeadLetter] | None:
        """One transaction: claim the records and store the offsets (one statement), process
        the new ones (all at once, or one by one to park the one at fault)."""
        letters: list[DeadLetter] = []
        async with self._batch_lock, self._pool().acquire() as conn, conn.transaction():
            fresh = await self._claim(conn, batch)
            if fresh:
                letters = await self._process_fresh(conn, fresh, at_once=at_once)
            await self._dead_letters(conn, letters)
        if len(fresh) < len(batch.records):  # counted once the batch is written
            EVENTS_DUPLICATE.labels(self.name).inc(len(batch.records) - len(fresh))
        self._reached(batch)
        return letters

    async def _claim(self, conn: asyncpg.Connection, batch: Batch) -> list[tuple[UUID, Record]]:
        """Mark the batch's records processed and store its offsets, in one statement; the
        records not processed before."""
        ids = [(self.processor.record_id(record), record) for record in batch.records]
        claimed = await self._claim_ids(conn, batch, [i for i, _ in ids])
        return [(i, record) for i, record in ids if i in claimed]

    async def _process_fresh(
        self, conn: asyncpg.Connection, fresh: list[tuple[UUID, Record]], *, at_once: bool
    ) -> list[DeadLetter]:
        """All at once, or one by one to park the record at fault."""

        async def process_all() -> None:
            for _, record in fresh:
                await self.processor.process(conn, record)

        if at_once:
            await self._at_once(process_all)
            EVENTS_CONSUMED.labels(self.name, self.processor.kind).inc(len(fresh))
            return []
        letters, applied = await self._park_failing(
            conn,
            [(i, record, partial(self.processor.process, conn, record)) for i, record in fresh],
        )
        EVENTS_CONSUMED.labels(self.name, self.processor.kind).inc(len(applied))
        return letters

"""Reporting's projection: every event of a complaint kept as one fact row, nothing overwritten.

For a batch of events it computes the rows (``services.reporting.domain``) and ``store`` writes
them in one statement, in the consumer's transaction, with the offsets: a received complaint
(masked), the daily intake counter, the event's fact row, and what the event did to each SLA
timer. Every report and the dashboard are answered from these rows "as of" an instant (see
``schema.sql``).

It reads the events as the log holds them (``LoggedEvent``: the body as JSON, upcast, not
validated again: it was validated when it was written), so the consumer decodes them with
``decode_logged``. Its writes are idempotent by themselves — a complaint and an event id are
written once, an intake counter counts only the complaints a batch recorded — so applying an
event twice changes nothing, and a builder need not keep ``processed_events`` row by row
(``idempotent``). A builder loads a new generation in bulk instead: COPY without constraints
or indexes, duplicates and all (``begin_build``, ``write(bulk=True)``), then removes what the
duplicates wrote, set-wise, makes the constraints and indexes and fills ``processed_events``
(``finish_build``), before it catches up under the live lock the ordinary way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from contracts import Envelope, LoggedEvent
from services.reporting import store
from services.reporting.domain import (
    logged_complaint_row,
    logged_fact_row,
    logged_timer_effects,
)

PROJECTION_TABLES = ["complaints", "daily_intake", "events", "timer_events"]
"""The tables this projection fills (dropped and rebuilt when the schema changes)."""

SCHEMA_SQL = Path(__file__).with_name("schema.sql")

SETTLE_CHUNK = 5_000
"""Complaints folded per transaction after a bulk load (~0.2 s under the live lock, shared)."""

NOT_ABOUT_A_COMPLAINT = frozenset({"ComplainantErased"})
"""Event types of the log that are about no complaint: no fact row (the vault holds an
erasure's effect)."""

Rows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


class ComplaintsProjection:
    """Received complaints, intake counts per day, and one fact row per event of each."""

    reads_logged = True  # the consumer decodes with ``decode_logged``
    idempotent = True  # applying an event twice changes nothing (see the module's doc)
    # Built in lanes (services.runtime.builder): each event's rows are its own, and the
    # copies of an event, like a complaint's receipts, share its key and so its partition.
    parallel_build = True
    # Its batches' statements plan the same for any rows and ids, and planning the fold into
    # complaint_current took 2.5 ms, twice its run: the consumer plans them generically,
    # although the service's pool plans each read for its parameters (``plan_each_query``).
    plans_generic = True

    def __init__(self, pepper: bytes) -> None:
        self.pepper = pepper  # of complainant references, for receipts from before sealing

    def rows(self, events: Sequence[LoggedEvent]) -> Rows:
        """The rows of a batch of events, in the log's order (no I/O: a builder computes them
        while the previous batch is written)."""
        complaints: list[tuple[Any, ...]] = []
        facts: list[tuple[Any, ...]] = []
        timers: list[tuple[Any, ...]] = []
        events = [e for e in events if e.type not in NOT_ABOUT_A_COMPLAINT]
        for n, event in enumerate(events):
            if event.type == "ComplaintReceived":
                complaints.append(logged_complaint_row(event, self.pepper))
            fact = logged_fact_row(event)
            facts.append(fact)
            for timer, effect in logged_timer_effects(event):
                # led by the fact's index and event id: they find the fact's seq
                timers.append(
                    (n, fact[0], fact[1], timer, effect.value, fact[3], fact[4], fact[12], fact[13])
                )
        return complaints, facts, timers

    async def write(self, conn: asyncpg.Connection, rows: Rows, *, bulk: bool = False) -> None:
        """Write rows computed by ``rows``, in the caller's transaction. ``bulk``: into a
        generation a builder is loading (``begin_build`` … ``finish_build``)."""
        if bulk:
            await store.copy_rows(conn, *rows)
        else:
            await store.write_rows(conn, *rows)

    async def apply(
        self, conn: asyncpg.Connection, envelope: Envelope | LoggedEvent, data: Any
    ) -> None:
        """Project one event of the log (inside the consumer's transaction)."""
        await self.write(conn, self.rows([LoggedEvent.read(envelope, data)]))

    async def apply_batch(
        self,
        conn: asyncpg.Connection,
        events: Sequence[tuple[Envelope | LoggedEvent, Any]],
    ) -> None:
        """Project a batch of events with one statement: the same rows as ``apply`` for each
        event in turn."""
        await self.write(
            conn, self.rows([LoggedEvent.read(envelope, data) for envelope, data in events])
        )

    # -- a builder's bulk load ---------------------------------------------------------

    async def begin_build(self, conn: asyncpg.Connection) -> None:
        """Before a builder loads a new generation (its ``search_path``): drop the
        constraints and the indexes; the load appends rows with COPY (``write(bulk=True)``)."""
        await conn.execute(store.BULK_DROPPED)

    async def settle(self, conn: asyncpg.Connection) -> bool:
        """In the live generation, after the swap of one loaded in bulk (the builder calls it
        until it says ``False``): fold the next complaints the load left out of
        ``complaint_current``. Until none is left, the reads "now" fold as of now."""
        return await store.fold_pending(conn, SETTLE_CHUNK)

    async def finish_build(self, conn: asyncpg.Connection, consumer: str) -> None:
        """After the bulk load, before the swap (one transaction): remove what duplicates
        wrote and make the constraints (``store.finish_bulk``), the indexes again
        (``schema.sql`` creates what is missing), and record every event applied in
        ``processed_events`` (what the live consumer and ``complaints deadletters list``
        read), set-wise: its key is made after the rows are in, as the others'."""
        await store.finish_bulk(conn)
        await conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        await conn.execute("DELETE FROM processed_events WHERE consumer = $1", consumer)
        await conn.execute("ALTER TABLE processed_events DROP CONSTRAINT processed_events_pkey")
        await conn.execute(
            "INSERT INTO processed_events (consumer, event_id) SELECT $1, event_id FROM events",
            consumer,
        )
        await conn.execute("ALTER TABLE processed_events ADD PRIMARY KEY (consumer, event_id)")

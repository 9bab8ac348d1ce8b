"""Writing the projection's rows: event by event, or loaded in bulk by a builder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

# ------------------------------------------------------------------------------------------
# writing (the projection)
# ------------------------------------------------------------------------------------------

WRITE_ROWS = """
WITH c AS (
    INSERT INTO complaints
        (complaint_id, channel, submission_id, office, unit, complainant_ref, personal,
         subject, occurred_at, received_at, received_day, received_event_id, unit_key,
         building, topic)
    SELECT complaint_id, channel, submission_id, office, unit, complainant_ref, personal,
           subject, occurred_at, received_at, received_day, received_event_id, unit_key,
           building, topic
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::jsonb[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::date[],
                $12::uuid[], $13::text[], $14::text[], $15::text[])
        WITH ORDINALITY AS r(complaint_id, channel, submission_id, office, unit,
                             complainant_ref, personal, subject, occurred_at, received_at,
                             received_day, received_event_id, unit_key, building, topic, n)
    ORDER BY n  -- of two receipts of one complaint, the first in the log counts
    ON CONFLICT (complaint_id) DO NOTHING
    RETURNING received_event_id, received_day, office, channel
), counted AS (
    INSERT INTO daily_intake AS d (day, office, channel, received)
    SELECT received_day, office, channel, count(*) FROM c GROUP BY 1, 2, 3
    ON CONFLICT (day, office, channel) DO UPDATE SET received = d.received + EXCLUDED.received
), e AS (
    INSERT INTO events
        (event_id, complaint_id, type, occurred_at, recorded_at, status, validity, category,
         final, satisfied, major_rule, timer, deadline, hard, office, priority, outcome,
         detail)
    SELECT event_id, complaint_id, type, occurred_at, recorded_at, status, validity,
           category, final, satisfied, major_rule, timer, deadline, hard, office, priority,
           outcome, detail
    FROM unnest($16::uuid[], $17::uuid[], $18::text[], $19::timestamptz[],
                $20::timestamptz[], $21::text[], $22::text[], $23::text[], $24::bool[],
                $25::bool[], $26::text[], $27::text[], $28::timestamptz[], $29::bool[],
                $30::text[], $31::text[], $32::text[], $33::jsonb[])
        WITH ORDINALITY AS f(event_id, complaint_id, type, occurred_at, recorded_at, status,
                             validity, category, final, satisfied, major_rule, timer,
                             deadline, hard, office, priority, outcome, detail, n)
    -- A receipt adds a fact only when it recorded the complaint (not a second receipt).
    WHERE f.type <> 'ComplaintReceived'
       OR f.event_id IN (SELECT received_event_id FROM c)
    ORDER BY n  -- seq follows the log's order
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id, seq
)
INSERT INTO timer_events
    (complaint_id, timer, seq, effect, occurred_at, recorded_at, deadline, hard)
SELECT t.complaint_id, t.timer, e.seq, t.effect, t.occurred_at, t.recorded_at, t.deadline,
       t.hard
FROM unnest($34::int[], $35::uuid[], $36::uuid[], $37::text[], $38::text[],
            $39::timestamptz[], $40::timestamptz[], $41::timestamptz[], $42::bool[])
    AS t(n, event_id, complaint_id, timer, effect, occurred_at, recorded_at, deadline, hard)
JOIN e USING (event_id)
ON CONFLICT DO NOTHING
"""
"""Every row of a batch of events in one statement (one round trip, set-wise): received
complaints, the intake counters of the ones this batch recorded, the facts (new event ids
only, in the log's order) and what each new fact did to the SLA timers."""

_COMPLAINT_COLUMNS = 15
_FACT_COLUMNS = 18
_TIMER_COLUMNS = 9


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[Sequence[Any]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


async def write_rows(
    conn: asyncpg.Connection,
    complaints: Sequence[tuple[Any, ...]],
    facts: Sequence[tuple[Any, ...]],
    timers: Sequence[tuple[Any, ...]],
) -> None:
    """Write a batch's rows (``WRITE_ROWS``); each row in its table's column order, a timer
    row led by its fact's index in ``facts`` and its event's id instead of its ``seq``.
    Re-writing rows already there changes nothing: the complaint and the event ids are
    unique."""
    if not facts and not complaints:
        return
    # Both statements are planned generically in a consumer's transaction (the projection's
    # ``plans_generic``): their plans are the same for any rows and ids.
    await conn.execute(
        WRITE_ROWS,
        *_columns(complaints, _COMPLAINT_COLUMNS),
        *_columns(facts, _FACT_COLUMNS),
        *_columns(timers, _TIMER_COLUMNS),
    )
    about = {fact[1] for fact in facts} | {complaint[0] for complaint in complaints}
    await conn.execute(REFRESH_CURRENT, list(about))


CURRENT_COLUMNS = (
    "complaint_id, office, received_office, channel, unit, building, subject, personal, "
    "occurred_at, received_at, events, status, validity, category, priority, rejudged, major, "
    "major_rule, major_at, acknowledged_at, judged_at, assigned_at, implemented_at, "
    "replied_at, answered_at, revisited_at, ended_at, revisit_satisfied, "
    "first_response_breached, reply_breached, reply_hard_breached, last_event_at, "
    "resolved_on_the_spot, suspended, close_outcome, close_summary, merged_into, overdue"
)
"""The columns of ``complaint_current``: ``reporting.complaint_states``' and ``overdue``."""

_FOLDED = """
SELECT s.*, coalesce(a.overdue, false)
FROM reporting.complaint_states('infinity') s
LEFT JOIN LATERAL (
    SELECT bool_or(t.overdue) AS overdue
    FROM reporting.timer_alerts('infinity') t WHERE t.complaint_id = s.complaint_id
) a ON true"""
"""Each complaint folded from every event applied (the functions read the generation the
transaction's ``search_path`` names: the one being written)."""

REFRESH_CURRENT = f"""
INSERT INTO complaint_current ({CURRENT_COLUMNS})
{_FOLDED}
WHERE s.complaint_id = ANY($1::uuid[])
ORDER BY s.occurred_at, s.complaint_id  -- as FOLD_PENDING: neither waits for the other in a cycle
ON CONFLICT (complaint_id) DO UPDATE SET ({CURRENT_COLUMNS}) = ROW(EXCLUDED.*)
"""
"""Fold again the complaints ``$1`` (the ones a batch of events is about) into
``complaint_current``, in the order ``FOLD_PENDING`` inserts them: a batch and a builder
folding in after a bulk load lock the complaints both write in one order, so they cannot
deadlock."""

FOLD_PENDING = f"""
WITH chunk AS (  -- the next complaints in the order they occurred (complaints_occurred)
    SELECT c.occurred_at, c.complaint_id FROM complaints c
    WHERE (c.occurred_at, c.complaint_id) > ($2, $3)
    ORDER BY c.occurred_at, c.complaint_id
    LIMIT $1
), kept AS (
    INSERT INTO complaint_current ({CURRENT_COLUMNS})
    {_FOLDED}
    WHERE s.complaint_id IN (SELECT complaint_id FROM chunk)
    ORDER BY s.occurred_at, s.complaint_id
    -- a batch applied since folded it anew: its row is the newer one
    ON CONFLICT (complaint_id) DO NOTHING
)
SELECT occurred_at, complaint_id FROM chunk ORDER BY occurred_at DESC, complaint_id DESC LIMIT 1
"""
"""Fold the ``$1`` complaints that occurred after (``$2``, ``$3``) (occurred_at, id) that a bulk
load left out of ``complaint_current``; the last one's (``NULL``: none was left). In the
order they occurred, so that a month's complaints lie together in the table: a report reads
a period's rows from a tenth of the pages it read when they were filled in the order of
their random ids."""


# -- a builder's bulk load ---------------------------------------------------------------
#
# A new generation is loaded with COPY and no unique index to check (a builder loads it alone),
# duplicates and all; ``finish_bulk`` then removes every row a duplicate wrote, set-wise, and
# makes the constraints. What is left is what ``WRITE_ROWS`` would have written
# event by event: the first copy of each event id, the first receipt of each complaint (a
# later one adds no fact), the timer rows of those facts, the intake counted once.

BULK_DROPPED = """
INSERT INTO current_pending DEFAULT VALUES ON CONFLICT DO NOTHING;
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_pkey;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;
ALTER TABLE timer_events DROP CONSTRAINT IF EXISTS timer_events_pkey;
DROP INDEX IF EXISTS complaints_occurred, complaints_office_occurred, events_complaint,
    events_quoted, events_moved_to, timer_events_alerts;
"""
"""What a bulk load goes without: the constraints (made again by ``finish_bulk``), the
secondary indexes (by ``schema.sql``, run again after it), and ``complaint_current`` (folded
after the swap, ``fold_pending``)."""

FIRST_COPIES = """
WITH again AS (
    SELECT seq FROM (
        SELECT seq, row_number() OVER (PARTITION BY event_id ORDER BY seq) AS copy
        FROM events WHERE event_id IN (
            SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1)
    ) d WHERE copy > 1
), gone AS (
    DELETE FROM events WHERE seq IN (SELECT seq FROM again) RETURNING seq
)
DELETE FROM timer_events WHERE seq IN (SELECT seq FROM gone)
"""
"""Keep the first copy of each event id (and the timer rows of its fact only)."""

FIRST_RECEIPTS = """
WITH ranked AS (
    SELECT c.ctid AS row_id,
           -- copies of one receipt share its fact: then the row COPY wrote first
           row_number() OVER (PARTITION BY c.complaint_id ORDER BY e.seq, c.ctid) AS receipt
    FROM complaints c JOIN events e ON e.event_id = c.received_event_id
    WHERE c.complaint_id IN (
        SELECT complaint_id FROM complaints GROUP BY complaint_id HAVING count(*) > 1)
)
DELETE FROM complaints WHERE ctid IN (SELECT row_id FROM ranked WHERE receipt > 1);
WITH gone AS (
    DELETE FROM events e
    WHERE e.type = 'ComplaintReceived'
      AND NOT EXISTS (SELECT 1 FROM complaints c WHERE c.received_event_id = e.event_id)
    RETURNING seq
)
DELETE FROM timer_events WHERE seq IN (SELECT seq FROM gone)
"""
"""Keep the first receipt of each complaint in the log (its fact has the lowest seq; the event
ids are unique by now); a later receipt adds no fact and starts no timer."""

UNIQUE_EVENTS = "ALTER TABLE events ADD CONSTRAINT events_event_id_key UNIQUE (event_id)"
UNIQUE_COMPLAINTS = (
    "ALTER TABLE complaints ADD CONSTRAINT complaints_pkey PRIMARY KEY (complaint_id)"
)
UNIQUE_TIMERS = (
    "ALTER TABLE timer_events ADD CONSTRAINT timer_events_pkey "
    "PRIMARY KEY (complaint_id, timer, seq)"
)

COUNT_INTAKE = """
DELETE FROM daily_intake;
INSERT INTO daily_intake (day, office, channel, received)
SELECT received_day, office, channel, count(*) FROM complaints GROUP BY 1, 2, 3
"""
"""The intake counters, from the complaints recorded."""


async def finish_bulk(conn: asyncpg.Connection) -> None:
    """After a bulk load (``copy_rows``), in one transaction: remove what duplicates wrote and
    make the constraints. Building a unique index finds duplicates for free: only when it
    fails are they looked for (``FIRST_COPIES``, ``FIRST_RECEIPTS``), set-wise."""
    if not await _made(conn, UNIQUE_EVENTS):
        await conn.execute(FIRST_COPIES)
        await conn.execute(UNIQUE_EVENTS)
    if not await _made(conn, UNIQUE_COMPLAINTS):
        await conn.execute(FIRST_RECEIPTS)
        await conn.execute(UNIQUE_COMPLAINTS)
    await conn.execute(UNIQUE_TIMERS)
    await conn.execute(COUNT_INTAKE)


async def fold_pending(conn: asyncpg.Connection, chunk: int) -> bool:
    """Fold the next ``chunk`` complaints a bulk load left out of ``complaint_current``
    (``FOLD_PENDING``), in the generation the transaction writes; whether any is left."""
    pending = await conn.fetchrow("SELECT folded_at, folded_to FROM current_pending")
    if pending is None:
        return False
    after = (pending["folded_at"], pending["folded_to"])
    if after[0] is None:  # none yet: from the first
        after = (datetime(1, 1, 1, tzinfo=UTC), UUID(int=0))
    last = await conn.fetchrow(FOLD_PENDING, chunk, *after)
    if last is None:
        await conn.execute("DELETE FROM current_pending")
        return False
    await conn.execute(
        "UPDATE current_pending SET folded_at = $1, folded_to = $2",
        last["occurred_at"],
        last["complaint_id"],
    )
    return True


async def _made(conn: asyncpg.Connection, constraint: str) -> bool:
    """Add a unique constraint in a savepoint; ``False`` if duplicates keep it from being."""
    try:
        async with conn.transaction():
            await conn.execute(constraint)
        return True
    except asyncpg.UniqueViolationError:
        return False


EVENT_COLUMNS = [
    "seq",
    "event_id",
    "complaint_id",
    "type",
    "occurred_at",
    "recorded_at",
    "status",
    "validity",
    "category",
    "final",
    "satisfied",
    "major_rule",
    "timer",
    "deadline",
    "hard",
    "office",
    "priority",
    "outcome",
    "detail",
]
"""The columns of an event fact row, in the order the projection's rows hold them."""
TIMER_EVENT_COLUMNS = [
    "complaint_id",
    "timer",
    "seq",
    "effect",
    "occurred_at",
    "recorded_at",
    "deadline",
    "hard",
]
"""The columns of a timer effect row, in the order the projection's rows hold them."""


async def copy_rows(
    conn: asyncpg.Connection,
    complaints: Sequence[tuple[Any, ...]],
    facts: Sequence[tuple[Any, ...]],
    timers: Sequence[tuple[Any, ...]],
) -> None:
    """Append a batch's rows (as for ``write_rows``) to a generation being bulk-loaded: COPY,
    duplicates included (``finish_bulk`` removes them). The facts take ``seq`` values of their
    own, in their order: lanes loading other partitions at once take theirs from the same
    sequence, so the values are asked for one by one (a range reserved with ``setval`` could
    overlap another lane's), and each lane's, like each partition's, grow with the log."""
    if not facts and not complaints:
        return
    seqs: list[int] = sorted(
        await conn.fetchval(
            "SELECT coalesce(array_agg(nextval(s)), '{}') "
            "FROM CAST(pg_get_serial_sequence('events', 'seq') AS regclass) AS s, "
            "generate_series(1, $1)",
            len(facts),
        )
    )
    if complaints:
        await conn.copy_records_to_table("complaints", records=complaints)
    await conn.copy_records_to_table(
        "events",
        records=[(seq, *fact) for seq, fact in zip(seqs, facts, strict=True)],
        columns=EVENT_COLUMNS,
    )
    if timers:
        await conn.copy_records_to_table(
            "timer_events",
            records=[(t[2], t[3], seqs[t[0]], t[4], t[5], t[6], t[7], t[8]) for t in timers],
            columns=TIMER_EVENT_COLUMNS,
        )

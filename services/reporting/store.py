"""All of reporting's SQL: writing the projection's rows and reading them as of an instant.

Parameters always. The "as of" folding lives in two SQL functions of ``schema.sql``
(``reporting.complaint_states(T)`` and ``reporting.timer_alerts(T)``); the queries here select
from them for a period, an office or one complaint.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
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
    await conn.execute(
        WRITE_ROWS,
        *_columns(complaints, _COMPLAINT_COLUMNS),
        *_columns(facts, _FACT_COLUMNS),
        *_columns(timers, _TIMER_COLUMNS),
    )


# -- a builder's bulk load ---------------------------------------------------------------
#
# A new generation is loaded with COPY and no unique index to check (a builder loads it alone),
# duplicates and all; ``finish_bulk`` then removes every row a duplicate wrote, set-wise, and
# makes the constraints. What is left is what ``WRITE_ROWS`` would have written
# event by event: the first copy of each event id, the first receipt of each complaint (a
# later one adds no fact), the timer rows of those facts, the intake counted once.

BULK_DROPPED = """
ALTER TABLE complaints DROP CONSTRAINT IF EXISTS complaints_pkey;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_event_id_key;
ALTER TABLE timer_events DROP CONSTRAINT IF EXISTS timer_events_pkey;
DROP INDEX IF EXISTS complaints_occurred, complaints_office_occurred, events_complaint,
    events_quoted, events_moved_to, timer_events_alerts;
"""
"""What a bulk load goes without: the constraints (made again by ``finish_bulk``) and the
secondary indexes (by ``schema.sql``, run again after it)."""

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


async def _made(conn: asyncpg.Connection, constraint: str) -> bool:
    """Add a unique constraint in a savepoint; ``False`` if duplicates keep it from being."""
    try:
        async with conn.transaction():
            await conn.execute(constraint)
        return True
    except asyncpg.UniqueViolationError:
        return False


_EVENT_COLUMNS = [
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
_TIMER_EVENT_COLUMNS = [
    "complaint_id",
    "timer",
    "seq",
    "effect",
    "occurred_at",
    "recorded_at",
    "deadline",
    "hard",
]


async def copy_rows(
    conn: asyncpg.Connection,
    complaints: Sequence[tuple[Any, ...]],
    facts: Sequence[tuple[Any, ...]],
    timers: Sequence[tuple[Any, ...]],
) -> None:
    """Append a batch's rows (as for ``write_rows``) to a generation being bulk-loaded: COPY,
    duplicates included (``finish_bulk`` removes them). The facts take the next ``seq``
    values in their order (the builder is the generation's only writer)."""
    if not facts and not complaints:
        return
    last: int = await conn.fetchval(
        "SELECT setval(s, nextval(s) + $1 - 1) "
        "FROM CAST(pg_get_serial_sequence('events', 'seq') AS regclass) AS s",
        len(facts),
    )
    first = last - len(facts) + 1
    if complaints:
        await conn.copy_records_to_table("complaints", records=complaints)
    await conn.copy_records_to_table(
        "events",
        records=[(first + i, *fact) for i, fact in enumerate(facts)],
        columns=_EVENT_COLUMNS,
    )
    if timers:
        await conn.copy_records_to_table(
            "timer_events",
            records=[(t[2], t[3], first + t[0], t[4], t[5], t[6], t[7], t[8]) for t in timers],
            columns=_TIMER_EVENT_COLUMNS,
        )


# ------------------------------------------------------------------------------------------
# one complaint
# ------------------------------------------------------------------------------------------

STATE_FIELDS = (
    "events",
    "status",
    "validity",
    "category",
    "major",
    "major_rule",
    "major_at",
    "acknowledged_at",
    "judged_at",
    "assigned_at",
    "implemented_at",
    "replied_at",
    "answered_at",
    "revisited_at",
    "ended_at",
    "revisit_satisfied",
    "first_response_breached",
    "reply_breached",
    "reply_hard_breached",
    "last_event_at",
    "received_office",
    "priority",
    "rejudged",
    "resolved_on_the_spot",
    "suspended",
    "close_outcome",
    "merged_into",
)
"""The columns of ``reporting.complaint_states`` that describe a complaint's state."""

_STATE_COLUMNS = ", ".join(f"s.{name}" for name in STATE_FIELDS)  # constants, not input


async def complaint(
    conn: asyncpg.Connection, complaint_id: UUID, as_of: datetime
) -> dict[str, Any] | None:
    """One complaint as recorded by ``as_of``: register facts (masked) and its state then.

    ``None`` if the platform had not recorded it by then. The state's columns come under
    ``"state"``; the timers overdue or warned about then under ``"alerts"``.
    """
    row = await conn.fetchrow(
        f"""SELECT c.complaint_id, c.channel, c.submission_id, s.office, c.unit, c.building,
                   c.personal, c.subject,
                   c.occurred_at, c.received_at, {_STATE_COLUMNS}
            FROM complaints c
            JOIN reporting.complaint_states($2) s USING (complaint_id)
            WHERE c.complaint_id = $1""",
        complaint_id,
        as_of,
    )
    if row is None:
        return None
    alerts = await conn.fetch(
        """SELECT timer, overdue, hard, deadline, alerted_at
           FROM reporting.timer_alerts($2) WHERE complaint_id = $1 ORDER BY timer""",
        complaint_id,
        as_of,
    )
    out = dict(row)
    return {
        **{k: v for k, v in out.items() if k not in STATE_FIELDS},
        "state": {k: out[k] for k in STATE_FIELDS},
        "alerts": [dict(a) for a in alerts],
    }


async def listed_complaints(
    conn: asyncpg.Connection, complaint_ids: Sequence[UUID], as_of: datetime
) -> list[asyncpg.Record]:
    """The complaints ``complaint_ids`` as a list shows them as of T, in the order given:
    office (as of T), when it occurred and was received, its judgment and status, and the
    complainant's personal fields as the projection keeps them (sealed: ``personal``; the
    caller opens them, ``reports.listed_complaints``)."""
    rows = await conn.fetch(
        """SELECT c.complaint_id, s.office, c.occurred_at, c.received_at, s.validity,
                  s.category, s.status, c.personal, c.subject
           FROM complaints c
           JOIN reporting.complaint_states($2) s USING (complaint_id)
           WHERE c.complaint_id = ANY($1::uuid[])""",
        list(complaint_ids),
        as_of,
    )
    by_id = {row["complaint_id"]: row for row in rows}
    return [by_id[i] for i in complaint_ids if i in by_id]


async def stats(conn: asyncpg.Connection, office: str | None = None) -> dict[str, Any]:
    """Complaints received, in total and per office, channel and day (from one table); of one
    office only when ``office`` names it."""
    rows = await conn.fetch(
        "SELECT day, office, channel, received FROM daily_intake"
        " WHERE $1::text IS NULL OR office = $1",
        office,
    )
    by_office: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    by_day: dict[str, int] = {}
    for r in rows:
        by_office[r["office"]] = by_office.get(r["office"], 0) + r["received"]
        by_channel[r["channel"]] = by_channel.get(r["channel"], 0) + r["received"]
        day = r["day"].isoformat()
        by_day[day] = by_day.get(day, 0) + r["received"]
    return {
        "total": sum(by_office.values()),
        "by_office": dict(sorted(by_office.items())),
        "by_channel": dict(sorted(by_channel.items())),
        "by_day": dict(sorted(by_day.items())),
    }


# ------------------------------------------------------------------------------------------
# the monthly report
# ------------------------------------------------------------------------------------------


async def report_rows(
    conn: asyncpg.Connection,
    *,
    occurred_from: datetime,
    occurred_before: datetime,
    office: str | None,
    as_of: datetime,
) -> list[asyncpg.Record]:
    """Every complaint that occurred in [from, before) (counting for ``office`` as of T, if
    given), as of T.

    Each row: office (after any transfer), channel, the latest judgment and priority, the step
    facts the service levels need, the latest revisit's answer, whether a timer is overdue as
    of T, and the facts of the written sections (major, on the spot, suspended, how it closed).
    """
    return list(
        await conn.fetch(
            """SELECT s.complaint_id, s.office, s.channel, s.validity, s.category, s.occurred_at,
                      s.subject, s.personal, s.acknowledged_at IS NOT NULL AS acknowledged,
                      s.replied_at IS NOT NULL AS replied, s.first_response_breached,
                      s.reply_breached, s.reply_hard_breached, s.revisit_satisfied,
                      coalesce(a.overdue, false) AS overdue, s.status, s.priority, s.major,
                      s.resolved_on_the_spot, s.suspended, s.rejudged, s.close_outcome,
                      s.close_summary, s.merged_into
               FROM reporting.complaint_states($4) s
               LEFT JOIN LATERAL (
                   SELECT bool_or(t.overdue) AS overdue
                   FROM reporting.timer_alerts($4) t WHERE t.complaint_id = s.complaint_id
               ) a ON true
               WHERE s.occurred_at >= $1 AND s.occurred_at < $2
                 AND ($3::text IS NULL
                      OR (s.office = $3 AND s.complaint_id IN (
                          -- received for the office, or moved to it: both found by an index
                          SELECT c.complaint_id FROM complaints c
                          WHERE c.office = $3 AND c.occurred_at >= $1 AND c.occurred_at < $2
                          UNION
                          SELECT t.complaint_id FROM events t
                          WHERE t.type = 'ComplaintOfficeTransferred' AND t.office = $3)))
               ORDER BY s.occurred_at, s.complaint_id""",
            occurred_from,
            occurred_before,
            office,
            as_of,
        )
    )


async def quoted_events(
    conn: asyncpg.Connection,
    *,
    occurred_from: datetime,
    occurred_before: datetime,
    office: str | None,
    as_of: datetime,
) -> list[asyncpg.Record]:
    """The accountability records (``PlanImplemented``) and preventive measures that occurred
    in [from, before) and were recorded by T, with the office their complaint counts for then
    and its subject; ``detail`` is the event's quoted fields (JSON text)."""
    return list(
        await conn.fetch(
            """SELECT q.complaint_id, q.type, q.occurred_at, q.detail::text AS detail,
                      s.office, s.subject
               FROM reporting.quoted_events($4, $1, $2) q
               JOIN reporting.complaint_states($4) s USING (complaint_id)
               WHERE q.type IN ('PlanImplemented', 'PreventiveMeasureRecorded')
                 AND ($3::text IS NULL OR s.office = $3)
               ORDER BY q.occurred_at, q.complaint_id""",
            occurred_from,
            occurred_before,
            office,
            as_of,
        )
    )


async def offices_seen(conn: asyncpg.Connection, as_of: datetime) -> list[str]:
    """Every office a complaint recorded by ``as_of`` named, by name.

    A loose index scan (one probe of the (office, occurred_at) index per office) instead of
    a DISTINCT over every complaint: 25 probes rather than a million rows.
    """
    rows = await conn.fetch(
        """WITH RECURSIVE offices(office) AS (
               SELECT min(office) FROM complaints
               UNION ALL
               SELECT (SELECT min(c.office) FROM complaints c WHERE c.office > o.office)
               FROM offices o WHERE o.office IS NOT NULL
           )
           SELECT office FROM offices o
           WHERE office IS NOT NULL
             AND EXISTS (SELECT 1 FROM complaints c
                         WHERE c.office = o.office AND c.received_at <= $1)
           ORDER BY office""",
        as_of,
    )
    return [r["office"] for r in rows]


# ------------------------------------------------------------------------------------------
# the dashboard
# ------------------------------------------------------------------------------------------


async def open_complaints(
    conn: asyncpg.Connection, *, office: str | None, as_of: datetime
) -> list[asyncpg.Record]:
    """Every complaint open as of T (received, not closed, withdrawn or merged)."""
    return list(
        await conn.fetch(
            """SELECT s.complaint_id, s.office, s.unit, s.subject, s.status, s.major,
                      s.major_rule, s.major_at, s.occurred_at, s.priority
               FROM reporting.complaint_states($1) s
               WHERE s.status NOT IN ('closed', 'withdrawn', 'merged')
                 AND ($2::text IS NULL OR s.office = $2)
               ORDER BY s.occurred_at, s.complaint_id""",
            as_of,
            office,
        )
    )


async def timer_alerts(
    conn: asyncpg.Connection, *, office: str | None, as_of: datetime
) -> list[asyncpg.Record]:
    """The timers overdue or about to breach as of T, with their complaint's office (as of T)
    and unit."""
    return list(
        await conn.fetch(
            """SELECT t.complaint_id, m.office, c.unit, c.subject, t.timer, t.overdue, t.hard,
                      t.deadline, t.alerted_at
               FROM reporting.timer_alerts($1) t
               JOIN complaints c USING (complaint_id)
               CROSS JOIN LATERAL (  -- the office it counts for as of T (after a transfer)
                   SELECT coalesce((
                       SELECT e.office FROM events e
                       WHERE e.complaint_id = t.complaint_id
                         AND e.type = 'ComplaintOfficeTransferred' AND e.recorded_at <= $1
                       ORDER BY e.seq DESC LIMIT 1), c.office) AS office
               ) m
               WHERE ($2::text IS NULL OR m.office = $2)
               ORDER BY t.deadline, t.complaint_id, t.timer""",
            as_of,
            office,
        )
    )


_INTAKE = """occurred_at >= $1 AND occurred_at < $2 AND received_at <= $3
              AND ($4::text IS NULL OR office = $4)"""
"""The complaints of a day's intake: the count per channel and its drill-down share it."""


async def intake_complaints(
    conn: asyncpg.Connection,
    *,
    occurred_from: datetime,
    occurred_before: datetime,
    office: str | None,
    as_of: datetime,
) -> list[asyncpg.Record]:
    """The complaints ``intake_by_channel`` counts, with their channel, oldest first."""
    return list(
        await conn.fetch(
            f"""SELECT complaint_id, channel FROM complaints WHERE {_INTAKE}
                ORDER BY occurred_at, complaint_id""",
            occurred_from,
            occurred_before,
            as_of,
            office,
        )
    )


async def intake_by_channel(
    conn: asyncpg.Connection,
    *,
    occurred_from: datetime,
    occurred_before: datetime,
    office: str | None,
    as_of: datetime,
) -> dict[str, int]:
    """Complaints per channel that occurred in [from, before) and were recorded by T."""
    rows = await conn.fetch(
        f"SELECT channel, count(*) AS n FROM complaints WHERE {_INTAKE} GROUP BY channel",
        occurred_from,
        occurred_before,
        as_of,
        office,
    )
    return {r["channel"]: r["n"] for r in rows}


async def hot_spots(
    conn: asyncpg.Connection,
    *,
    occurred_after: datetime,
    office: str | None,
    as_of: datetime,
    min_count: int,
) -> list[asyncpg.Record]:
    """Units, buildings and topics of one office with ``min_count`` or more complaints that
    occurred after ``occurred_after`` and were recorded by T (``kind`` says which)."""
    return list(
        await conn.fetch(
            """SELECT CASE WHEN GROUPING(c.unit_key) = 0 THEN 'unit'
                           WHEN GROUPING(c.building) = 0 THEN 'building'
                           ELSE 'topic' END AS kind,
                      c.office,
                      coalesce(c.unit_key, c.building, c.topic) AS key,
                      count(*) AS n,
                      max(c.occurred_at) AS latest_at,
                      array_agg(c.complaint_id ORDER BY c.occurred_at, c.complaint_id) AS ids
               FROM complaints c
               WHERE c.received_at <= $1 AND c.occurred_at > $2 AND c.occurred_at <= $1
                 AND ($3::text IS NULL OR c.office = $3)
               GROUP BY GROUPING SETS ((c.office, c.unit_key), (c.office, c.building),
                                       (c.office, c.topic))
               HAVING count(*) >= $4
                  AND coalesce(c.unit_key, c.building, c.topic) IS NOT NULL
               ORDER BY n DESC, latest_at DESC, key, office, kind""",
            as_of,
            occurred_after,
            office,
            min_count,
        )
    )


async def export_snapshot(conn: asyncpg.Connection) -> str:
    """The name of this transaction's snapshot, for other connections to read in it."""
    return str(await conn.fetchval("SELECT pg_export_snapshot()"))

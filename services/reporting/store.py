"""All of reporting's SQL: writing the projection's rows and reading them as of an instant.

Parameters always. The "as of" folding lives in two SQL functions of ``schema.sql``
(``reporting.complaint_states(T)`` and ``reporting.timer_alerts(T)``); the queries here select
from them for a period, an office or one complaint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope
from contracts.intake import mask_name, mask_phone
from services.reporting.domain import EventFact, Place

# ------------------------------------------------------------------------------------------
# writing (the projection)
# ------------------------------------------------------------------------------------------


def complaint_row(
    envelope: Envelope, data: ComplaintReceived, place: Place, day: date
) -> tuple[Any, ...]:
    """A received complaint's row (name and phone masked), in the table's column order."""
    return (
        envelope.complaint_id,
        data.channel.value,
        data.submission_id,
        data.office,
        data.unit,
        mask_name(data.complainant.name),
        mask_phone(data.complainant.phone),
        data.subject,
        data.description,
        data.demand,
        envelope.occurred_at,
        envelope.recorded_at,
        day,
        envelope.event_id,
        place.unit_key,
        place.building,
        place.topic,
    )


async def add_complaint(
    conn: asyncpg.Connection,
    envelope: Envelope,
    data: ComplaintReceived,
    place: Place,
    day: date,
) -> bool:
    """Insert a received complaint (name and phone masked); ``False`` if it was there already."""
    return bool(await add_complaints(conn, [complaint_row(envelope, data, place, day)]))


async def count_intake(conn: asyncpg.Connection, day: date, office: str, channel: str) -> None:
    """Add one complaint to the intake counter of (day, office, channel)."""
    await count_intakes(conn, {(day, office, channel): 1})


async def add_event(conn: asyncpg.Connection, fact: EventFact) -> int | None:
    """Append an event's fact row; its ``seq``, or ``None`` if the event was there already."""
    seq: int | None = await conn.fetchval(
        """INSERT INTO events
             (event_id, complaint_id, type, occurred_at, recorded_at, status, validity,
              category, final, satisfied, major_rule, timer, deadline, hard)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)
           ON CONFLICT (event_id) DO NOTHING
           RETURNING seq""",
        fact.event_id,
        fact.complaint_id,
        fact.type,
        fact.occurred_at,
        fact.recorded_at,
        fact.status,
        fact.validity,
        fact.category,
        fact.final,
        fact.satisfied,
        fact.major_rule,
        fact.timer,
        fact.deadline,
        fact.hard,
    )
    return seq


def timer_effect_row(fact: EventFact, seq: int, timer: str, effect: str) -> tuple[Any, ...]:
    """What event ``seq`` did to ``timer``, in ``timer_events``' column order."""
    return (
        fact.complaint_id,
        timer,
        seq,
        str(effect),
        fact.occurred_at,
        fact.recorded_at,
        fact.deadline,
        fact.hard,
    )


async def add_timer_effects(
    conn: asyncpg.Connection, fact: EventFact, seq: int, effects: Sequence[tuple[str, str]]
) -> None:
    """Record what the event (row ``seq``) did to each SLA timer."""
    await add_timer_effects_many(
        conn, [timer_effect_row(fact, seq, timer, effect) for timer, effect in effects]
    )


async def add_complaints(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> set[UUID]:
    """Insert received complaints in one statement; the ids that were not there yet.

    Each row: the columns of ``add_complaint`` in order (masked already).
    """
    if not rows:
        return set()
    columns = list(zip(*rows, strict=True))
    inserted = await conn.fetch(
        """INSERT INTO complaints
             (complaint_id, channel, submission_id, office, unit, complainant_name,
              complainant_phone, subject, description, demand, occurred_at, received_at,
              received_day, received_event_id, unit_key, building, topic)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                                $11::timestamptz[], $12::timestamptz[], $13::date[],
                                $14::uuid[], $15::text[], $16::text[], $17::text[])
           ON CONFLICT (complaint_id) DO NOTHING
           RETURNING complaint_id""",
        *columns,
    )
    return {r["complaint_id"] for r in inserted}


async def count_intakes(
    conn: asyncpg.Connection, counts: Mapping[tuple[date, str, str], int]
) -> None:
    """Add to the intake counters of several (day, office, channel) at once."""
    await conn.executemany(
        """INSERT INTO daily_intake (day, office, channel, received)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (day, office, channel)
           DO UPDATE SET received = daily_intake.received + EXCLUDED.received""",
        [(day, office, channel, n) for (day, office, channel), n in counts.items()],
    )


async def add_events(conn: asyncpg.Connection, facts: Sequence[EventFact]) -> dict[UUID, int]:
    """Append fact rows in the given order, in one statement; event id → seq of new ones."""
    if not facts:
        return {}
    rows = [
        (
            f.event_id,
            f.complaint_id,
            f.type,
            f.occurred_at,
            f.recorded_at,
            f.status,
            f.validity,
            f.category,
            f.final,
            f.satisfied,
            f.major_rule,
            f.timer,
            f.deadline,
            f.hard,
        )
        for f in facts
    ]
    inserted = await conn.fetch(
        """INSERT INTO events
             (event_id, complaint_id, type, occurred_at, recorded_at, status, validity,
              category, final, satisfied, major_rule, timer, deadline, hard)
           SELECT event_id, complaint_id, type, occurred_at, recorded_at, status, validity,
                  category, final, satisfied, major_rule, timer, deadline, hard
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[],
                       $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::bool[],
                       $10::bool[], $11::text[], $12::text[], $13::timestamptz[], $14::bool[])
                WITH ORDINALITY AS f(event_id, complaint_id, type, occurred_at, recorded_at,
                                     status, validity, category, final, satisfied,
                                     major_rule, timer, deadline, hard, n)
           ORDER BY n  -- seq follows the log's order
           ON CONFLICT (event_id) DO NOTHING
           RETURNING event_id, seq""",
        *zip(*rows, strict=True),
    )
    return {r["event_id"]: r["seq"] for r in inserted}


async def add_timer_effects_many(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Record what several events did to SLA timers (rows as in ``add_timer_effects``)."""
    if rows:
        await conn.executemany(
            """INSERT INTO timer_events
                 (complaint_id, timer, seq, effect, occurred_at, recorded_at, deadline, hard)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
               ON CONFLICT DO NOTHING""",
            rows,
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
        f"""SELECT c.complaint_id, c.channel, c.submission_id, c.office, c.unit, c.building,
                   c.complainant_name, c.complainant_phone, c.subject, c.description, c.demand,
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


async def stats(conn: asyncpg.Connection) -> dict[str, Any]:
    """Complaints received, in total and per office, channel and day (from one table)."""
    rows = await conn.fetch("SELECT day, office, channel, received FROM daily_intake")
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
    """Every complaint that occurred in [from, before) (of ``office``, if given), as of T.

    Each row: office, channel, the judgement, the step facts the service levels need, the
    latest revisit's answer, and whether a timer is overdue as of T.
    """
    return list(
        await conn.fetch(
            """SELECT s.complaint_id, s.office, s.channel, s.validity, s.category, s.occurred_at,
                      s.subject, s.description, s.acknowledged_at IS NOT NULL AS acknowledged,
                      s.replied_at IS NOT NULL AS replied, s.first_response_breached,
                      s.reply_breached, s.reply_hard_breached, s.revisit_satisfied,
                      coalesce(a.overdue, false) AS overdue
               FROM reporting.complaint_states($4) s
               LEFT JOIN LATERAL (
                   SELECT bool_or(t.overdue) AS overdue
                   FROM reporting.timer_alerts($4) t WHERE t.complaint_id = s.complaint_id
               ) a ON true
               WHERE s.occurred_at >= $1 AND s.occurred_at < $2
                 AND ($3::text IS NULL OR s.office = $3)
               ORDER BY s.occurred_at, s.complaint_id""",
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
                      s.major_rule, s.major_at, s.occurred_at
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
    """The timers overdue or about to breach as of T, with their complaint's office and unit."""
    return list(
        await conn.fetch(
            """SELECT t.complaint_id, c.office, c.unit, c.subject, t.timer, t.overdue, t.hard,
                      t.deadline, t.alerted_at
               FROM reporting.timer_alerts($1) t
               JOIN complaints c USING (complaint_id)
               WHERE ($2::text IS NULL OR c.office = $2)
               ORDER BY t.deadline, t.complaint_id, t.timer""",
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
        """SELECT channel, count(*) AS n FROM complaints
           WHERE occurred_at >= $1 AND occurred_at < $2 AND received_at <= $3
             AND ($4::text IS NULL OR office = $4)
           GROUP BY channel""",
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

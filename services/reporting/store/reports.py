"""The monthly report's and the dashboard's reads, as of an instant."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

import asyncpg

from contracts.enums import Channel
from contracts.timezone import CHINA
from services.reporting.monthly.model import EXCLUDED_STATUSES, HEADLINE_COLUMNS
from services.reporting.store.writing import CURRENT_COLUMNS

# ------------------------------------------------------------------------------------------
# the monthly report
# ------------------------------------------------------------------------------------------


_COUNTED_COLUMNS = (
    "s.office",
    "s.channel",
    "s.validity",
    "s.category",
    "s.acknowledged_at IS NOT NULL AS acknowledged",
    "s.replied_at IS NOT NULL AS replied",
    "s.first_response_breached",
    "s.reply_breached",
    "s.reply_hard_breached",
    "s.revisit_satisfied",
    "s.overdue",
    "s.status",
    "s.priority",
    "s.major",
    "s.resolved_on_the_spot",
    "s.suspended",
    "s.rejudged",
    "s.close_outcome",
)
"""The columns of a report row every count reads (the others name, date or describe it)."""
_COUNTED = ", ".join(_COUNTED_COLUMNS)


def _name(column: str) -> str:
    """The name a column of ``_COUNTED_COLUMNS`` is read by."""
    return column.split(" AS ")[-1].removeprefix("s.")


_COUNTED_NAMES = tuple(_name(column) for column in _COUNTED_COLUMNS)
_REPORT_ROW = f"""s.complaint_id, s.occurred_at, s.subject, s.personal, s.close_summary,
                   s.merged_into, {_COUNTED}"""
"""What ``report_rows`` reads of each complaint."""

_EXCLUDED = "(" + ", ".join(f"'{status}'" for status in EXCLUDED_STATUSES) + ")"
_DIRECT = f"'{Channel.SUPERVISION.value}'"  # monthly's "direct": received on the supervision line


def named(row: str) -> str:
    """Whether the complaint ``row`` (an alias) is one a report names one by one: received
    directly (it writes each up), merged or withdrawn (listed apart), or with no subject
    (their description is their problem's text). ``schema.sql``'s complaint_current_named
    indexes the complaints of which it holds (``named("")``, spelt alike)."""
    column = f"{row}." if row else ""
    return (
        f"({column}channel = {_DIRECT} OR {column}status IN {_EXCLUDED}"
        f" OR coalesce({column}subject, '') = '')"
    )


_FOLDED_AS_OF = """SELECT s.*, coalesce(a.overdue, false) AS overdue
    FROM reporting.complaint_states($4) s
    LEFT JOIN LATERAL (
        SELECT bool_or(t.overdue) AS overdue
        FROM reporting.timer_alerts($4) t WHERE t.complaint_id = s.complaint_id
    ) a ON true"""
"""Every complaint folded as of T = $4, with whether a timer is overdue then."""

_IN_THE_PERIOD_AS_OF = """WHERE s.occurred_at >= $1 AND s.occurred_at < $2
  AND ($3::text IS NULL
       OR (s.office = $3 AND s.complaint_id IN (
           -- received for the office, or moved to it: both found by an index
           SELECT c.complaint_id FROM complaints c
           WHERE c.office = $3 AND c.occurred_at >= $1 AND c.occurred_at < $2
           UNION
           SELECT t.complaint_id FROM events t
           WHERE t.type = 'ComplaintOfficeTransferred' AND t.office = $3)))"""
"""Those that occurred in [$1, $2), counting for office $3 as of T, if given."""

_OF_THE_PERIOD = f"""FROM ({_FOLDED_AS_OF}) s
{_IN_THE_PERIOD_AS_OF}"""
"""The complaints that occurred in [$1, $2) (counting for office $3 as of T, if given), as
of T = $4."""

_KEPT_OF_THE_PERIOD = f"""FROM (
    -- nothing recorded after T: its state then is the one kept (events and timers alike)
    SELECT {CURRENT_COLUMNS} FROM complaint_current s WHERE s.last_event_at <= $4
    UNION ALL
    SELECT f.* FROM ({_FOLDED_AS_OF}) f
    WHERE f.complaint_id IN (
        SELECT k.complaint_id FROM complaint_current k
        WHERE k.occurred_at >= $1 AND k.occurred_at < $2 AND NOT k.last_event_at <= $4)
) s
{_IN_THE_PERIOD_AS_OF}"""
"""``_OF_THE_PERIOD`` while ``complaint_current`` holds every complaint: a complaint with no
event recorded after T is as of T as it is kept; only the others are folded."""

_NOW_OF_THE_PERIOD = """FROM complaint_current s
WHERE s.occurred_at >= $1 AND s.occurred_at < $2 AND ($3::text IS NULL OR s.office = $3)"""
"""The same as every event applied has them (``complaint_current``: no fold per read)."""


async def report_rows(conn: asyncpg.Connection, period: PeriodRead) -> list[asyncpg.Record]:
    """Every complaint that occurred in [from, before) (counting for ``office`` as of T, if
    given), as of T (``reading``: how; ``Reading.NOW`` does not read T).

    Each row: office (after any transfer), channel, the latest judgment and priority, the step
    facts the service levels need, the latest revisit's answer, whether a timer is overdue as
    of T, and the facts of the written sections (major, on the spot, suspended, how it closed).
    """
    return await _of_period(
        conn,
        f"""SELECT {_REPORT_ROW}
            {{source}}
            ORDER BY s.occurred_at, s.complaint_id""",
        period,
    )


async def report_groups(conn: asyncpg.Connection, period: PeriodRead) -> list[asyncpg.Record]:
    """The rows of ``report_rows`` grouped by the columns the headline figures read
    (``monthly.HEADLINE_COLUMNS``; the others NULL): what an earlier period is counted over
    (about 450 groups for 42,000 complaints of a company-wide month; 3,000 when grouped by
    every column a count reads). Each group as ``_grouped`` gives it."""
    return await _grouped_of_period(conn, HEADLINE_COLUMNS, period)


async def report_counted(conn: asyncpg.Connection, period: PeriodRead) -> list[asyncpg.Record]:
    """The rows of ``report_rows`` grouped by every column a count reads; no complaint named.
    What a report's counts are made of (about 3,000 groups for the 42,000 complaints of a
    company-wide month). Each group as ``_grouped`` gives it."""
    return await _grouped_of_period(conn, _COUNTED_NAMES, period)


async def _grouped_of_period(
    conn: asyncpg.Connection, names: Collection[str], period: PeriodRead
) -> list[asyncpg.Record]:
    """The period's complaints grouped by the ``_COUNTED_COLUMNS`` that ``names`` names
    (``_grouped``). ``Reading.NOW``: its whole months from ``current_counts`` (a month's few
    thousand counts instead of its tens of thousands of complaints), only its other days
    from ``complaint_current`` (``_SUMMED``)."""
    if period.reading is not Reading.NOW:
        return await _of_period(conn, _grouped(names), period)
    first, end = whole_months(period.occurred_from, period.occurred_before)
    return list(
        await conn.fetch(
            _grouped(names, summed=True).format(source=_SUMMED),
            period.occurred_from,
            period.occurred_before,
            period.office,
            first,
            end,
            datetime.combine(first, time.min, CHINA),
            datetime.combine(end, time.min, CHINA),
        )
    )


_SUMMED = f"""FROM (
    SELECT k.n, k.month::timestamp AT TIME ZONE '{CHINA.key}' AS occurred_at,
           {", ".join(f"k.{name}" for name in _COUNTED_NAMES)}
    FROM current_counts k
    WHERE k.month >= $4 AND k.month < $5 AND k.n > 0 AND ($3::text IS NULL OR k.office = $3)
    UNION ALL
    SELECT 1, s.occurred_at, {_COUNTED}
    FROM complaint_current s
    WHERE s.occurred_at >= $1 AND s.occurred_at < $2 AND ($3::text IS NULL OR s.office = $3)
      AND NOT (s.occurred_at >= $6 AND s.occurred_at < $7)
) s"""
"""``_NOW_OF_THE_PERIOD`` as counts (``n`` complaints each, its columns by their names): the
whole months [$4, $5) (starting at the instants $6, $7) counted by ``current_counts``, the
period's other days one row per complaint."""


def whole_months(occurred_from: datetime, occurred_before: datetime) -> tuple[date, date]:
    """The first days of the first whole month (China time) in [``occurred_from``,
    ``occurred_before``) and of the month after the last one; the same day twice when the
    period holds no whole month."""
    start = occurred_from.astimezone(CHINA)
    first = start.date()
    if first.day != 1 or start.timetz().replace(tzinfo=None) != time.min:
        first = _next_month(first.replace(day=1))
    end = occurred_before.astimezone(CHINA).date().replace(day=1)
    return (first, end) if first < end else (first, first)


def _next_month(first: date) -> date:
    return (first + timedelta(days=31)).replace(day=1)


def _grouped(names: Collection[str], *, summed: bool = False) -> str:
    """A read of ``{source}`` grouped by the ``_COUNTED_COLUMNS`` that ``names`` names (the
    others NULL): each group's columns, how many complaints it holds (``n``) and the first
    one's ``occurred_at``. ``summed``: ``{source}``'s rows are counts (``_SUMMED``)."""
    kept = [n for n, column in enumerate(_COUNTED_COLUMNS) if _name(column) in names]
    # summed: ``{source}`` has the columns by their names already
    read = [f"s.{name}" for name in _COUNTED_NAMES] if summed else _COUNTED_COLUMNS
    columns = ", ".join(
        column if n in kept else f"NULL AS {_name(column)}" for n, column in enumerate(read)
    )
    return f"""SELECT {"sum(s.n)::bigint" if summed else "count(*)"} AS n,
                      min(s.occurred_at) AS occurred_at, {columns}
               {{source}}
               GROUP BY {", ".join(str(3 + n) for n in kept)}"""


async def report_named(conn: asyncpg.Connection, period: PeriodRead) -> list[asyncpg.Record]:
    """The rows of ``report_rows`` a report names, in one statement: as of T the period
    folded once, "now" each part read by an index of its own. Each row's ``part`` says what
    it is:

    - ``named``: a complaint the report names one by one: received directly (the supervision
      line: it writes each up), merged or withdrawn (listed apart), or with no subject (its
      description is its problem's text); in the order of ``report_rows``;
    - ``latest``: for each judgment, category and subject of the counted valid and assist
      complaints, its latest complaint (by ``occurred_at``, then id: ``monthly.recency``),
      standing for the ``n`` of them.

    A few thousand complaints of a company-wide month's 42,000 (``report_counted`` counts
    them all).
    """
    problem = f"""p.validity IN ('valid', 'assist')
                  AND coalesce(p.status, '') NOT IN {_EXCLUDED}
                  AND coalesce(p.subject, '') <> ''"""
    if period.reading is Reading.NOW:
        # "Now" each part reads the kept rows by an index of its own: the named ones by
        # complaint_current_named, each problem's latest by the instant of it (36 ms for a
        # company-wide month, against 93 ms with the period materialized and sorted).
        materialized = "NOT MATERIALIZED"
        latest = f"""problems AS (  -- equal subjects are equal bytes: no collation's order
                SELECT p.validity, p.category, p.subject COLLATE "C" AS subject,
                       count(*) AS n, max(p.occurred_at) AS occurred_at
                FROM p WHERE {problem}
                GROUP BY 1, 2, 3
            ), latest AS (  -- its complaints at that instant: the largest id
                SELECT problems.n,
                       (array_agg(p.complaint_id ORDER BY p.complaint_id DESC))[1] AS complaint_id
                FROM problems JOIN p
                  ON p.occurred_at = problems.occurred_at AND p.validity = problems.validity
                 AND p.category IS NOT DISTINCT FROM problems.category
                 AND p.subject COLLATE "C" = problems.subject
                WHERE {problem}
                GROUP BY problems.validity, problems.category, problems.subject, problems.n
            )"""
    else:
        # As of T the period is folded once; the planner cannot see how many rows the fold
        # holds (it joined the problems back to it by merging 400,000 pairs): one sort.
        materialized = "MATERIALIZED"
        latest = f"""latest AS (
                SELECT count(*) AS n,
                       (array_agg(p.complaint_id
                                  ORDER BY p.occurred_at DESC, p.complaint_id DESC))[1]
                           AS complaint_id
                FROM p WHERE {problem}
                -- equal subjects are equal bytes: grouped without the collation's slow order
                GROUP BY p.validity, p.category, p.subject COLLATE "C"
            )"""
    return await _of_period(
        conn,
        f"""WITH p AS {materialized} (
                SELECT s.complaint_id, s.occurred_at, s.subject, s.close_summary, s.merged_into,
                       {_COUNTED},
                       CASE WHEN {named("s")} THEN s.personal END AS personal  -- sealed data
                {{source}}
            ), {latest}
            SELECT 'named' AS part, 1::bigint AS n, p.* FROM p WHERE {named("p")}
            UNION ALL
            SELECT 'latest', latest.n, p.complaint_id, p.occurred_at, p.subject, p.close_summary,
                   p.merged_into, {", ".join(f"p.{name}" for name in _COUNTED_NAMES)},
                   c.personal
            FROM latest JOIN p USING (complaint_id) JOIN complaints c USING (complaint_id)
            ORDER BY part, occurred_at, complaint_id""",
        period,
    )


async def report_settings(conn: asyncpg.Connection) -> None:
    """Plan this transaction's report statements for a month's rows in memory (for this
    transaction only):

    - ``work_mem`` 32MB: with the default 4MB, PostgreSQL sorted a company-wide month's 42,446
      complaints on disk to group them (248 ms; hashed in memory, 95 ms);
    - ``random_page_cost`` 1.1 (default 4, which prices a page read from disk): one office's
      1,736 complaints of a month were read by scanning the whole month's 42,446 in the
      order they occurred (14.5 ms) instead of by the office's own index (3.6 ms). A report
      reads pages the buffer cache holds.
    """
    await conn.execute(
        "SELECT set_config('work_mem', '32MB', true), set_config('random_page_cost', '1.1', true)"
    )


class Reading(StrEnum):
    """How a report's reads see the complaints, decided once per report (``reading``)."""

    NOW = "now"  # as every event applied has them: ``complaint_current``
    KEPT = "kept"  # as of T: kept where nothing was recorded after T, the others folded
    FOLDED = "folded"  # as of T, every complaint folded (``complaint_current`` not filled in)


async def reading(conn: asyncpg.Connection, *, now: bool) -> Reading:
    """How this transaction's report reads: ``now`` from ``complaint_current`` while it holds
    every complaint (``kept_current``), else folded as of the report's instant."""
    if not await kept_current(conn):
        return Reading.FOLDED
    return Reading.NOW if now else Reading.KEPT


_SOURCES = {
    Reading.NOW: _NOW_OF_THE_PERIOD,
    Reading.KEPT: _KEPT_OF_THE_PERIOD,
    Reading.FOLDED: _OF_THE_PERIOD,
}


@dataclass(frozen=True)
class PeriodRead:
    """A report's read of a period: the complaints that occurred in [``occurred_from``,
    ``occurred_before``) (counting for ``office``, if given) as of ``as_of``, read as
    ``reading`` says."""

    occurred_from: datetime
    occurred_before: datetime
    office: str | None
    as_of: datetime
    reading: Reading


async def _of_period(
    conn: asyncpg.Connection, query: str, period: PeriodRead
) -> list[asyncpg.Record]:
    """``query`` (a read ``{source}``: ``_SOURCES``' of the period's reading) for the period,
    the office and the instant (not read ``NOW``)."""
    args = [period.occurred_from, period.occurred_before, period.office]
    if period.reading is not Reading.NOW:
        args.append(period.as_of)
    return list(await conn.fetch(query.format(source=_SOURCES[period.reading]), *args))


async def kept_current(conn: asyncpg.Connection) -> bool:
    """Whether the live generation's ``complaint_current`` holds every complaint, counted by
    ``current_counts``. A generation built by an earlier version may have neither (until the
    swap to this version's), and one just loaded in bulk is folded into it after the swap
    (``current_pending``): until then "now" is folded as of now."""
    if await conn.fetchval(
        "SELECT to_regclass('current_pending') IS NULL OR to_regclass('current_counts') IS NULL"
    ):
        return False
    return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM current_pending)")


async def quoted_events(conn: asyncpg.Connection, period: PeriodRead) -> list[asyncpg.Record]:
    """The accountability records (``PlanImplemented``) and preventive measures that occurred
    in [from, before) and were recorded by T, with the office their complaint counts for then
    and its subject; ``detail`` is the event's quoted fields (JSON text). ``Reading.NOW``:
    every one applied, with the office its complaint counts for now."""
    current = period.reading is Reading.NOW
    states = "complaint_current" if current else "reporting.complaint_states($4)"
    return list(
        await conn.fetch(
            f"""SELECT q.complaint_id, q.type, q.occurred_at, q.detail::text AS detail,
                       s.office, s.subject
                FROM reporting.quoted_events($4, $1, $2) q
                JOIN {states} s USING (complaint_id)
                WHERE q.type IN ('PlanImplemented', 'PreventiveMeasureRecorded')
                  AND ($3::text IS NULL OR s.office = $3)
                ORDER BY q.occurred_at, q.complaint_id""",
            period.occurred_from,
            period.occurred_before,
            period.office,
            INFINITY if current else period.as_of,
        )
    )


INFINITY = datetime.max.replace(tzinfo=UTC)
"""An instant after every event (asyncpg sends it as timestamptz ``infinity``)."""


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
    conn: asyncpg.Connection, *, office: str | None, as_of: datetime, current: bool = False
) -> list[asyncpg.Record]:
    """Every complaint open as of T (received, not closed, withdrawn or merged);
    ``current``: as every event applied has them (``complaint_current``)."""
    columns = """s.complaint_id, s.office, s.unit, s.subject, s.status, s.major,
                 s.major_rule, s.major_at, s.occurred_at, s.priority"""
    if current:
        return list(
            await conn.fetch(
                f"""SELECT {columns} FROM complaint_current s
                    WHERE s.status NOT IN ('closed', 'withdrawn', 'merged')
                      AND ($1::text IS NULL OR s.office = $1)
                    ORDER BY s.occurred_at, s.complaint_id""",
                office,
            )
        )
    return list(
        await conn.fetch(
            f"""SELECT {columns} FROM reporting.complaint_states($1) s
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


async def import_snapshot(conn: asyncpg.Connection, snapshot: str) -> None:
    """Read in ``snapshot`` (``export_snapshot`` of another transaction) for the rest of the
    caller's repeatable-read transaction."""
    if not _SNAPSHOT.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    await conn.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")


_SNAPSHOT = re.compile(r"^[0-9A-Fa-f-]+$")


async def export_snapshot(conn: asyncpg.Connection) -> str:
    """The name of this transaction's snapshot, for other connections to read in it."""
    return str(await conn.fetchval("SELECT pg_export_snapshot()"))

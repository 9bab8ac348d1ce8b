"""One complaint as of an instant, a list of them, and the live counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

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

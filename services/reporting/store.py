"""Queries over the reporting projections (parameters always; no SQL elsewhere)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg


async def complaint(conn: asyncpg.Connection, complaint_id: UUID) -> dict[str, Any] | None:
    """One complaint as the projection holds it, or ``None``."""
    row = await conn.fetchrow(
        """SELECT complaint_id, channel, submission_id, office, unit, complainant_name,
                  complainant_phone, subject, description, demand, occurred_at, received_at
           FROM reporting.complaints WHERE complaint_id = $1""",
        complaint_id,
    )
    if row is None:
        return None
    out = dict(row)
    out["complainant"] = {
        "name": out.pop("complainant_name"),
        "phone": out.pop("complainant_phone"),
    }
    return out


async def stats(conn: asyncpg.Connection) -> dict[str, Any]:
    """Complaints received, in total and per office, channel and day (from one table)."""
    rows = await conn.fetch("SELECT day, office, channel, received FROM reporting.daily_intake")
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

"""One complaint as reporting knows it as of an instant: its state, clocks and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from services.reporting import store
from services.reporting.domain import ServiceLevelFacts, service_levels, status_label, timer_label
from services.reporting.domain import ServiceLevels as ComplaintLevels
from services.runtime import vault
from services.runtime.auth import masked_complainant


async def complaint(
    conn: asyncpg.Connection, complaint_id: UUID, as_of: datetime
) -> dict[str, Any] | None:
    """One complaint as reporting knew it at ``as_of`` (personal data masked; ``已删除`` once
    the complainant is erased, whatever ``as_of``: the key is gone now), with its state, its
    service levels and its open SLA alerts; ``None`` if not recorded by then."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        found = await store.complaint(conn, complaint_id, as_of)
    if found is None:
        return None
    opened = await vault.open_one(conn, orjson.loads(found.pop("personal")))
    state = found.pop("state")
    alerts = found.pop("alerts")
    levels = service_levels(
        ServiceLevelFacts(
            acknowledged=state["acknowledged_at"] is not None,
            first_response_breached=state["first_response_breached"],
            replied=state["replied_at"] is not None,
            reply_breached=state["reply_breached"],
            reply_hard_breached=state["reply_hard_breached"],
        )
    )
    # Reporting masks every complainant, whoever reads (analysts read it).
    found["complainant"] = masked_complainant(opened.complainant())
    found["description"], found["demand"] = opened.description, opened.demand
    return {**found, "as_of": as_of, "state": _complaint_state(found, state, alerts, levels)}


def _complaint_state(
    found: Mapping[str, Any],
    state: Mapping[str, Any],
    alerts: list[dict[str, Any]],
    levels: ComplaintLevels,
) -> dict[str, Any]:
    """A complaint's state as ``GET /v1/complaints/{id}`` shows it: where it stands, when each
    step was taken, its service levels and its open alerts."""
    return {
        "status": state["status"],
        "status_label": status_label(state["status"]),
        "open": state["status"] not in ("closed", "withdrawn", "merged"),
        **{
            key: state[key]
            for key in (
                "validity",
                "category",
                "major",
                "major_rule",
                "priority",
                "received_office",
                "rejudged",
                "resolved_on_the_spot",
                "suspended",
                "close_outcome",
                "merged_into",
                "revisit_satisfied",
                "events",
            )
        },
        "steps": {
            "received_at": found["occurred_at"],
            **{
                key: state[key]
                for key in (
                    "acknowledged_at",
                    "judged_at",
                    "assigned_at",
                    "implemented_at",
                    "replied_at",
                    "answered_at",
                    "revisited_at",
                    "ended_at",
                    "major_at",
                )
            },
        },
        "service_levels": {
            "first_response_within_30min": levels.first_response_within_30min,
            "replied_within_1_day": levels.replied_within_1_day,
            "replied_within_3_days": levels.replied_within_3_days,
            "overdue": any(a["overdue"] for a in alerts),
        },
        "alerts": [
            {**a, "timer_label": timer_label(a["timer"]), "kind": _alert_kind(a)} for a in alerts
        ],
    }


def _alert_kind(alert: Mapping[str, Any]) -> str:
    if not alert["overdue"]:
        return "due_soon"
    return "hard_breached" if alert["hard"] else "overdue"

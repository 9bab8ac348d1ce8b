"""SLA's HTTP routes: each complaint's clocks, every overdue complaint by office, and what-if
replays of a period under another policy or calendar (``services.sla.whatif``)."""

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from services.runtime.app import PartsDep
from services.runtime.auth import CurrentStaff, Staff, StaffRole, check_office, office_scope
from services.runtime.http import FieldErrors
from services.sla import deliveries_store, horizon, store
from services.sla.calendar import BusinessCalendar
from services.sla.notifications import AlertKind
from services.sla.policy import Timer, clock_kind
from services.sla.scheduler import SlaRules
from services.sla.settings import SlaSettings
from services.sla.timers import fold
from services.sla.views import (
    CalendarStatus,
    Clocks,
    ComplaintNotifications,
    NotificationDelivery,
    Overdue,
    WhatIfAnswer,
)
from services.sla.whatif import (
    MAX_YAML_CHARS,
    Period,
    WhatIfInputError,
    parse_other_calendar,
    parse_other_policy,
    what_if,
)

router = APIRouter()
"""Every route of the SLA service (``services.sla.spec`` adds it to the app)."""
WHAT_IF_ROLES = frozenset({StaffRole.COMPANY, StaffRole.ANALYST})
READS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No staff token (or session), or not a valid one"},
    403: {"description": "An office-scoped role asked about another office (names `office`)"},
}


class WhatIfRequest(BaseModel):
    """``POST /v1/sla/what-if``: a period and the other rules, as the YAML files' text."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    period_from: date = Field(alias="from", description="First day of the period (China time)")
    period_to: date = Field(alias="to", description="Last day of the period, inclusive")
    policy_yaml: str | None = Field(
        None,
        max_length=MAX_YAML_CHARS,
        description="The other SLA policy, the text of a policy.yaml (default: the live one)",
    )
    calendar_yaml: str | None = Field(
        None,
        max_length=MAX_YAML_CHARS,
        description="The other business calendar, the text of a calendar.yaml (default: the "
        "live one)",
    )


async def may_run_what_if(staff: CurrentStaff) -> Staff:  # async: no thread hop
    """The company and analyst roles may run a what-if (a replay of the whole log)."""
    if staff.role not in WHAT_IF_ROLES:
        raise HTTPException(
            403, detail=f"role: a {staff.role.value} may not run a what-if (company, analyst)"
        )
    return staff


def _clock_row(kind: str, timer: Timer, at: datetime, calendar: BusinessCalendar) -> dict[str, Any]:
    """One clock of a complaint as ``GET …/sla`` shows it at ``at``."""
    when = max(at, timer.started_at)
    return {
        "timer": kind,
        "target": timer.description,
        "clock": clock_kind(timer.clock),
        # Counted Monday to Friday past the calendar's horizon: not authoritative.
        "past_calendar_horizon": horizon.past_horizon(calendar, timer),
        "state": timer.state_at(when).value,
        "started_at": timer.started_at,
        "warning_at": timer.warning_at,
        "deadline": timer.deadline,
        "hard_deadline": timer.hard_deadline,
        "ended_at": timer.stopped_at or timer.cancelled_at,
        "elapsed_s": timer.elapsed(when).total_seconds(),
        "remaining_s": timer.remaining(when).total_seconds(),
    }


@router.get(
    "/v1/complaints/{complaint_id}/sla",
    summary="A complaint's clocks, now",
    responses=READS,
    response_model=Clocks,
)
async def get_clocks(parts: PartsDep, complaint_id: UUID, staff: CurrentStaff) -> dict[str, Any]:
    """Staff of the complaint's office (where it is now), company and analyst roles."""
    at = parts.now()
    async with parts.service.pool.acquire() as conn:
        office = await store.office_of(conn, complaint_id)
        if office is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        history = await store.history(conn, complaint_id)
    folded = fold(
        history,
        complaint_id=complaint_id,
        office=office,
        policy=parts.shared.rules.policy,
        calendar=parts.shared.rules.calendar,
    )
    check_office(staff, folded.office_at(at))
    calendar = parts.shared.rules.calendar
    clocks = [_clock_row(kind, timer, at, calendar) for kind, timer in folded.timers.items()]
    running = [
        c
        for c in clocks
        if c["state"] in ("running", "breached")
        and c["ended_at"] is None
        and c["deadline"] is not None
    ]
    upcoming = min(running, key=lambda c: c["deadline"], default=None)
    return {
        "complaint_id": complaint_id,
        "office": folded.office_at(at),
        "as_of": at,
        "next_deadline": (
            {"timer": upcoming["timer"], "at": upcoming["deadline"]} if upcoming else None
        ),
        "clocks": sorted(clocks, key=lambda c: c["started_at"]),
    }


@router.get(
    "/v1/complaints/{complaint_id}/notifications",
    summary="Who was told of a complaint's alerts (group robots), and how delivery stands",
    responses=READS,
)
async def get_notifications(
    parts: PartsDep, complaint_id: UUID, staff: CurrentStaff
) -> ComplaintNotifications:
    """Every delivery of the complaint's warnings, breaches, escalations and major flag to
    the robots the notifications file names: state, attempts, last error, when delivered.
    Staff of the complaint's office (where it is now), company and analyst roles; staff of
    an office see the deliveries made while the complaint was their office's only."""
    async with parts.service.pool.acquire() as conn:
        # The notifier's office (it follows transfers); a complaint it has not read yet
        # has no deliveries, but exists when the clocks know it.
        office = await deliveries_store.office_of(conn, complaint_id) or await store.office_of(
            conn, complaint_id
        )
        if office is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        check_office(staff, office)
        rows = await deliveries_store.deliveries(conn, complaint_id=complaint_id)
    # After a transfer (跨项目转办) the deliveries made while the complaint was another
    # office's name that office's robots and errors: an office-scoped role sees its own.
    scope = office_scope(staff, None)
    if scope is not None:
        rows = [r for r in rows if r["office"] == scope]
    return ComplaintNotifications(
        complaint_id=complaint_id,
        office=office,
        deliveries=[
            NotificationDelivery(
                **row,
                alert_label=AlertKind(row["alert_kind"]).label,
            )
            for row in rows
        ],
    )


@router.get(
    "/v1/sla/calendar",
    summary="Until when the holiday data is authoritative (the horizon), and its sources",
    responses={401: READS[401]},
    response_model=CalendarStatus,
)
async def get_calendar(parts: PartsDep, staff: CurrentStaff) -> dict[str, Any]:
    """The business calendar's horizon: the last day whose holidays and make-up days are
    known (chinese-calendar's years, then the years declared in calendar.yaml without a
    gap), the days left, the warning once it is 60 days away or less, what happens past
    it, and the source of every covered year."""
    return horizon.status(parts.shared.rules.calendar, parts.now())


@router.get(
    "/v1/sla/overdue",
    summary="Every open complaint past a deadline, by office",
    responses=READS,
    response_model=Overdue,
)
async def get_overdue(
    parts: PartsDep,
    staff: CurrentStaff,
    office: Annotated[
        str | None,
        Query(min_length=1, max_length=50, description="One office (default: all you see)"),
    ] = None,
) -> dict[str, Any]:
    """Office-scoped roles see their own office's complaints only."""
    scope = office_scope(staff, office)
    at = parts.now()
    async with parts.service.pool.acquire() as conn:
        rows = await store.overdue(conn, at)
    if scope is not None:
        rows = [row for row in rows if row["office"] == scope]
    by_office: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        row["overdue_s"] = (at - row["deadline"]).total_seconds()
        by_office.setdefault(row.pop("office"), []).append(row)
    return {"as_of": at, "total": len(rows), "by_office": by_office}


@router.post(
    "/v1/sla/what-if",
    summary="A period's warnings and breaches as they were, and under other rules",
    response_model=WhatIfAnswer,
    responses={
        401: {"description": "No staff token, or not a valid one"},
        403: {"description": "Not the company or analyst role"},
        422: {"description": "A bad period, or YAML that is no policy/calendar (names it)"},
    },
)
async def post_what_if(
    parts: PartsDep, body: WhatIfRequest, staff: Annotated[Staff, Depends(may_run_what_if)]
) -> dict[str, Any]:
    """Replay the complaints received in ``from``..``to`` from the log into a scratch
    projection (dropped afterwards; nothing live is written, nothing published) and fold
    them under the live policy and calendar and under ``policy_yaml``/``calendar_yaml``:
    per office and timer kind, warnings and breaches as they were and as they would have
    been, and the complaints that change sides. A POST because the other policy travels
    in the body. The same as ``complaints what-if sla --json``."""
    rules: SlaRules = parts.shared.rules
    settings: SlaSettings = parts.settings
    try:
        period = Period.checked(body.period_from, body.period_to)
        if body.policy_yaml is None and body.calendar_yaml is None:
            raise WhatIfInputError(
                "policy_yaml", "give policy_yaml or calendar_yaml (or both) to compare with"
            )
        policy = rules.policy
        calendar = rules.calendar
        if body.policy_yaml is not None:
            policy = parse_other_policy(body.policy_yaml, field="policy_yaml")
        if body.calendar_yaml is not None:
            calendar = parse_other_calendar(body.calendar_yaml, field="calendar_yaml")
    except WhatIfInputError as exc:
        raise FieldErrors([{"field": exc.field, "reason": exc.reason}]) from None
    live = f"{settings.sla_policy_file.name} + {settings.sla_calendar_file.name} (live)"
    other = " + ".join(
        [
            "policy_yaml" if body.policy_yaml is not None else settings.sla_policy_file.name,
            "calendar_yaml" if body.calendar_yaml is not None else settings.sla_calendar_file.name,
        ]
    )
    async with parts.shared.replaying:
        report = await what_if(
            settings,
            parts.service.pool,
            live=rules,
            other=SlaRules(policy=policy, calendar=calendar),
            period=period,
            live_name=live,
            other_name=other,
            now=parts.now,
        )
    return report.as_dict()

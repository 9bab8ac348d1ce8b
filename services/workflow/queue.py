"""Work queues (`GET /v1/complaints`): the complaints a member of staff works on, filtered,
ordered by priority (轻重缓急) and deadline, a page at a time.

Its SQL is ``queue_store``'s. Pages are keyset-paginated: ``next_cursor`` holds the sort key
of the page's last complaint, so a complaint that changes between two pages is neither skipped
twice nor shown twice because of an offset that moved.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, cast
from uuid import UUID

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.enums import Channel, Priority
from contracts.lifecycle import EscalationLevel
from services.runtime.auth import COMPANY_ROLES, CurrentStaff, Staff
from services.runtime.service import ConsumingService
from services.workflow import queue_store
from services.workflow.domain import Status

router = APIRouter(tags=["work queue"])


class Sort(StrEnum):
    """How a queue is ordered."""

    PRIORITY = "priority"  # urgent first, then the nearest deadline (the default)
    DEADLINE = "deadline"  # the nearest deadline first; none last
    RECEIVED = "received"  # the oldest first (first come, first served)
    NEWEST = "-received"  # the newest first


class QueueFilters(BaseModel):
    """The query of a work queue; every filter is optional and they combine with AND."""

    model_config = ConfigDict(extra="forbid")

    office: Annotated[str | None, Field(max_length=50, description="管理处 (company roles)")] = None
    status: Annotated[
        list[Status],
        Field(description="Any of these statuses; none given means every open complaint"),
    ] = []
    include_ended: Annotated[
        bool, Field(description="Also closed, withdrawn and merged complaints")
    ] = False
    department: Annotated[str | None, Field(max_length=50, description="责任部门")] = None
    assignee: Annotated[
        str | None, Field(max_length=64, description="首问责任人's staff id (who owns it)")
    ] = None
    mine: Annotated[
        bool,
        Field(
            description="我的待办: the complaints waiting on the caller's role (`mine_condition`): "
            "cs_agent/cs_head those they own; department those of its office in assigned, "
            "analysed, plan_approved or reopened; supervisor plan_proposed; project_manager "
            "plan_proposed, major or escalated to it; company escalated to the company"
        ),
    ] = False
    major: Annotated[bool | None, Field(description="Only major (true) or ordinary (false)")] = None
    priority: Annotated[list[Priority], Field(description="Any of these priorities")] = []
    overdue: Annotated[
        bool | None, Field(description="Only complaints past (true) or within (false) deadline")
    ] = None
    due_before: Annotated[
        AwareDatetime | None, Field(description="Next deadline before this instant")
    ] = None
    channel: Annotated[list[Channel], Field(description="Any of these channels")] = []
    text: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=100,
            description="In the unit or subject (the description is sealed personal data: "
            "not searchable)",
        ),
    ] = None
    sort: Sort = Sort.PRIORITY
    limit: Annotated[int, Field(ge=1, le=200, description="Complaints per page")] = 50
    cursor: Annotated[str | None, Field(max_length=500, description="next_cursor of a page")] = None


class Deadline(BaseModel):
    """The next deadline the workflow knows of, and the time left until it."""

    kind: str
    at: datetime
    seconds_left: Annotated[float, Field(description="Negative once it has passed")]


class QueueItem(BaseModel):
    """One complaint in a queue: what staff need to pick the next one to work on."""

    complaint_id: UUID
    office: str
    unit: str
    channel: Channel
    subject: Annotated[str, Field(description="投诉对象")]
    received_at: datetime
    status: Status
    validity: str | None
    category: str | None
    priority: Priority | None
    department: str | None
    assignee: Annotated[str | None, Field(description="首问责任人's staff id")]
    major: bool
    escalation_level: EscalationLevel
    next_deadline: Deadline | None
    overdue: bool


class QueuePage(BaseModel):
    """A page of a queue: ``total`` counts every match, ``next_cursor`` fetches the next page."""

    items: list[QueueItem]
    total: int
    next_cursor: str | None


def _whole(value: Any) -> int:
    if type(value) is not int:
        raise TypeError("not a whole number")
    return value


_READ: dict[str, Callable[[Any], Any]] = {
    "smallint": _whole,
    "timestamptz": datetime.fromisoformat,
    "uuid": UUID,
}
"""How a cursor's JSON value of each key type is read back (ValueError/TypeError if not)."""


def _encode_cursor(sort: Sort, key: list[Any]) -> str:
    raw = orjson.dumps({"sort": sort.value, "key": key}, default=str)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: Sort) -> list[Any]:
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if doc["sort"] != sort.value:
            raise ValueError("another order")
        key = doc["key"]
        columns = [*queue_store.KEYS[sort][0], queue_store.TIE]
        if not isinstance(key, list) or len(key) != len(columns):
            raise ValueError("wrong length")
        return [_READ[kind](value) for value, (_, kind) in zip(key, columns, strict=True)]
    except (ValueError, KeyError, TypeError):
        raise HTTPException(
            422, detail="cursor: not a next_cursor of this query's sort order"
        ) from None


def _item(row: Any, now: datetime) -> QueueItem:
    at = row["next_deadline"]
    deadline = (
        Deadline(kind=row["next_deadline_kind"], at=at, seconds_left=(at - now).total_seconds())
        if at is not None
        else None
    )
    return QueueItem(
        complaint_id=row["complaint_id"],
        office=row["office"],
        unit=row["unit"],
        channel=row["channel"],
        subject=row["subject"],
        received_at=row["occurred_at"],
        status=row["status"],
        validity=row["validity"],
        category=row["category"],
        priority=row["priority"],
        department=row["department"],
        assignee=row["assignee"],
        major=row["major"],
        escalation_level=row["escalation_level"],
        next_deadline=deadline,
        overdue=deadline is not None and deadline.seconds_left < 0,
    )


@router.get(
    "/v1/complaints",
    summary="A work queue: complaints filtered, by priority and deadline, a page at a time",
    responses={
        403: {"description": "An office-scoped role asked for another office"},
        422: {"description": "Bad filter or cursor; each field named"},
    },
)
async def work_queue(
    request: Request, staff: CurrentStaff, filters: Annotated[QueueFilters, Query()]
) -> QueuePage:
    """Office-scoped roles see their own office only; company and analyst roles every office."""
    now = cast(datetime, request.app.state.now())
    return await fetch_page(request.app.state.service, filters, staff, now)


async def fetch_page(
    service: ConsumingService, filters: QueueFilters, staff: Staff, now: datetime
) -> QueuePage:
    """One page of the queue ``filters`` ask for, as ``staff`` may see it at ``now``: the one
    query of the JSON queue and of the workbench's pages. An office-scoped member of staff
    sees only their office (403 for another)."""
    if staff.role not in COMPANY_ROLES and filters.office not in (None, staff.office):
        raise HTTPException(403, detail=f"office: {staff.staff_id} works for another office")
    last = _decode_cursor(filters.cursor, filters.sort) if filters.cursor is not None else None
    async with service.pool.acquire() as conn:
        rows, total = await queue_store.page(conn, filters, staff, now, last)
    items = [_item(row, now) for row in rows[: filters.limit]]
    next_cursor = None
    if len(rows) > filters.limit:
        last = rows[filters.limit - 1]
        keys = [_key_json(last[f"k{i}"]) for i in range(len(queue_store.KEYS[filters.sort][0]))]
        next_cursor = _encode_cursor(filters.sort, [*keys, str(last["complaint_id"])])
    return QueuePage(items=items, total=total, next_cursor=next_cursor)


def _key_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value

"""The workbench's pages and the form posts (see the package)."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ValidationError

from contracts.enums import Channel, Priority
from services.runtime.auth import COMPANY_ROLES, Staff
from services.runtime.http import FieldErrors
from services.runtime.login import PageStaff, csrf_refusal, page_csrf, read_form
from services.workflow import queue
from services.workflow.commands import COMMANDS, Command
from services.workflow.domain import CommandRejected, State, Status, stage_refusal
from services.workflow.pages.forms import (
    command_fields,
    form_payload,
    offered_commands,
    refused_fields,
    zh_location,
    zh_reason,
)
from services.workflow.pages.labels import (
    COMMAND_TITLES,
    EVENT_LABELS,
    FIELD_LABELS,
    HIDDEN_DATA,
    QUEUE_LABELS,
    as_shanghai,
    local,
    role_label,
    shown_value,
    span,
)
from services.workflow.pages.sla import clocks_of, notifications_of

MAX_FORM_BYTES = 64 * 1024

router = APIRouter(include_in_schema=False)

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parents[1] / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(local=local, span=span)


def _html(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(template).render(**context), status_code=status_code)


def _staff_context(request: Request, staff: Staff) -> dict[str, Any]:
    return {
        "staff": staff,
        "role_label": role_label(staff.role.value),
        "company": staff.role in COMPANY_ROLES,
        "csrf": page_csrf(request),
    }


def _error(request: Request, staff: Staff, exc: HTTPException) -> HTMLResponse:
    context = _staff_context(request, staff)
    return _html("error.html", exc.status_code, message=str(exc.detail), **context)


@router.get("/", response_class=RedirectResponse)
async def home() -> RedirectResponse:
    return RedirectResponse("/queue?mine=true", status_code=303)


_LISTS = {"status", "priority", "channel"}


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, staff: PageStaff) -> HTMLResponse:
    """我的待办 / 本处待办: the JSON queue's filters as a GET form, its items as a table."""
    raw: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        value = value.strip()
        if not value:
            continue
        if key == "due_before":
            value = as_shanghai(value)
        if key in _LISTS:
            raw.setdefault(key, []).append(value)
        else:
            raw[key] = value
    page: queue.QueuePage | None = None
    errors: list[dict[str, str]] = []
    status_code = 200
    try:
        filters = queue.QueueFilters.model_validate(raw)
        now = cast(datetime, request.app.state.now())
        page = await queue.fetch_page(request.app.state.service, filters, staff, now)
    except ValidationError as exc:
        errors = [
            {"field": zh_location(e["loc"], labels=QUEUE_LABELS), "reason": zh_reason(e)}
            for e in exc.errors(include_url=False)
        ]
        status_code = 422
    except HTTPException as exc:
        errors, status_code = [{"field": "", "reason": str(exc.detail)}], exc.status_code
    asked = {k: (v if isinstance(v, list) else [v]) for k, v in raw.items() if k != "cursor"}
    next_link = None
    if page is not None and page.next_cursor:
        pairs = [(k, v) for k, vs in asked.items() for v in vs] + [("cursor", page.next_cursor)]
        next_link = "/queue?" + urlencode(pairs)
    shown_due = request.query_params.get("due_before", "")[:16]
    return _html(
        "queue.html",
        status_code,
        page=page,
        errors=errors,
        asked=asked,
        due_before=shown_due,
        next_link=next_link,
        mine=raw.get("mine") == "true",
        statuses=[(s.value, s.label) for s in Status if s is not Status.NEW],
        priorities=[(p.value, p.label) for p in Priority],
        channels=[(c.value, c.label) for c in Channel],
        sorts=[
            ("priority", "轻重缓急、时限"),
            ("deadline", "时限最近"),
            ("received", "受理最早"),
            ("-received", "受理最新"),
        ],
        status_label=lambda s: Status(s).label,
        **_staff_context(request, staff),
    )


@router.get("/complaints/{complaint_id}", response_class=HTMLResponse)
async def complaint_page(
    complaint_id: UUID,
    request: Request,
    staff: PageStaff,
    done: str | None = None,
    replayed: bool = False,
) -> HTMLResponse:
    """A complaint: what was received, its timeline, its clocks and the forms of its commands."""
    flash = ""
    if done in COMMAND_TITLES:
        flash = (
            f"重复提交：「{COMMAND_TITLES[done]}」已处理过，未再次执行。"
            if replayed
            else f"已完成：{COMMAND_TITLES[done]}。"
        )
    return await _complaint(request, staff, complaint_id, flash=flash)


async def _complaint(
    request: Request,
    staff: Staff,
    complaint_id: UUID,
    *,
    flash: str = "",
    refusal: str = "",
    refused: str = "",
    submitted: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        state, complaint = await request.app.state.workbench.load(complaint_id, staff)
    except HTTPException as exc:
        return _error(request, staff, exc)
    history = complaint["history"]
    received = history[0]["data"] if history else {}
    timeline = [_timeline_item(item) for item in history]
    forms, unusual = _forms_of(request, staff, state, complaint, refused, submitted)
    clocks, clocks_problem = await clocks_of(request, complaint_id)
    deliveries, deliveries_problem = await notifications_of(request, complaint_id)
    return _html(
        "complaint.html",
        status_code,
        c=complaint,
        received=received,
        status_label=Status(complaint["status"]).label,
        timeline=timeline,
        forms=forms,
        unusual=unusual,
        unusual_open=any(f["open"] for f in unusual),
        clocks=clocks,
        clocks_problem=clocks_problem,
        deliveries=deliveries,
        deliveries_problem=deliveries_problem,
        flash=flash,
        refusal=refusal,
        refused=refused,
        shown_value=shown_value,
        **_staff_context(request, staff),
    )


def _timeline_item(item: dict[str, Any]) -> dict[str, Any]:
    """One event of the timeline: what, who, when, and its details in zh-CN."""
    return {
        "what": EVENT_LABELS.get(item["type"], item["type"]),
        "type": item["type"],
        "who": _who(item),
        "when": local(item["occurred_at"]),
        "details": [
            (FIELD_LABELS.get(k, k), shown_value(k, v))
            for k, v in item["data"].items()
            if k not in HIDDEN_DATA and v not in (None, "", [], {})
        ],
    }


def _forms_of(
    request: Request,
    staff: Staff,
    state: State,
    complaint: dict[str, Any],
    refused: str,
    submitted: dict[str, str] | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The forms of the commands ``staff`` may give: those the decider's stage rules allow
    now, and those it refuses outright (folded under 此状态通常不可用)."""
    now = cast(datetime, request.app.state.now())
    policy = getattr(request.app.state, "office_policy", None)
    forms: list[dict[str, Any]] = []
    unusual: list[dict[str, Any]] = []
    for name in offered_commands(staff, state):
        form = _form(name, state, complaint, submitted if name == refused else None)
        # the command's kind and who gives it, no fields: all that a stage refusal reads
        kind: type[BaseModel] = COMMANDS[name]
        command = cast(Command, kind.model_construct(actor=staff.actor))
        outright = stage_refusal(command, state, now=now, policy=policy)
        (unusual if outright else forms).append(form)
    return forms, unusual


def _who(item: dict[str, Any]) -> str:
    actor = item["data"].get("actor")
    if isinstance(actor, dict) and "staff_id" in actor:
        return f"{actor['staff_id']}（{role_label(str(actor.get('role', '')))}）"
    source = str(item.get("source", ""))
    if source.startswith("intake"):
        return f"受理渠道（{source}）"
    if source.startswith("sla"):
        return "时限服务"
    if source.startswith("workflow/rules"):
        return "系统规则"
    return source


def _form(
    name: str, state: State, complaint: dict[str, Any], submitted: dict[str, str] | None
) -> dict[str, Any]:
    fields = command_fields(COMMANDS[name])
    # What the complaint already says: the department routing proposed, the latest plan.
    known: dict[str, str] = {}
    if state.proposed_department:
        known["department"] = state.proposed_department
    if state.plans:
        known["plan_id"] = str(state.plans[-1].plan_id)
    values = {f.name: (submitted or {}).get(f.name, known.get(f.name, f.default)) for f in fields}
    return {
        "name": name,
        "title": COMMAND_TITLES[name],
        "doc": (COMMANDS[name].__doc__ or "").strip().splitlines()[0],
        "fields": fields,
        "values": values,
        "key": uuid.uuid4().hex,  # the idempotency key: a second submit of this form acts once
        "open": submitted is not None,
    }


@router.post("/complaints/{complaint_id}/commands/{name:path}", response_class=HTMLResponse)
async def give_command(
    complaint_id: UUID, name: str, request: Request, staff: PageStaff
) -> Response:
    """A command's form: given as the API gives it, then back to the complaint (303), or the
    complaint again with the reason it was refused."""
    if name not in COMMANDS:
        return _error(request, staff, HTTPException(404, detail=f"command: no command {name!r}"))
    try:
        form = await read_form(request, MAX_FORM_BYTES)
    except HTTPException as exc:
        return _error(request, staff, exc)
    refusal = csrf_refusal(request, form)
    if refusal is not None:
        return _error(request, staff, HTTPException(403, detail=refusal))
    key = form.get("idempotency_key", "").strip()[:128] or None
    command_type = COMMANDS[name]
    give = request.app.state.workbench.give
    try:
        decided = await give(complaint_id, name, form_payload(command_type, form), staff, key)
    except CommandRejected as rejected:
        reason, status_code = f"办理被拒绝：{rejected.reason}", 409
    except FieldErrors as exc:
        reason, status_code = f"填写有误：{refused_fields(exc, command_type)}", 422
    except HTTPException as exc:
        what = "无权办理" if exc.status_code == 403 else "无法办理"
        reason, status_code = f"{what}：{exc.detail}", exc.status_code
    else:
        query = {"done": name, **({"replayed": "true"} if decided.replayed else {})}
        return RedirectResponse(f"/complaints/{complaint_id}?{urlencode(query)}", status_code=303)
    return await _complaint(
        request,
        staff,
        complaint_id,
        refusal=reason,
        refused=name,
        submitted=form,
        status_code=status_code,
    )

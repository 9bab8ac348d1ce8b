"""The staff workbench (工作台): server-rendered zh-CN pages on the workflow service.

``/queue`` shows 我的待办 (``mine=true``) and 本处待办 with every filter of the JSON queue; it
calls the very query of ``GET /v1/complaints`` (``queue.fetch_page``). ``/complaints/{id}``
shows a complaint as ``GET /v1/complaints/{id}`` reads it (the complainant masked by the one
rule of ``services.runtime.auth``), its timeline, its clocks from the SLA service, and one
form per command this role may give. A form posts to ``/complaints/{id}/commands/{name}``,
which gives the command through the API's own path (``routes.Workbench.give``: the permission
table, the office check, the decider) with the idempotency key the form carries, so a double
submit acts once; then 303 back to the page, or the page again with the refusal's reason and
its 403/409/422 status.

No script: plain links and forms. The session is the login's cookie (``services.runtime.login``).
SameSite=Lax alone does not stop another site posting these forms (old browsers ignore it; a
sibling subdomain is same-site), so every form (the commands', the logout's) carries the
session's ``csrf`` token, checked before anything is given (403 otherwise), and every page is
sent unframeable, script-free and uncached (``login.PageHeaders``).
"""

from __future__ import annotations

import re
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode
from uuid import UUID

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.lifecycle import Awaiting, CloseOutcome, EscalationLevel, Role
from contracts.timezone import CHINA
from services.runtime.auth import COMPANY_ROLES, SESSION_COOKIE, Staff
from services.runtime.http import FieldErrors
from services.runtime.login import PageStaff, csrf_refusal, page_csrf, read_form
from services.workflow import queue
from services.workflow.commands import COMMANDS, Command
from services.workflow.domain import CommandRejected, State, Status, stage_refusal
from services.workflow.permissions import acting_office, may_give

MAX_FORM_BYTES = 64 * 1024
SLA_TIMEOUT_S = 3.0

router = APIRouter(include_in_schema=False)

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

COMMAND_TITLES: dict[str, str] = {
    "acknowledge": "响应接单（首问责任）",
    "classify": "判定与分类",
    "resolve": "当场解决",
    "rejudge": "复核",
    "suspend": "暂缓",
    "resume": "恢复处理",
    "assign": "派单（确定责任部门）",
    "transfer": "转派",
    "send-back": "退单",
    "transfer-office": "跨项目转办",
    "transfer-office/accept": "接收转办",
    "flag-major": "认定重大投诉",
    "unflag-major": "撤销重大投诉",
    "analyse": "分析原因",
    "propose": "提出处理方案",
    "approve": "批准方案",
    "reject": "驳回方案",
    "implement": "实施方案",
    "reply": "答复业主",
    "commit": "时间承诺",
    "revisit": "回访",
    "close": "关闭",
    "reopen": "重新处理",
    "prevent": "预防措施",
    "withdraw": "撤诉",
    "merge": "合并重复投诉",
}
"""Each command's zh-CN name, in the order of the procedure (the order of the forms)."""

EVENT_LABELS: dict[str, str] = {
    "ComplaintReceived": "受理投诉",
    "ComplaintAcknowledged": "响应接单",
    "ComplaintJudged": "判定投诉",
    "ComplaintRejudged": "复核",
    "DepartmentProposed": "建议责任部门",
    "DepartmentAssigned": "派单",
    "ComplaintTransferred": "转派",
    "ComplaintSentBack": "退单",
    "OfficeTransferRequested": "申请跨项目转办",
    "ComplaintOfficeTransferred": "跨项目转办",
    "CauseAnalysed": "分析原因",
    "ResolutionProposed": "提出处理方案",
    "PlanApproved": "批准方案",
    "PlanRejected": "驳回方案",
    "PlanImplemented": "实施方案",
    "OwnerReplied": "答复业主",
    "TimeCommitted": "时间承诺",
    "RevisitRecorded": "回访",
    "OwnerNotReached": "回访未联系上业主",
    "ComplaintResolvedOnTheSpot": "当场解决",
    "ComplaintSuspended": "暂缓",
    "ComplaintResumed": "恢复处理",
    "ComplaintReopened": "重新处理",
    "ComplaintClosed": "关闭",
    "PreventiveMeasureRecorded": "预防措施",
    "MajorComplaintFlagged": "认定重大投诉",
    "MajorComplaintUnflagged": "撤销重大投诉",
    "ComplaintEscalated": "升级",
    "ComplaintWithdrawn": "撤诉",
    "ComplaintMerged": "合并",
    "SlaWarning": "即将超时",
    "SlaBreached": "超时",
}
"""What each event of a timeline was, in zh-CN (an unknown type is shown as it is)."""

FIELD_LABELS: dict[str, str] = {
    "validity": "是否成立",
    "category": "投诉分类",
    "priority": "轻重缓急",
    "note": "备注",
    "summary": "处理结果",
    "reason": "理由",
    "awaiting": "等待",
    "until": "恢复时间",
    "department": "责任部门",
    "deadline": "限期",
    "helper_department": "协办部门",
    "to_department": "转派部门",
    "to_office": "转往管理处",
    "cause": "原因",
    "responsible_party": "责任方",
    "plan": "处理方案",
    "plan_id": "方案编号",
    "comment": "批示意见",
    "message": "内容",
    "final": "最终答复",
    "fulfils_commitment": "兑现时间承诺",
    "promised_at": "承诺时间",
    "reached": "联系上业主",
    "satisfied": "业主满意",
    "remarks": "回访记录",
    "outcome": "关闭方式",
    "measure": "预防措施",
    "into_complaint_id": "合并到投诉编号",
    "accountability": "责任追究",
    "level": "升级到",
    "timer": "时限",
    "rule": "规则",
    "major_rule": "重大投诉原因",
    "into_status": "状态",
    "deadline_at": "截止时间",
}
"""The zh-CN names of command fields and event data shown on the pages."""

QUEUE_LABELS: dict[str, str] = {
    "office": "管理处",
    "status": "状态",
    "include_ended": "含已结束",
    "department": "责任部门",
    "assignee": "首问责任人",
    "mine": "我的待办",
    "major": "重大投诉",
    "priority": "轻重缓急",
    "overdue": "超时",
    "due_before": "时限早于",
    "channel": "渠道",
    "text": "关键词",
    "sort": "排序",
    "limit": "每页",
    "cursor": "下一页",
}
"""The queue page's filters as its form names them (for its refusals)."""

_VALUE_ENUMS: dict[str, type[Enum]] = {
    "validity": Validity,
    "category": ServiceCategory,
    "priority": Priority,
    "channel": Channel,
    "awaiting": Awaiting,
    "outcome": CloseOutcome,
    "level": EscalationLevel,
    "status": Status,
}
_HIDDEN_DATA = {
    # the actor has a column of its own; the receipt's facts head the page
    "actor",
    "complainant",
    "office",
    "unit",
    "channel",
    "subject",
    "description",
    "demand",
    "address",
    "channel_refs",
    "submission_id",
    "occurred_at",
    "over_the_head",
}
CLOCK_STATES = {
    "running": "计时中",
    "paused": "暂停",
    "met": "已完成",
    "breached": "已超时",
    "cancelled": "已取消",
}


def local(at: datetime | str | None) -> str:
    """An instant as Shanghai's wall clock, to the minute."""
    if at is None or at == "":
        return ""
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def span(seconds: float) -> str:
    """Time left (``剩余…``) or past (``已超时…``) in days, hours and minutes."""
    left = abs(int(seconds)) // 60
    days, rest = divmod(left, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (f"{days}天" if days else "") + (f"{hours}小时" if hours or days else "")
    text += f"{minutes}分"
    return f"已超时{text}" if seconds < 0 else f"剩余{text}"


def as_shanghai(value: str) -> str:
    """A time from a form: one without an offset (``datetime-local``) is Shanghai's; what does
    not parse is left for the validation, which names the field and the reason."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA)
    return parsed.isoformat()


def role_label(role: str) -> str:
    """A role's zh-CN name (the analyst, no role of the procedure, as 分析员)."""
    try:
        return Role(role).label
    except ValueError:
        return "分析员" if role == "analyst" else role


def _label(member: Enum) -> str:
    return str(getattr(member, "label", member.value))


def shown_value(key: str, value: Any) -> str:
    """One value of an event's data as staff read it: enums by their label, times local."""
    enum = _VALUE_ENUMS.get(key)
    if enum is not None and isinstance(value, str):
        try:
            return _label(enum(value))
        except ValueError:
            return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return local(value)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return "；".join(shown_value(key, v) for v in value)
    if isinstance(value, dict):
        return "，".join(
            f"{FIELD_LABELS.get(k, k)}：{shown_value(k, v)}"
            for k, v in value.items()
            if v not in (None, "")
        )
    return str(value)


_ENV.globals.update(local=local, span=span)


# --------------------------------------------------------------------------------------------
# command forms, from the commands' own fields
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One input of a command's form, derived from the command's pydantic field."""

    name: str
    label: str
    kind: str  # text, textarea, select, datetime, number, records (a textarea, one a line)
    required: bool
    help: str
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    default: str = ""


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside ``X | None`` and ``Annotated[X, …]``, and whether ``None`` is allowed."""
    optional = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            annotation, optional = args[0], True
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation, optional


def _max_length(info: FieldInfo) -> int | None:
    for meta in info.metadata:
        length = getattr(meta, "max_length", None)
        if isinstance(length, int):
            return length
    return None


def form_field(name: str, info: FieldInfo) -> FormField | None:
    """The input for one field of a command; ``None`` for a type no input is made for (none
    of today's commands has one: a unit test holds every field to an input)."""
    inner, optional = _unwrap(info.annotation)
    default = info.default if info.default is not PydanticUndefined else None
    required = info.is_required()
    label = FIELD_LABELS.get(name, name)
    help_ = info.description or ""
    if isinstance(inner, type) and issubclass(inner, Enum):
        options = [(str(m.value), _label(m)) for m in inner]
        if required:  # a choice to make: nothing chosen for the person (the browser asks)
            options.insert(0, ("", "（请选择）"))
        elif optional or default is None:
            options.insert(0, ("", "（不填）"))
        shown = str(default.value) if isinstance(default, Enum) else ""
        return FormField(name, label, "select", required, help_, options, shown)
    if inner is bool:
        options = [("true", "是"), ("false", "否")]
        if optional:
            options.insert(0, ("", "（不填）"))
        shown = "" if default is None else ("true" if default else "false")
        return FormField(name, label, "select", required, help_, options, shown)
    if inner is datetime or inner is AwareDatetime:
        return FormField(name, label, "datetime", required, help_)
    if inner is int:
        return FormField(name, label, "number", required, help_)
    record = _record_type(inner)
    if record is not None:
        parts = "｜".join(
            f.description.split(",")[0] if f.description else FIELD_LABELS.get(n, n)
            for n, f in record.model_fields.items()
        )
        return FormField(name, label, "records", required, f"每行一条：{parts}")
    if inner is str or inner is UUID:
        long = (_max_length(info) or 0) > 200
        shown = default if isinstance(default, str) else ""
        return FormField(name, label, "textarea" if long else "text", required, help_, [], shown)
    return None


def _record_type(annotation: Any) -> type[BaseModel] | None:
    """The model of a ``tuple[Model, ...]`` field (a list of records), else ``None``."""
    if typing.get_origin(annotation) is not tuple:
        return None
    args = typing.get_args(annotation)
    if len(args) == 2 and args[1] is Ellipsis:
        item, _ = _unwrap(args[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None


def _records(annotation: Any, text: str) -> list[dict[str, str]]:
    """A list of records from a textarea: one a line, its fields in order, split by | or ｜."""
    record = _record_type(_unwrap(annotation)[0])
    assert record is not None
    names = list(record.model_fields)
    return [
        dict(zip(names, (part.strip() for part in re.split(r"[|｜]", line)), strict=False))
        for line in text.splitlines()
        if line.strip()
    ]


def command_fields(command_type: type[Command]) -> list[FormField]:
    """The inputs of a command's form: every field but the actor (the session's staff)."""
    found = (form_field(n, f) for n, f in command_type.model_fields.items() if n != "actor")
    return [f for f in found if f is not None]


def form_payload(command_type: type[Command], form: dict[str, str]) -> dict[str, Any]:
    """A command's fields from its posted form: blanks left out (the command's default), a
    local time (``datetime-local``, no offset) read as Shanghai's; the command validates."""
    payload: dict[str, Any] = {}
    for spec in command_fields(command_type):
        value = form.get(spec.name, "").strip()
        if not value:
            continue
        if spec.kind == "records":
            annotation = command_type.model_fields[spec.name].annotation
            payload[spec.name] = _records(annotation, value)
        elif spec.kind == "datetime":
            payload[spec.name] = as_shanghai(value)
        else:
            payload[spec.name] = value
    return payload


_REASONS: dict[str, str] = {
    "missing": "必填",
    "enum": "不是可选的值",
    "literal_error": "不是可选的值",
    "datetime_parsing": "不是有效的日期时间（如 2026-12-08 18:00）",
    "datetime_from_date_parsing": "不是有效的日期时间（如 2026-12-08 18:00）",
    "datetime_type": "不是有效的日期时间（如 2026-12-08 18:00）",
    "timezone_aware": "须带时区",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "bool_parsing": "须为“是”或“否”",
    "bool_type": "须为“是”或“否”",
    "uuid_parsing": "不是有效的编号",
    "uuid_type": "不是有效的编号",
    "string_too_long": "最多 {max_length} 个字",
    "string_too_short": "至少 {min_length} 个字",
    "too_long": "最多 {max_length} 行",
    "too_short": "至少 {min_length} 行",
    "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}",
    "greater_than": "须大于 {gt}",
    "less_than": "须小于 {lt}",
    "extra_forbidden": "多余的内容",
    "tuple_type": "格式不对（每行一条）",
    "list_type": "格式不对",
}
"""The zh-CN words of pydantic's common error types, for the pages (the JSON API keeps
pydantic's own messages); an error of another type keeps its message."""


def zh_location(
    loc: Sequence[Any],
    model: type[BaseModel] | None = None,
    labels: Mapping[str, str] = FIELD_LABELS,
) -> str:
    """A field's place in zh-CN: ``("accountability", 0, "measure")`` → 责任追究第1行·处罚措施
    (a record's fields named by their own descriptions); ``()`` → 表单."""
    words: list[str] = []
    for part in loc:
        if isinstance(part, int):
            words[-1:] = [f"{words[-1] if words else ''}第{part + 1}行"]
            continue
        name = str(part)
        info = model.model_fields.get(name) if model is not None else None
        described = info.description.split(",")[0].strip() if info and info.description else ""
        # a command's field by the pages' label; a record's by its own description (a
        # record's ``measure`` is a 处罚措施, the command prevent's a 预防措施)
        own = (described, labels.get(name)) if words else (labels.get(name), described)
        words.append(next((w for w in own if w), name))
        model = _record_type(_unwrap(info.annotation)[0]) if info is not None else None
    return "·".join(words) or "表单"


def zh_reason(error: Mapping[str, Any]) -> str:
    """Why a value was refused, in zh-CN for the common pydantic error types (with their
    limits), else pydantic's own message (a validator's, without its "Value error, ")."""
    words = _REASONS.get(str(error.get("type", "")))
    if words is not None:
        try:
            return words.format(**error.get("ctx", {}))
        except (KeyError, IndexError):
            pass
    return str(error.get("msg", "")).removeprefix("Value error, ")


def zh_errors(errors: Sequence[Mapping[str, Any]], model: type[BaseModel] | None = None) -> str:
    """Pydantic's errors as one zh-CN line: 位置：原因；… (the request's own ``body``/``query``
    prefix left out)."""
    return "；".join(
        f"{zh_location([p for p in e.get('loc', ()) if p not in ('body', 'query')], model)}："
        f"{zh_reason(e)}"
        for e in errors
    )


def refused_fields(exc: FieldErrors, model: type[BaseModel]) -> str:
    """A command's bad input in zh-CN: from the validation it came from when there was one,
    else (a rule across fields) each field's label and the rule's reason."""
    if isinstance(exc.__cause__, ValidationError):
        return zh_errors(exc.__cause__.errors(include_url=False), model)
    return "；".join(
        f"{zh_location(e['field'].split('.'), model) if e['field'] != 'body' else '表单'}："
        f"{e['reason']}"
        for e in exc.errors
    )


def offered_commands(staff: Staff, state: State) -> list[str]:
    """The commands whose form this member of staff gets: those of their role
    (``permissions.ALLOWED``) for the office that may give each now (``acting_office``). The
    decider, which has no list of what a state allows, refuses the rest with its reason."""
    return [
        name
        for name in COMMAND_TITLES
        if may_give(staff.role, name) and staff.may_see_office(acting_office(name, state) or "")
    ]


# --------------------------------------------------------------------------------------------
# pages
# --------------------------------------------------------------------------------------------


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
    clocks, clocks_problem = await _clocks(request, complaint_id)
    deliveries, deliveries_problem = await _notifications(request, complaint_id)
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
            if k not in _HIDDEN_DATA and v not in (None, "", [], {})
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


async def _from_sla(request: Request, path: str) -> tuple[Any, str]:
    """``GET path`` of the SLA service asked with the staff's own token: its JSON, or ``None``
    and why not in zh-CN (the page renders either way)."""
    base = request.app.state.settings.sla_base_url
    if base is None:
        return None, "时限服务未配置（COMPLAINTS_SLA_URL），暂无法显示。"
    token = _token(request)
    try:
        async with httpx.AsyncClient(timeout=SLA_TIMEOUT_S) as client:
            resp = await client.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return None, f"时限服务暂不可用（{type(exc).__name__}），暂无法显示。"
    if resp.status_code != 200:
        return None, clocks_problem(resp.status_code)
    return resp.json(), ""


async def _clocks(request: Request, complaint_id: UUID) -> tuple[list[dict[str, Any]], str]:
    """The complaint's clocks from the SLA service, or none and why not."""
    answer, problem = await _from_sla(request, f"/v1/complaints/{complaint_id}/sla")
    if answer is None:
        return [], problem
    clocks = []
    for clock in answer.get("clocks", []):
        ended = clock.get("ended_at")
        remaining = clock.get("remaining_s")
        clocks.append(
            {
                "timer": clock.get("timer", ""),
                "target": clock.get("target", ""),
                "state": CLOCK_STATES.get(clock.get("state", ""), clock.get("state", "")),
                "breached": clock.get("state") == "breached",
                "started": local(clock.get("started_at")),
                "deadline": local(clock.get("deadline")),
                "ended": local(ended),
                "left": span(remaining) if remaining is not None and not ended else "",
            }
        )
    return clocks, ""


DELIVERY_STATES = {
    "pending": "待发送",
    "retrying": "重试中",
    "delivered": "已送达",
    "dead": "已放弃（可用 complaints notifications retry 重发）",
}
"""The notifier's delivery states (``services.sla.notifier``) in zh-CN."""


async def _notifications(request: Request, complaint_id: UUID) -> tuple[list[dict[str, Any]], str]:
    """Who was told of the complaint's warnings, breaches, escalations and major flag (group
    robots), and how each delivery stands, from the SLA service's notifier; or none and why."""
    answer, problem = await _from_sla(request, f"/v1/complaints/{complaint_id}/notifications")
    if answer is None:
        return [], problem
    return [
        {
            "alert": d.get("alert_label", d.get("alert_kind", "")),
            "title": d.get("title", ""),
            "target": d.get("target", ""),
            "target_kind": {"wecom": "企业微信", "dingtalk": "钉钉"}.get(
                d.get("target_kind", ""), d.get("target_kind", "")
            ),
            "state": DELIVERY_STATES.get(d.get("state", ""), d.get("state", "")),
            "failed": d.get("state") == "dead",
            "attempts": d.get("attempts", 0),
            "last_error": d.get("last_error") or "",
            "delivered": local(d.get("delivered_at")),
            "alert_at": local(d.get("alert_at")),
        }
        for d in answer.get("deliveries", [])
    ], ""


def clocks_problem(status_code: int) -> str:
    """Why the SLA service's answer ``status_code`` shows no clocks, in zh-CN: a 401/403 is
    not an outage but the SLA service's own view of who may read the complaint (it lags an
    office transfer, or has not taken in the complaint's office yet)."""
    if status_code == 404:
        return "时限服务尚未收到此投诉，请稍后刷新。"
    if status_code in (401, 403):
        return "本岗位无权查看此投诉的时限（转办中或尚未同步）。"
    return f"时限服务暂不可用（HTTP {status_code}），暂无法显示时限。"


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE, "")


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

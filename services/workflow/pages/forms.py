"""Command forms, made from the commands' own fields, and refusals in zh-CN."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from services.runtime.auth import Staff
from services.runtime.http import FieldErrors
from services.workflow.commands import Command
from services.workflow.domain import State
from services.workflow.pages.labels import COMMAND_TITLES, FIELD_LABELS, as_shanghai, enum_label
from services.workflow.permissions import acting_office, may_give


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
        options = [(str(m.value), enum_label(m)) for m in inner]
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

"""A console page asked with bad input: the page's form again, with what is wrong in zh-CN.

The JSON API answers bad input with problem details (``services.runtime.http``); a person at
the console gets instead, status 422, the form of the page they came from (the monthly report's
for the report and its lists, the dashboard's for the dashboard and its lists), filled with
what they sent, and one line per bad field naming it in zh-CN (``problems``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.reporting.drilldown import Picker, local_input
from services.runtime.http import FieldErrors

FIELD_LABELS: dict[str, str] = {
    "month": "月份",
    "from": "起始日期",
    "to": "截止日期",
    "office": "管理处",
    "as_of": "数据截至",
    "figure": "统计项",
    "page": "页码",
    "page_size": "每页条数",
    "sheet": "工作表",
}
"""The console's query fields as its forms and pages name them."""

PageKind = Literal["monthly", "dashboard"]


@dataclass(frozen=True)
class Problem:
    """One bad field: its name in the query, its zh-CN name and what is wrong with it."""

    field: str
    label: str
    message: str


class ConsoleFieldError(FieldErrors):
    """A 422 naming ``field``: ``reason`` for the JSON API, ``message`` (zh-CN) for a page."""

    def __init__(self, field: str, reason: str, message: str) -> None:
        super().__init__([{"field": field, "reason": reason}])
        self.field, self.message = field, message


def _problem(field: str, message: str) -> Problem:
    return Problem(field=field, label=FIELD_LABELS.get(field, field), message=message)


def _message(field: str, kind: str, context: Mapping[str, Any]) -> str:
    """What a pydantic error of ``kind`` on the query ``field`` means, in zh-CN."""
    if kind.startswith("date_"):
        return "不是有效的日期（应为 年-月-日，如 2025-03-01）"
    if kind.startswith("datetime_"):
        return "不是有效的时间（应为 年-月-日T时:分:秒，北京时间）"
    if kind == "string_pattern_mismatch":
        if field == "month":
            return "不是有效的月份（应为 年-月，如 2025-03）"
        return "含有控制字符等不允许的字符"
    if kind == "string_too_short":
        return "不能为空"
    if kind == "string_too_long":
        return f"不能超过{context.get('max_length')}个字符"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "应为整数"
    if kind == "greater_than_equal":
        return f"不能小于{context.get('ge')}"
    if kind == "less_than_equal":
        return f"不能大于{context.get('le')}"
    if kind == "missing":
        return "必须填写"
    if kind in ("literal_error", "enum"):
        return "不是可选的值"
    return "输入无效"


def validation_problems(errors: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """FastAPI's query validation errors as zh-CN problems, one per field and reason."""
    found: list[Problem] = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("query", "path")]
        field = ".".join(loc) or "query"
        problem = _problem(
            field, _message(field, str(error.get("type", "")), error.get("ctx") or {})
        )
        if problem not in found:
            found.append(problem)
    return found


def field_problems(exc: FieldErrors) -> list[Problem]:
    """A ``FieldErrors`` as zh-CN problems (a ``ConsoleFieldError`` says its own message)."""
    if isinstance(exc, ConsoleFieldError):
        return [_problem(exc.field, exc.message)]
    return [_problem(e["field"], "输入无效") for e in exc.errors]


def form_values(kind: PageKind, query: Mapping[str, str]) -> dict[str, str | None]:
    """What the page's form shows: the fields as sent (an ``as_of`` as a datetime-local input
    shows it, China time, when it can be read), ``office`` ``None`` for the whole company."""
    as_of = query.get("as_of", "")
    try:
        as_of = local_input(datetime.fromisoformat(as_of)) if as_of else ""
    except ValueError:
        pass
    values: dict[str, str | None] = {"office": query.get("office") or None, "as_of": as_of}
    if kind == "monthly":
        values.update(
            month=query.get("month", ""),
            period_from=query.get("from", ""),
            period_to=query.get("to", ""),
        )
    return values


_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_invalid_html(
    kind: PageKind, *, picker: Picker, query: Mapping[str, str], problems: Iterable[Problem]
) -> str:
    """The page of ``kind``'s form filled with ``query``, and the ``problems`` (zh-CN)."""
    return _ENV.get_template("invalid.html").render(
        kind=kind,
        title="客户投诉工作月报" if kind == "monthly" else "投诉实时看板",
        picker=picker,
        values=form_values(kind, query),
        problems=list(problems),
    )

"""Bad input on a console page (issue 17.3, review): the zh-CN message naming each field, and
the page's form again filled with what was sent."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import TypeAdapter, ValidationError

from services.reporting.drilldown import Picker
from services.reporting.invalid import (
    ConsoleFieldError,
    field_problems,
    render_invalid_html,
    validation_problems,
)


def errors_of(kind: object, value: str, field: str) -> list[dict[str, object]]:
    try:
        TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        return [{**e, "loc": ("query", field)} for e in exc.errors()]
    raise AssertionError("valid")


@pytest.mark.parametrize(
    ("kind", "value", "field", "expected"),
    [
        (date, "2025-02-30", "from", "起始日期：不是有效的日期"),
        (date, "tomorrow", "to", "截止日期：不是有效的日期"),
        (int, "x", "page", "页码：应为整数"),
    ],
)
def test_a_bad_value_is_named_in_zh_cn(kind: object, value: str, field: str, expected: str) -> None:
    [problem] = validation_problems(errors_of(kind, value, field))
    assert f"{problem.label}：{problem.message}".startswith(expected)


def test_range_and_pattern_errors_say_the_limit() -> None:
    problems = validation_problems(
        [
            {"loc": ("query", "page_size"), "type": "less_than_equal", "ctx": {"le": 500}},
            {"loc": ("query", "month"), "type": "string_pattern_mismatch", "ctx": {}},
            {"loc": ("query", "office"), "type": "string_too_long", "ctx": {"max_length": 50}},
        ]
    )
    assert [(p.label, p.message) for p in problems] == [
        ("每页条数", "不能大于500"),
        ("月份", "不是有效的月份（应为 年-月，如 2025-03）"),
        ("管理处", "不能超过50个字符"),
    ]


def test_the_form_comes_back_as_sent_with_the_message() -> None:
    error = ConsoleFieldError(
        "from", "the period starts after it ends", "晚于截止日期（2025-04-10）"
    )
    assert error.errors == [{"field": "from", "reason": "the period starts after it ends"}]
    page = render_invalid_html(
        "monthly",
        picker=Picker(offices=("甲苑", "乙园"), company=True),
        query={"from": "2025-04-20", "to": "2025-04-10", "office": "乙园", "as_of": "<b>"},
        problems=field_problems(error),
    )
    assert '<li data-field="from"><b>起始日期</b>：晚于截止日期（2025-04-10）</li>' in page
    assert 'name="from" value="2025-04-20"' in page and 'name="to" value="2025-04-10"' in page
    assert '<option value="乙园" selected>' in page
    assert "&lt;b&gt;" in page and 'value="<b>"' not in page  # escaped
    board = render_invalid_html(
        "dashboard",
        picker=Picker(offices=("甲苑",), company=False),
        query={"as_of": "2025-04-10T08:00:00+00:00"},
        problems=[],
    )
    assert 'id="dashboard-form"' in board and 'value="2025-04-10T16:00:00"' in board

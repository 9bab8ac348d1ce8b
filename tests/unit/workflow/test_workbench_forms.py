"""The workbench's command forms are made from the commands' own fields: every field gets an
input, and a posted form becomes the body the command validates."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from contracts.lifecycle import Actor, Role
from services.runtime.http import FieldErrors, field_errors
from services.workflow.commands import (
    COMMANDS,
    AssignDepartment,
    Command,
    ImplementPlan,
    RecordRevisit,
)
from services.workflow.pages import (
    as_shanghai,
    clocks_problem,
    command_fields,
    form_payload,
    refused_fields,
    span,
)

ACTOR = {"actor": Actor(staff_id="a", role=Role.CS_HEAD).model_dump()}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_field_of_every_command_has_an_input(name: str) -> None:
    command = COMMANDS[name]
    inputs = {f.name for f in command_fields(command)}
    assert inputs == set(command.model_fields) - {"actor"}


def test_a_local_time_is_read_as_shanghai_and_blanks_take_the_default() -> None:
    body = form_payload(
        AssignDepartment,
        {"department": "环境部", "deadline": "2026-12-08T18:00", "note": " ", "x": "ignored"},
    )
    assert body == {"department": "环境部", "deadline": "2026-12-08T18:00:00+08:00"}
    assigned = AssignDepartment.model_validate({**body, **ACTOR})
    assert assigned.deadline == datetime.fromisoformat("2026-12-08T10:00:00+00:00")
    assert assigned.note == ""


def test_records_are_one_a_line() -> None:
    body = form_payload(
        ImplementPlan,
        {
            "plan_id": "2",
            "summary": "已完成",
            "accountability": "张三｜扣罚绩效｜巡查遗漏\n\n李四|警告|迟到",
        },
    )
    done = ImplementPlan.model_validate({**body, **ACTOR})
    assert [(r.person, r.measure, r.reason) for r in done.accountability] == [
        ("张三", "扣罚绩效", "巡查遗漏"),
        ("李四", "警告", "迟到"),
    ]
    short = form_payload(ImplementPlan, {"plan_id": "2", "summary": "x", "accountability": "张三"})
    with pytest.raises(ValidationError, match=r"accountability\.0\.measure"):
        ImplementPlan.model_validate({**short, **ACTOR})


def test_a_revisit_form_left_blank_says_what_is_missing() -> None:
    body = form_payload(RecordRevisit, {"reached": "true", "satisfied": ""})
    with pytest.raises(ValidationError, match="回访满意与否"):
        RecordRevisit.model_validate({**body, **ACTOR})


def test_time_left_and_past() -> None:
    assert span(2 * 86400 + 3 * 3600 + 5 * 60 + 59) == "剩余2天3小时5分"
    assert span(-(45 * 60)) == "已超时45分"


def test_a_time_keeps_its_offset_and_gains_shanghais_without_one() -> None:
    assert as_shanghai("2026-12-08T18:00") == "2026-12-08T18:00:00+08:00"
    assert as_shanghai("2026-12-08T18:00-05:00") == "2026-12-08T18:00:00-05:00"
    assert as_shanghai("tomorrow") == "tomorrow"


def _refusal(command_type: type[Command], form: dict[str, str]) -> str:
    """A form's refusal as the page words it, the error raised as ``Workbench.give`` does."""
    try:
        command_type.model_validate({**form_payload(command_type, form), **ACTOR})
    except ValidationError as exc:
        try:
            raise FieldErrors(field_errors(exc.errors())) from exc
        except FieldErrors as refused:
            return refused_fields(refused, command_type)
    raise AssertionError("the form was valid")


def test_refusals_are_worded_in_chinese_with_nested_places_named() -> None:
    words = _refusal(
        ImplementPlan, {"plan_id": "abc", "summary": "x" * 4001, "accountability": "张三"}
    )
    assert "方案编号：须为整数" in words
    assert "处理结果：最多" in words and "个字" in words
    assert "责任追究第1行·处罚措施：必填" in words
    assert "责任追究第1行·理由：必填" in words
    assert "Input should" not in words and "Field required" not in words
    assert _refusal(RecordRevisit, {"reached": "maybe"}).startswith("联系上业主：须为“是”或“否”")
    deadline = _refusal(AssignDepartment, {"department": "环境部", "deadline": "明天"})
    assert deadline == "限期：不是有效的日期时间（如 2026-12-08 18:00）"
    close = _refusal(COMMANDS["close"], {"outcome": "whatever"})
    assert "关闭方式：不是可选的值" in close


def test_a_rule_across_fields_keeps_its_reason_under_its_label() -> None:
    refused = FieldErrors([{"field": "until", "reason": "must be in the future"}])
    assert refused_fields(refused, COMMANDS["suspend"]) == "恢复时间：must be in the future"


def test_a_refusal_of_the_sla_service_is_not_called_an_outage() -> None:
    for status in (401, 403):
        assert clocks_problem(status) == "本岗位无权查看此投诉的时限（转办中或尚未同步）。"
    assert "HTTP 503" in clocks_problem(503)
    assert "尚未收到" in clocks_problem(404)

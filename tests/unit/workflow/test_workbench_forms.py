"""The workbench's command forms are made from the commands' own fields: every field gets an
input, and a posted form becomes the body the command validates."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from contracts.lifecycle import Actor, Role
from services.workflow.commands import COMMANDS, AssignDepartment, ImplementPlan, RecordRevisit
from services.workflow.pages import as_shanghai, command_fields, form_payload, span

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

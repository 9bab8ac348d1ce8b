"""Lifecycle events whose payload changed (issue 15): the published v1s are read forever,
upcast to the newest shape with the meaning they had when they were written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import decode_event, encode_event, new_envelope
from contracts.enums import Priority
from contracts.envelope import EventData, decode_logged
from contracts.lifecycle import (
    Actor,
    CloseOutcome,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintOfficeTransferred,
    ComplaintSentBack,
    ComplaintTransferred,
    DepartmentAssigned,
    MajorComplaintFlagged,
    MajorComplaintFlaggedV1,
    MajorComplaintUnflagged,
    MajorRule,
    OfficeTransferRequested,
    OwnerReplied,
    Role,
    scheduled_resume_id,
)

STORED = Path(__file__).parent / "stored_events"


def stored(name: str) -> tuple[int, object]:
    envelope, data = decode_event((STORED / name).read_bytes())
    return envelope.schema_version, data


def test_a_v1_judgment_is_read_as_a_normal_priority_one() -> None:
    version, data = stored("ComplaintJudged.v1.json")
    assert version == 1 and isinstance(data, ComplaintJudged)
    assert (data.validity.value, data.priority) == ("valid", Priority.NORMAL)


def test_a_v1_reply_kept_the_open_promise_as_every_reply_did_then() -> None:
    # So a rebuild of the SLA clocks from the log gives the same promise verdicts as before.
    version, data = stored("OwnerReplied.v1.json")
    assert version == 1 and isinstance(data, OwnerReplied)
    assert (data.final, data.fulfils_commitment) == (True, True)


def test_a_v1_close_was_a_satisfied_one() -> None:
    version, data = stored("ComplaintClosed.v1.json")
    assert version == 1 and isinstance(data, ComplaintClosed)
    assert (data.outcome, data.reason, data.note) == (CloseOutcome.SATISFIED, "", "回访满意，存档")


def test_scheduled_resume_id_is_the_same_for_the_same_suspension_and_instant() -> None:
    cid = uuid.uuid4()
    until = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    same = scheduled_resume_id(cid, 1, until.astimezone(UTC))
    assert scheduled_resume_id(cid, 1, until) == same
    assert scheduled_resume_id(cid, 2, until) != same
    assert scheduled_resume_id(cid, 1, until + timedelta(minutes=1)) != same
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduled_resume_id(cid, 1, until.replace(tzinfo=None))


def test_a_v2_close_had_no_closing_evaluation() -> None:
    version, data = stored("ComplaintClosed.v2.json")
    assert version == 2 and isinstance(data, ComplaintClosed)
    assert (data.outcome, data.summary) == (CloseOutcome.UNSATISFIED, "")
    assert data.reason == "业主坚持要求赔偿，已尽合理努力"


def test_a_v1_assignment_had_no_helper_department() -> None:
    version, data = stored("DepartmentAssigned.v1.json")
    assert version == 1 and isinstance(data, DepartmentAssigned)
    assert (data.department, data.helper_department) == ("工程部", None)


def test_a_v1_major_flag_was_a_rule_s_not_a_person_s() -> None:
    version, data = stored("MajorComplaintFlagged.v1.json")
    assert version == 1 and isinstance(data, MajorComplaintFlagged)
    assert (data.rule, data.actor) == (MajorRule.REPEAT_OWNER, None)


def test_the_published_v1_major_rules_stay_as_they_were() -> None:
    # MajorRule grew ``category`` and ``manual``; the v1 schema lists the three of its time.
    v1 = MajorComplaintFlaggedV1.model_json_schema()["$defs"]["MajorRule"]["enum"]
    assert v1 == ["over_the_head", "repeat_owner", "repeat_unit"]
    with pytest.raises(ValidationError, match="rule"):
        MajorComplaintFlaggedV1.model_validate({"rule": "manual", "reason": "x"})
    assert {rule.value for rule in MajorRule} == set(v1) | {"category", "manual"}


def test_new_members_carry_their_zh_cn_labels() -> None:
    assert (MajorRule.CATEGORY.label, MajorRule.MANUAL.label) == ("重大投诉类别", "人工认定")


ACTOR = Actor(staff_id="P001", role=Role.PROJECT_MANAGER)


@pytest.mark.parametrize(
    "data",
    [
        ComplaintTransferred(
            actor=ACTOR,
            from_department="工程部",
            to_department="秩序维护部",
            reason="门禁归秩序维护部",
            deadline=datetime(2026, 1, 9, 18, tzinfo=UTC),
            helper_department="工程部",
        ),
        ComplaintSentBack(
            actor=Actor(staff_id="D001", role=Role.DEPARTMENT),
            department="工程部",
            reason="非本部门",
        ),
        OfficeTransferRequested(actor=ACTOR, to_office="X苑", reason="该楼栋已划归X苑"),
        ComplaintOfficeTransferred(
            actor=ACTOR, from_office="Y园", to_office="X苑", reason="该楼栋已划归X苑"
        ),
        MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="媒体关注", actor=ACTOR),
        MajorComplaintUnflagged(actor=ACTOR, reason="经核实非重大"),
        ComplaintClosed(actor=ACTOR, summary="处理及时，业主满意"),
    ],
    ids=lambda data: type(data).__name__,
)
def test_the_new_facts_round_trip_through_the_log(data: EventData) -> None:
    envelope = new_envelope(
        data,
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        source="t",
    )
    assert decode_event(encode_event(envelope))[1] == data
    assert decode_logged(encode_event(envelope)).data == data.model_dump(mode="json")


@pytest.mark.parametrize(
    ("cls", "fields", "bad"),
    [
        (ComplaintTransferred, {"from_department": "工程部", "reason": "x"}, "to_department"),
        (ComplaintSentBack, {"department": "工程部", "reason": " "}, "reason"),
        (OfficeTransferRequested, {"to_office": "", "reason": "x"}, "to_office"),
        (ComplaintClosed, {"summary": "很" * 2001}, "summary"),
        (MajorComplaintUnflagged, {"reason": ""}, "reason"),
    ],
)
def test_bad_new_facts_are_refused_naming_the_field(
    cls: type[EventData], fields: dict[str, object], bad: str
) -> None:
    with pytest.raises(ValidationError) as info:
        cls.model_validate({"actor": ACTOR.model_dump(), **fields})
    assert {str(e["loc"][0]) for e in info.value.errors()} == {bad}

"""What reporting reads out of each event: statuses, timers, places, service levels."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from contracts import (
    Channel,
    ComplaintReceived,
    Envelope,
    EventData,
    ServiceCategory,
    Validity,
    new_envelope,
)
from contracts.envelope import registered_events
from contracts.intake import Address, ComplaintReceivedV3, Submission
from contracts.lifecycle import (
    Actor,
    Awaiting,
    CauseAnalysed,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintJudged,
    ComplaintMerged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintReopened,
    ComplaintResolvedOnTheSpot,
    ComplaintResumed,
    ComplaintSentBack,
    ComplaintSuspended,
    ComplaintTransferred,
    ComplaintWithdrawn,
    DepartmentAssigned,
    DepartmentProposed,
    EscalationLevel,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OfficeTransferRequested,
    OwnerNotReached,
    OwnerReplied,
    PlanApproved,
    PlanImplemented,
    PlanRejected,
    PreventiveMeasureRecorded,
    ResolutionProposed,
    RevisitRecorded,
    Role,
    TimeCommitted,
)
from contracts.sla import SlaBreached, SlaWarning
from services.reporting.domain import (
    ENDED_STATUSES,
    STATUS_AFTER,
    STATUS_LABELS,
    TIMERS,
    Effect,
    ServiceLevelFacts,
    building_of,
    event_fact,
    normalise_place,
    place_of,
    service_levels,
    timer_effects,
)
from services.workflow.domain import State, Status, evolve

ACTOR = Actor(staff_id="A001", role=Role.CS_AGENT)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POLICY = Path("services/sla/policy.yaml")


def received(unit: str = "3栋1单元502", subject: str = "高空抛物") -> ComplaintReceived:
    """A receipt as consumers read it (the newest version; in clear, as version 3 wrote it)."""
    in_clear = ComplaintReceivedV3.from_submission(
        Channel.HOTLINE,
        Submission.model_validate(
            {
                "submission_id": "call-1",
                "office": "Y园",
                "unit": unit,
                "complainant": {"name": "何先生", "phone": "13812345678"},
                "subject": subject,
                "description": "楼上抛物",
                "occurred_at": NOW.isoformat(),
            }
        ),
    )
    return ComplaintReceived.model_validate(in_clear.model_dump())


SAMPLES: dict[str, EventData] = {
    "ComplaintReceived": received(),
    "ComplaintAcknowledged": ComplaintAcknowledged(actor=ACTOR),
    "ComplaintJudged": ComplaintJudged(
        actor=ACTOR, validity=Validity.VALID, category=ServiceCategory.SECURITY
    ),
    "DepartmentProposed": DepartmentProposed(department="安保部", reason="routing rule"),
    "DepartmentAssigned": DepartmentAssigned(
        actor=ACTOR, department="安保部", deadline=NOW + timedelta(days=2), reason="manual"
    ),
    "CauseAnalysed": CauseAnalysed(actor=ACTOR, cause="监控缺失", responsible_party="安保部"),
    "ResolutionProposed": ResolutionProposed(actor=ACTOR, plan_id=1, plan="加装摄像头"),
    "PlanApproved": PlanApproved(actor=ACTOR, plan_id=1),
    "PlanRejected": PlanRejected(actor=ACTOR, plan_id=1, reason="费用过高"),
    "PlanImplemented": PlanImplemented(actor=ACTOR, plan_id=1, summary="已安装"),
    "OwnerReplied": OwnerReplied(actor=ACTOR, message="已处理", final=True),
    "TimeCommitted": TimeCommitted(
        actor=ACTOR, promised_at=NOW + timedelta(days=1), message="明日答复"
    ),
    "RevisitRecorded": RevisitRecorded(actor=ACTOR, visit_no=1, satisfied=False),
    "ComplaintClosed": ComplaintClosed(actor=ACTOR),
    "ComplaintReopened": ComplaintReopened(actor=ACTOR, reason="不满意"),
    "PreventiveMeasureRecorded": PreventiveMeasureRecorded(actor=ACTOR, measure="每日巡查"),
    "MajorComplaintFlagged": MajorComplaintFlagged(rule=MajorRule.REPEAT_UNIT, reason="7天内2次"),
    "ComplaintEscalated": ComplaintEscalated(
        level=EscalationLevel.CS_HEAD, reason="超时", timer="reply", deadline=NOW
    ),
    "ComplaintWithdrawn": ComplaintWithdrawn(actor=ACTOR, reason="业主撤诉"),
    "ComplaintRejudged": ComplaintRejudged(
        actor=ACTOR,
        validity=Validity.ASSIST,
        category=ServiceCategory.SECURITY,
        previous_validity=Validity.VALID,
        previous_category=ServiceCategory.SECURITY,
        reason="复核：邻里纠纷",
    ),
    "ComplaintResolvedOnTheSpot": ComplaintResolvedOnTheSpot(
        actor=ACTOR, summary="当场更换门禁卡", revisit=True
    ),
    "ComplaintSuspended": ComplaintSuspended(
        actor=ACTOR, suspension_no=1, awaiting=Awaiting.DEVELOPER, reason="开发商要求暂缓"
    ),
    "ComplaintResumed": ComplaintResumed(actor=ACTOR, suspension_no=1),
    "OwnerNotReached": OwnerNotReached(actor=ACTOR, attempt_no=1),
    "ComplaintMerged": ComplaintMerged(actor=ACTOR, into_complaint_id=uuid.uuid4()),
    "MajorComplaintUnflagged": MajorComplaintUnflagged(actor=ACTOR, reason="经核实不属重大投诉"),
    "ComplaintTransferred": ComplaintTransferred(
        actor=ACTOR, from_department="安保部", to_department="工程部", reason="属设备问题"
    ),
    "ComplaintSentBack": ComplaintSentBack(actor=ACTOR, department="安保部", reason="非本部门"),
    "OfficeTransferRequested": OfficeTransferRequested(
        actor=ACTOR, to_office="G小城", reason="该楼栋已移交G小城"
    ),
    "ComplaintOfficeTransferred": ComplaintOfficeTransferred(
        actor=ACTOR, from_office="Y园", to_office="G小城", reason="该楼栋已移交G小城"
    ),
    "SlaWarning": SlaWarning(timer="reply", deadline=NOW, target="答复业主：1个工作日", share=0.8),
    "SlaBreached": SlaBreached(timer="reply", deadline=NOW, hard=True),
}


def envelope_of(data: EventData) -> tuple[Envelope, EventData]:
    envelope = new_envelope(
        data,
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=NOW,
        recorded_at=NOW + timedelta(seconds=1),
        source="test",
    )
    return envelope, data


def test_every_lifecycle_and_sla_event_type_has_a_sample_here() -> None:
    # A new event of a complaint's life must be looked at: does it move the status, or a timer?
    of_a_complaint = {
        event_type
        for (event_type, _), cls in registered_events().items()
        if cls.__module__.startswith(("contracts.lifecycle", "contracts.sla"))
    }
    assert of_a_complaint | {"ComplaintReceived"} == set(SAMPLES)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_status_after_each_event_is_the_workflows(event_type: str) -> None:
    start = Status.NEW if event_type == "ComplaintReceived" else Status.ANALYSED
    after = evolve(State(status=start), SAMPLES[event_type]).status
    assert STATUS_AFTER.get(event_type, start.value) == after.value


def test_every_status_has_a_zh_cn_label_and_the_ended_ones_are_the_workflows() -> None:
    assert set(STATUS_LABELS) == {s.value for s in Status} - {"new"}
    assert set(ENDED_STATUSES) == {"closed", "withdrawn", "merged"}


def test_timers_are_those_of_the_sla_policy() -> None:
    policy = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    assert {
        name: (
            rule.label,
            set(rule.starts_on),
            set(rule.stops_on),
            dict(rule.where),
            rule.deadline_from,
        )
        for name, rule in TIMERS.items()
    } == {
        name: (
            timer["label"],
            set(timer["starts_on"]),
            set(timer["stops_on"]),
            timer.get("where", {}),
            timer.get("deadline_from"),
        )
        for name, timer in policy["timers"].items()
    }
    # closing, withdrawing or merging ends every timer: reporting reads that from the status
    cancels = {STATUS_AFTER[t] for t in policy["cancels_on"]}
    assert cancels == set(ENDED_STATUSES)


@pytest.mark.parametrize(
    ("event_type", "effects"),
    [
        ("ComplaintReceived", {("first_response", Effect.START), ("reply", Effect.START)}),
        (
            "ComplaintAcknowledged",
            {("first_response", Effect.STOP), ("assignment", Effect.START)},
        ),
        ("TimeCommitted", {("reply", Effect.STOP), ("promise", Effect.START)}),
        # the sample's reply does not say it fulfils a promise: the promise runs on
        ("OwnerReplied", {("reply", Effect.STOP)}),
        (
            "PlanImplemented",
            {("department", Effect.STOP), ("revisit", Effect.START), ("rework", Effect.STOP)},
        ),
        (
            "ComplaintReopened",
            {("reply", Effect.START), ("rework", Effect.START), ("close", Effect.STOP)},
        ),
        ("SlaWarning", {("reply", Effect.WARNING)}),
        ("SlaBreached", {("reply", Effect.BREACH)}),
        ("CauseAnalysed", set()),
    ],
)
def test_timer_effects_of_each_event(event_type: str, effects: set[tuple[str, Effect]]) -> None:
    assert set(timer_effects(SAMPLES[event_type])) == effects


def test_event_fact_keeps_what_the_reports_need() -> None:
    judged = event_fact(*envelope_of(SAMPLES["ComplaintJudged"]))
    assert (judged.status, judged.validity, judged.category) == ("judged", "valid", "security")
    assert judged.recorded_at == NOW + timedelta(seconds=1) and judged.occurred_at == NOW
    breached = event_fact(*envelope_of(SAMPLES["SlaBreached"]))
    assert (breached.status, breached.timer, breached.hard) == (None, "reply", True)
    revisit = event_fact(*envelope_of(SAMPLES["RevisitRecorded"]))
    assert (revisit.status, revisit.satisfied) == ("revisited", False)
    invalid = event_fact(*envelope_of(ComplaintJudged(actor=ACTOR, validity=Validity.INVALID)))
    assert (invalid.validity, invalid.category) == ("invalid", None)


def test_event_fact_keeps_the_facts_of_issue_15() -> None:
    judged = event_fact(
        *envelope_of(ComplaintJudged(actor=ACTOR, validity=Validity.VALID, priority="urgent"))
    )
    assert judged.priority == "urgent"
    rejudged = event_fact(*envelope_of(SAMPLES["ComplaintRejudged"]))
    assert (rejudged.status, rejudged.validity, rejudged.category) == (None, "assist", "security")
    assert json.loads(rejudged.detail or "") == {"reason": "复核：邻里纠纷"}
    moved = event_fact(*envelope_of(SAMPLES["ComplaintOfficeTransferred"]))
    assert (moved.status, moved.office) == (None, "G小城")
    closed = event_fact(
        *envelope_of(
            ComplaintClosed(
                actor=ACTOR, outcome="unsatisfied", reason="业主不接受", summary="已尽力协调"
            )
        )
    )
    assert (closed.status, closed.outcome) == ("closed", "unsatisfied")
    assert json.loads(closed.detail or "") == {"summary": "已尽力协调", "reason": "业主不接受"}
    implemented = event_fact(
        *envelope_of(
            PlanImplemented(
                actor=ACTOR,
                plan_id=1,
                summary="已整改",
                accountability=[{"person": "张三", "measure": "扣罚绩效", "reason": "迟到"}],
            )
        )
    )
    assert json.loads(implemented.detail or "")["accountability"] == [
        {"person": "张三", "measure": "扣罚绩效", "reason": "迟到"}
    ]
    assert event_fact(*envelope_of(SAMPLES["CauseAnalysed"])).detail is None


@pytest.mark.parametrize(
    ("unit", "building"),
    [
        ("3栋1单元502", "3栋"),
        ("３栋 1单元502", "3栋"),
        ("B区12幢301", "B区12幢"),
        ("5号楼2单元301", "5号楼"),
        ("a座1203", "A座"),
        ("12楼1203", None),  # 楼 alone is a floor
        ("别墅区18号", None),
    ],
)
def test_building_is_the_unit_up_to_its_first_building_word(
    unit: str, building: str | None
) -> None:
    assert building_of(unit) == building


@pytest.mark.parametrize(
    "unit", ["3栋1单元502", "12幢2单元1101室", "A座1603", "5号楼302", "十栋3单元201", "7栋"]
)
def test_building_rule_agrees_with_the_contracts_address_where_both_read_one(unit: str) -> None:
    named = Address.parse(unit).building
    assert named is not None and building_of(unit) == normalise_place(named)


def test_the_address_named_in_the_event_comes_first() -> None:
    event = received(unit="B区12幢301")
    assert event.address.building is None  # the contract's parser leaves this one alone
    assert place_of(event).building == "B区12幢"
    renamed = event.model_copy(update={"address": Address(building="9栋")})
    assert place_of(renamed).building == "9栋"


def test_place_keys_ignore_spacing_and_full_width_forms() -> None:
    place = place_of(received(unit=" ３栋 1单元 502 ", subject=" 地漏  堵塞 "))
    assert (place.unit_key, place.building, place.topic) == ("3栋1单元502", "3栋", "地漏 堵塞")
    assert normalise_place("3栋1单元502") == place.unit_key


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # acknowledged, fr breached, replied, reply breached, hard breached
        ((False, False, False, False, False), (None, None, None)),
        ((True, False, True, False, False), (True, True, True)),
        ((True, True, False, False, False), (False, None, None)),
        ((False, True, False, False, False), (False, None, None)),
        ((True, False, True, True, False), (True, False, True)),
        ((True, False, False, True, False), (True, False, None)),
        ((True, False, True, False, True), (True, False, False)),  # hard implies the target
        ((True, False, True, True, True), (True, False, False)),
    ],
)
def test_service_levels_come_from_the_sla_events(
    facts: tuple[bool, bool, bool, bool, bool], expected: tuple[bool | None, ...]
) -> None:
    levels = service_levels(ServiceLevelFacts(*facts))
    assert (
        levels.first_response_within_30min,
        levels.replied_within_1_day,
        levels.replied_within_3_days,
    ) == expected


def test_conditions_of_the_policy_decide_an_events_effect() -> None:
    replied = SAMPLES["OwnerReplied"]
    fulfilling = replied.model_copy(update={"fulfils_commitment": True})
    assert ("promise", Effect.STOP) in timer_effects(fulfilling)
    judged = SAMPLES["ComplaintJudged"]
    invalid = judged.model_copy(update={"validity": Validity.INVALID})
    assert {("assignment", Effect.STOP), ("conclude", Effect.START)} <= set(timer_effects(invalid))
    assert not {("assignment", Effect.STOP), ("conclude", Effect.START)} & set(
        timer_effects(judged.model_copy(update={"validity": Validity.VALID}))
    )
    transferred = SAMPLES["ComplaintTransferred"]
    keeps = transferred.model_copy(update={"deadline": None})
    assert ("department", Effect.START) not in timer_effects(keeps)
    assert ("department", Effect.START) in timer_effects(
        transferred.model_copy(update={"deadline": SAMPLES["DepartmentAssigned"].deadline})
    )

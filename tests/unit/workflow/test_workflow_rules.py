"""The workflow's automatic rules: routing, major complaints and escalation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from contracts import ComplaintReceived, EventData
from contracts.enums import Channel, ServiceCategory
from contracts.intake import Address
from contracts.lifecycle import (
    Actor,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintEscalated,
    ComplaintWithdrawn,
    EscalationLevel,
    MajorComplaintFlagged,
    MajorRule,
    Role,
)
from services.workflow.domain import (
    DEFAULT_ROUTING_FILE,
    MajorPolicy,
    PriorComplaint,
    State,
    detect_major,
    escalate,
    evolve,
    initial_state,
    load_routing_rules,
    parse_routing_rules,
    route,
)

CHINA = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 3, 4, 9, 30, tzinfo=CHINA)
PHONE = "13812345678"
AGENT = Actor(staff_id="cs-007", role=Role.CS_AGENT)


# ==========================================================================================
# routing
# ==========================================================================================

RULES = load_routing_rules()


def detect_major_of(received: Any, prior: Any, policy: Any) -> Any:
    """``detect_major`` with the owner in clear: these complaints' phones stand for their
    references (the rule compares them only for equality)."""
    return detect_major(received, prior, policy, owner=received.complainant.phone)


def test_checked_in_routing_file_gives_every_office_a_department_for_every_category() -> None:
    for office in [*RULES.offices, "某个没有特别规则的管理处"]:
        for category in ServiceCategory:
            assert route(category, office, RULES).department


def test_checked_in_routing_file_has_rules_for_the_named_offices() -> None:
    assert {"Y园", "G小城", "*湾花园"} <= set(RULES.offices)
    assert DEFAULT_ROUTING_FILE.name == "routing.yaml"


def test_office_rule_wins_over_the_company_default() -> None:
    proposal = route(ServiceCategory.SECURITY, "Y园", RULES)
    assert proposal.department == "安保部"
    assert proposal.reason == "Y园分派规则：安全服务 → 安保部"


def test_category_without_office_rule_falls_back_to_the_company_default() -> None:
    proposal = route(ServiceCategory.FEES, "Y园", RULES)
    assert proposal.department == "财务部"
    assert proposal.reason == "公司默认分派：收费管理 → 财务部"


def test_office_name_starting_with_a_star_is_routed_by_its_own_rules() -> None:
    assert (
        route(ServiceCategory.ENVIRONMENT, "*湾花园", RULES).department == "环境部（保洁绿化外包）"
    )


ONE_LINE_DEFAULT = "\n".join(f"  {c.value}: 客服中心" for c in ServiceCategory)


def test_routing_rules_parse_from_yaml_text() -> None:
    rules = parse_routing_rules(
        f"default:\n{ONE_LINE_DEFAULT}\noffices:\n  X园:\n    fees: 收费组\n"
    )
    assert route(ServiceCategory.FEES, "X园", rules).department == "收费组"
    assert route(ServiceCategory.FEES, "Z园", rules).department == "客服中心"


def test_routing_rules_whose_default_misses_a_category_are_refused() -> None:
    text = "default:\n  facilities: 工程部\n"
    with pytest.raises(ValidationError, match="lacks categories"):
        parse_routing_rules(text)


def test_routing_rules_naming_an_unknown_category_are_refused() -> None:
    with pytest.raises(ValidationError):
        parse_routing_rules(f"default:\n{ONE_LINE_DEFAULT}\n  gardening: 环境部\n")


# ==========================================================================================
# major complaints
# ==========================================================================================

POLICY = MajorPolicy()


def received(
    *,
    at: datetime = NOW,
    channel: Channel = Channel.HOTLINE,
    phone: str = PHONE,
    office: str = "Y园",
    unit: str = "3栋1单元502",
) -> ComplaintReceived:
    """A received complaint with the facts the major rules look at."""
    return ComplaintReceived.model_validate(
        {
            "office": office,
            "unit": unit,
            "address": Address.parse(unit).model_dump(),
            "complainant": {"name": "何先生", "phone": phone},
            "subject": "漏水",
            "description": "楼上漏水到客厅",
            "occurred_at": at,
            "channel": channel,
            "submission_id": "s-1",
        }
    )


def prior(
    days_before: float,
    *,
    phone: str = PHONE,
    unit: str = "3栋1单元502",
    office: str = "Y园",
) -> PriorComplaint:
    """An earlier-recorded complaint, ``days_before`` this one (negative: it happened after)."""
    return PriorComplaint(NOW - timedelta(days=days_before), phone, unit, office)


def test_complaint_through_the_supervision_line_is_major_over_the_head() -> None:
    flagged = detect_major_of(received(channel=Channel.SUPERVISION), [], POLICY)
    assert flagged is not None and flagged.rule is MajorRule.OVER_THE_HEAD
    assert "服务监督热线" in flagged.reason


def test_first_complaint_through_the_office_is_not_major() -> None:
    assert detect_major_of(received(), [], POLICY) is None


def test_second_complaint_of_same_owner_within_7_days_is_major() -> None:
    flagged = detect_major_of(received(unit="5栋201"), [prior(3)], POLICY)
    assert flagged is not None and flagged.rule is MajorRule.REPEAT_OWNER


def test_second_complaint_of_same_unit_within_7_days_is_major() -> None:
    flagged = detect_major_of(received(phone="13900001111"), [prior(3)], POLICY)
    assert flagged is not None and flagged.rule is MajorRule.REPEAT_UNIT
    assert "Y园 3栋1单元502" in flagged.reason


def test_complaint_exactly_7_days_after_the_previous_one_is_still_major() -> None:
    assert detect_major_of(received(), [prior(7)], POLICY) is not None


def test_complaint_more_than_7_days_after_the_previous_one_is_not_major() -> None:
    assert detect_major_of(received(), [prior(7.01)], POLICY) is None


def test_same_unit_number_at_another_office_is_not_a_repeat() -> None:
    earlier = prior(1, phone="13900001111", office="G小城")
    assert detect_major_of(received(phone="13700002222"), [earlier], POLICY) is None


def test_complaints_of_other_owners_in_other_units_do_not_count() -> None:
    others = [
        prior(1, phone="13900001111", unit="1栋101"),
        prior(2, phone="13700002222", unit="2栋"),
    ]
    assert detect_major_of(received(), others, POLICY) is None


def test_plain_tuples_are_accepted_as_prior_complaints() -> None:
    earlier = (NOW - timedelta(days=2), PHONE, "3栋1单元502", "Y园")
    assert detect_major_of(received(), [earlier], POLICY) is not None


def test_complaint_recorded_late_counts_where_it_happened() -> None:
    # The earlier-recorded complaint happened a day *after* this one: they are still two
    # complaints within 7 days, and neither may fall through.
    assert detect_major_of(received(), [prior(-1)], POLICY) is not None


def test_over_the_head_wins_when_a_repeat_also_matches() -> None:
    flagged = detect_major_of(received(channel=Channel.SUPERVISION), [prior(1)], POLICY)
    assert flagged is not None and flagged.rule is MajorRule.OVER_THE_HEAD


def test_repeat_reason_names_the_count_and_no_phone() -> None:
    # The reason is kept in the log forever: no phone, not even masked (issue 16, point 5).
    flagged = detect_major_of(received(unit="5栋201"), [prior(3)], POLICY)
    assert flagged == MajorComplaintFlagged(
        rule=MajorRule.REPEAT_OWNER,
        reason="同一业主7天内第2次投诉（另见：2024-03-01 09:30）",
    )


def test_with_a_policy_of_three_the_second_complaint_is_not_major() -> None:
    policy = MajorPolicy(repeat_count=3)
    assert detect_major_of(received(), [prior(2)], policy) is None


def test_with_a_policy_of_three_the_third_complaint_within_the_window_is_major() -> None:
    policy = MajorPolicy(repeat_count=3)
    flagged = detect_major_of(received(), [prior(2), prior(5)], policy)
    assert flagged is not None and "第3次" in flagged.reason


def test_three_complaints_spread_wider_than_one_window_are_not_three_in_a_window() -> None:
    # 6 days before and 6 days after: each is within 7 days of this one, but no 7-day span
    # holds all three.
    policy = MajorPolicy(repeat_count=3)
    assert detect_major_of(received(), [prior(6), prior(-6)], policy) is None


def test_shorter_window_from_the_policy_is_honoured() -> None:
    policy = MajorPolicy(window=timedelta(days=1))
    assert detect_major_of(received(), [prior(2)], policy) is None
    flagged = detect_major_of(received(), [prior(0.5)], policy)
    assert flagged is not None and "1天内" in flagged.reason


@pytest.mark.parametrize(
    "settings", [{"repeat_count": 1}, {"window": timedelta(0)}], ids=["count", "window"]
)
def test_policy_that_would_flag_every_complaint_is_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MajorPolicy.model_validate(settings)


# ==========================================================================================
# escalation
# ==========================================================================================

DEADLINE = NOW - timedelta(minutes=5)
OPEN = (
    received(),
    ComplaintAcknowledged(actor=AGENT),
)
MAJOR = MajorComplaintFlagged(rule=MajorRule.OVER_THE_HEAD, reason="越级投诉")


def given(*events: EventData) -> State:
    """The state after these events, folded with ``evolve``."""
    state = initial_state()
    for e in events:
        state = evolve(state, e)
    return state


def escalated(level: EscalationLevel, timer: str) -> ComplaintEscalated:
    """An escalation event to ``level`` for ``timer`` (reason does not matter here)."""
    return ComplaintEscalated(level=level, reason="超时", timer=timer, deadline=DEADLINE)


def test_overdue_complaint_goes_from_staff_to_the_customer_service_head() -> None:
    event = escalate(given(*OPEN), timer="first_response", deadline=DEADLINE, now=NOW)
    assert event is not None
    assert (event.level, event.timer, event.deadline) == (
        EscalationLevel.CS_HEAD,
        "first_response",
        DEADLINE,
    )
    assert "由经办人员升级至客服主管" in event.reason


def test_each_missed_deadline_climbs_one_level_up_to_the_company() -> None:
    state = given(*OPEN)
    levels = []
    for timer in ["first_response", "reply", "resolution"]:
        event = escalate(state, timer=timer, deadline=DEADLINE, now=NOW)
        assert event is not None
        levels.append(event.level)
        state = evolve(state, event)
    assert levels == [
        EscalationLevel.CS_HEAD,
        EscalationLevel.PROJECT_MANAGER,
        EscalationLevel.COMPANY,
    ]


def test_complaint_at_the_company_is_not_escalated_further() -> None:
    state = given(*OPEN, escalated(EscalationLevel.COMPANY, "reply"))
    assert escalate(state, timer="resolution", deadline=DEADLINE, now=NOW) is None


def test_major_complaint_first_escalates_from_the_project_manager_to_the_company() -> None:
    event = escalate(given(*OPEN, MAJOR), timer="reply", deadline=DEADLINE, now=NOW)
    assert event is not None and event.level is EscalationLevel.COMPANY


def test_complaint_before_its_deadline_is_not_escalated() -> None:
    later = NOW + timedelta(minutes=1)
    assert escalate(given(*OPEN), timer="reply", deadline=later, now=NOW) is None


def test_complaint_exactly_at_its_deadline_is_escalated() -> None:
    assert escalate(given(*OPEN), timer="reply", deadline=NOW, now=NOW) is not None


def test_same_breach_reported_twice_escalates_only_once() -> None:
    state = given(*OPEN, escalated(EscalationLevel.CS_HEAD, "reply"))
    assert escalate(state, timer="reply", deadline=DEADLINE, now=NOW) is None


def test_same_timer_with_a_new_deadline_escalates_again() -> None:
    # A time commitment set a new deadline for the reply, and that one was missed too.
    state = given(*OPEN, escalated(EscalationLevel.CS_HEAD, "reply"))
    later_deadline = DEADLINE + timedelta(minutes=1)
    event = escalate(state, timer="reply", deadline=later_deadline, now=NOW)
    assert event is not None and event.level is EscalationLevel.PROJECT_MANAGER


@pytest.mark.parametrize(
    "end",
    [ComplaintClosed(actor=AGENT), ComplaintWithdrawn(actor=AGENT, reason="撤诉")],
    ids=["closed", "withdrawn"],
)
def test_ended_complaint_is_not_escalated(end: EventData) -> None:
    assert escalate(given(*OPEN, end), timer="reply", deadline=DEADLINE, now=NOW) is None


def test_complaint_never_received_is_not_escalated() -> None:
    assert escalate(initial_state(), timer="reply", deadline=DEADLINE, now=NOW) is None


def test_a_serial_complainers_repeat_still_fits_one_event_and_counts_every_complaint() -> None:
    # 600 earlier complaints of one owner within the week: listing every date would overflow
    # the event's reason (4000 characters) and the complaint would be dead-lettered.
    earlier = [prior(n / 100) for n in range(1, 601)]
    flagged = detect_major_of(received(unit="5栋201"), earlier, POLICY)
    assert flagged is not None and flagged.rule is MajorRule.REPEAT_OWNER
    assert "第601次投诉" in flagged.reason and "等600次" in flagged.reason
    assert flagged.reason.count("、") == 9  # the ten closest dates
    assert len(flagged.reason) < 4000

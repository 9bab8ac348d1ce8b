"""The stored, folded state of a complaint reads back as the state that was stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.lifecycle import Actor, Awaiting, CloseOutcome, EscalationLevel, Role
from services.workflow.domain import Plan, PlanStatus, State, Status, Suspension
from services.workflow.store import decode_state, encode_state

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_every_field_of_a_state_with_the_offices_exceptions_round_trips() -> None:
    state = replace(
        State(),
        status=Status.SUSPENDED,
        version=9,
        office="Y园",
        unit="3栋1单元502",
        channel=Channel.HOTLINE,
        owner=Actor(staff_id="A001", role=Role.CS_AGENT),
        received_at=AT,
        validity=Validity.VALID,
        category=ServiceCategory.FACILITIES,
        priority=Priority.URGENT,
        rejudged=1,
        department="工程部",
        deadline=AT,
        plans=(Plan(plan_id=1, text="更换水管", status=PlanStatus.APPROVED),),
        commitments=(AT,),
        open_commitment=AT,
        revisit_attempts=2,
        suspension=Suspension(1, Awaiting.DEVELOPER, "等待开发商答复", AT, Status.ASSIGNED),
        suspensions=1,
        outcome=CloseOutcome.UNSATISFIED,
        major=True,
        escalation_level=EscalationLevel.PROJECT_MANAGER,
        escalations=frozenset({("reply", AT)}),
    )
    assert decode_state(encode_state(state)) == state


def test_a_state_stored_by_another_fold_is_not_trusted() -> None:
    stored = encode_state(State()).replace('"format":"', '"format":"x', 1)
    assert decode_state(stored) is None

"""The domain's ``replace`` (attributes copied, no ``__init__``) makes exactly the objects
``dataclasses.replace`` makes: a rebuild folds with it, so a state folded either way is the same."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime
from uuid import UUID

import pytest

from bench.rebuild_services import histories
from contracts.envelope import EventData
from contracts.lifecycle import Awaiting
from services.workflow import domain
from services.workflow.domain import Plan, PlanStatus, State, Status, Suspension

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_a_replaced_state_equals_what_dataclasses_replace_makes() -> None:
    before = dataclasses.replace(
        State(), office="Y园", plans=(Plan(1, "换管", PlanStatus.PROPOSED),)
    )
    changes = {
        "status": Status.SUSPENDED,
        "version": 7,
        "suspension": Suspension(1, Awaiting.OWNER, "等业主", AT, Status.ASSIGNED),
    }
    fast = domain.replace(before, **changes)
    assert fast == dataclasses.replace(before, **changes)
    assert hash(fast) == hash(dataclasses.replace(before, **changes))
    assert type(fast) is State
    assert before.status is Status.NEW and before.version == 0  # the old one is untouched
    assert fast.office == "Y园" and fast.plans == before.plans
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.status = Status.CLOSED  # type: ignore[misc]


def test_an_unknown_field_is_refused_as_dataclasses_replace_refuses_it() -> None:
    with pytest.raises(TypeError, match="no field colour"):
        domain.replace(State(), colour="red")  # type: ignore[call-arg]


def test_a_class_that_cannot_be_copied_this_way_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    with pytest.raises(TypeError, match="plain frozen dataclasses"):
        domain.replace(Checked(1), n=-1)


def test_every_life_of_the_generated_log_folds_to_the_same_state_either_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lives: dict[UUID, list[EventData]] = defaultdict(list)
    for envelope, data in histories(150, seed=11, alerts=True, days=20):
        lives[envelope.complaint_id].append(data)
    kinds = {type(data).__name__ for events in lives.values() for data in events}
    assert len(kinds) >= 15, kinds  # most of the lifecycle's kinds of event
    fast = {cid: domain.replay(events) for cid, events in lives.items()}
    monkeypatch.setattr(domain, "replace", dataclasses.replace)
    checked = {cid: domain.replay(events) for cid, events in lives.items()}
    assert fast == checked

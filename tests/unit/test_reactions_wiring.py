"""Automatic rules are declared in a spec beside the projection whose state they read
(``services.runtime.spec.Reacts``), and the one app factory hands them to it."""

from __future__ import annotations

import dataclasses

import pytest

from services.runtime.app import build_app
from services.runtime.consumer import ProjectionConsumer
from services.runtime.spec import Reacts
from services.workflow.handlers import AutomaticRules
from services.workflow.projection import StateProjection
from services.workflow.spec import CONSUMER, SPEC


def test_the_workflow_declares_its_rules_beside_the_projection_they_read() -> None:
    (reaction,) = SPEC.reactions
    assert reaction.reads == CONSUMER
    assert CONSUMER in [c.name for c in SPEC.consumers]
    assert SPEC.outbox  # where the rules' events go


def test_the_app_factory_runs_the_declared_rules_inside_the_projection_and_the_commands() -> None:
    app = build_app(SPEC)
    (consumer,) = [c for c in app.state.service.consumers if isinstance(c, ProjectionConsumer)]
    projection = consumer.projection
    assert isinstance(projection, StateProjection)
    rules = app.state.parts.shared.rules
    assert isinstance(rules, AutomaticRules)
    # the projection folds what the very reactor the commands use (``routes.give``) emits
    assert projection.rules is rules


def test_a_state_projection_never_folds_without_its_rules() -> None:
    projection = StateProjection(build_app(SPEC).state.parts.shared.ctx)
    with pytest.raises(RuntimeError, match="react_with"):
        _ = projection.rules


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"reactions": [Reacts("rules", lambda parts: parts.shared.rules, reads="nope")]},
            "read 'nope': no projection of that name runs rules",
        ),
        ({"outbox": False}, "emit events: the spec needs its outbox"),
    ],
)
def test_rules_without_a_projection_to_run_them_or_an_outbox_are_refused_at_build(
    change: dict[str, object], reason: str
) -> None:
    broken = dataclasses.replace(SPEC, **change)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=f"workflow: the rules 'rules' {reason}"):
        build_app(broken)

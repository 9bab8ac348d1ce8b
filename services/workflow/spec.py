"""The workflow service, declared once (``services.runtime.spec``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from services.catalog import SERVICES
from services.runtime.auth import StaffRole
from services.runtime.login import install_login
from services.runtime.spec import Consumes, Parts, Publishes, Reacts, ServiceSpec, Task
from services.workflow import erasure, pages, queue, routes
from services.workflow.domain import load_routing_rules
from services.workflow.handlers import AutomaticRules, Context, Rules
from services.workflow.policy import OfficePolicy, load_office_policy
from services.workflow.projection import StateProjection
from services.workflow.settings import WorkflowSettings

HERE = Path(__file__).parent
CONSUMER = "state.v1"

WORKBENCH_ROLES = (
    StaffRole.CS_AGENT,
    StaffRole.CS_HEAD,
    StaffRole.DEPARTMENT,
    StaffRole.SUPERVISOR,
    StaffRole.PROJECT_MANAGER,
)
"""The office roles local mode's login offers for each office of the routing rules."""


@dataclass(frozen=True)
class WorkflowShared:
    """What the workflow's projection, routes and pages share: its rules, loaded once."""

    ctx: Context  # where decided events come from and go to, and the rules that decide
    office_policy: OfficePolicy  # the pages ask the decider which forms apply
    rules: AutomaticRules  # run after each event the projection folds and each command


def _shared(settings: WorkflowSettings) -> WorkflowShared:
    office_policy = load_office_policy(settings.workflow_policy_file)
    ctx = Context(
        consumer=f"workflow.{CONSUMER}",
        topic=settings.topic_events,
        rules=Rules(
            routing=load_routing_rules(settings.workflow_routing_file),
            major=office_policy.major,
            office=office_policy,
        ),
        pepper=settings.pepper(),
    )
    return WorkflowShared(ctx=ctx, office_policy=office_policy, rules=AutomaticRules(ctx))


def _retention(parts: Parts) -> Callable[[], Coroutine[Any, Any, None]]:
    interval = parts.settings.retention_interval_s
    return erasure.RetentionJob(parts.service, parts.settings, parts.now, interval_s=interval).run


def _workbench(app: FastAPI, parts: Parts) -> None:
    """The staff pages' login, and what the pages share with the API (``routes.Workbench``)."""
    app.state.office_policy = parts.shared.office_policy
    app.state.workbench = routes.Workbench.of(parts)
    install_login(app, offices=list(parts.shared.ctx.rules.routing.offices), roles=WORKBENCH_ROLES)


SPEC = ServiceSpec(
    name="workflow",
    title="Complaints workflow",
    description="The complaint lifecycle (投诉处理流程): staff commands and complaint state.",
    settings=WorkflowSettings,
    port=SERVICES["workflow"],
    schema="workflow",
    migrations=[HERE / "schema.sql"],
    durable=[HERE / "durable.sql"],
    legacy_tables=["complaints", "history"],
    plan_each_query=True,  # its tables start empty (``ServiceSpec.plan_each_query``)
    shared=_shared,
    consumers=[Consumes(CONSUMER, lambda parts: StateProjection(parts.shared.ctx))],
    reactions=[Reacts("rules", lambda parts: parts.shared.rules, reads=CONSUMER)],
    outbox=True,
    # Its decisions stop the SLA's clocks: the SLA waits for its watermark, not a fixed grace.
    watermarks=True,
    tasks=[Task("retention", _retention)],
    publishes=[Publishes("topic_events", ("contracts.lifecycle", "contracts.privacy"))],
    routers=[queue.router, pages.router, erasure.router, routes.router],
    install=_workbench,
)

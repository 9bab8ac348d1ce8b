"""The SLA service, declared once (``services.runtime.spec``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.catalog import SERVICES
from services.runtime.spec import Consumes, Parts, Publishes, ServiceSpec, Task
from services.runtime.watermarks import Watermarks
from services.sla import horizon, routes
from services.sla.calendar import load_calendar
from services.sla.notifications import Notifications, load_notifications
from services.sla.notifier import AlertDeliveries, DeliveryWorker, delivery_gauges
from services.sla.policy import load_policy
from services.sla.projection import ClockProjection
from services.sla.scheduler import Scheduler, SlaRules, timer_gauges
from services.sla.settings import SlaSettings

HERE = Path(__file__).parent
CLOCKS = "clocks.v2"


@dataclass
class SlaShared:
    """What the SLA's projection, tasks and routes share: one set of rules per app."""

    rules: SlaRules
    notifications: Notifications
    watermarks: Watermarks  # of the producers whose decisions stop clocks
    replaying: asyncio.Lock = field(default_factory=asyncio.Lock)  # one what-if at a time


def _shared(settings: SlaSettings) -> SlaShared:
    return SlaShared(
        rules=SlaRules(
            policy=load_policy(settings.sla_policy_file),
            calendar=load_calendar(settings.sla_calendar_file),
        ),
        # Its secrets are checked when the service starts (SlaSettings.problems), not here.
        notifications=load_notifications(settings.notifications_file, require_secrets=False),
        watermarks=Watermarks(
            settings.sla_watermarks_from,
            topic=settings.topic_events,
            wait_s=settings.sla_watermark_wait_s,
        ),
    )


def _alerts(parts: Parts) -> AlertDeliveries:
    policy = parts.shared.rules.policy
    return AlertDeliveries(
        parts.shared.notifications,
        parts.now,
        # 答复业主, not `reply`: each timer's label as the policy names it (company-wide)
        timer_labels={k: policy.timer(k, "").label for k in policy.kinds},
        workbench_url=parts.settings.workbench_base_url,
    )


Loop = Callable[[], Coroutine[Any, Any, None]]


def _scheduler(parts: Parts) -> Loop:
    service, settings = parts.service, parts.settings
    relay = service.relay
    assert relay is not None  # the spec declares the outbox
    return Scheduler(
        rules=parts.shared.rules,
        write=service.write,
        consumer=next(c for c in service.projections if c.name == f"sla.{CLOCKS}"),
        relay=relay,
        topic=settings.topic_events,
        grace=timedelta(seconds=settings.sla_grace_s),
        fence=parts.shared.watermarks.fence,
        word=parts.shared.watermarks.next_word,
        tick=timedelta(seconds=settings.sla_tick_s),
        now=parts.now,
    ).run


def _watermarks(parts: Parts) -> Loop:
    return lambda: parts.shared.watermarks.run(parts.settings)


def _calendar_watch(parts: Parts) -> Loop:
    watch = horizon.CalendarWatch(parts.shared.rules.calendar, parts.now)
    return lambda: watch.run(parts.settings.metrics_interval_s)


def _notifier(parts: Parts) -> Loop:
    return DeliveryWorker(
        config=parts.shared.notifications,
        pool=lambda: parts.service.pool,
        now=parts.now,
        poll_s=parts.settings.sla_notify_poll_s,
    ).run


SPEC = ServiceSpec(
    name="sla",
    title="Complaints SLA",
    description="Working-day clocks of every complaint (时限管理): deadlines and breaches.",
    settings=SlaSettings,
    port=SERVICES["sla"],
    schema="sla",
    migrations=[HERE / "schema.sql"],
    durable=[HERE / "durable.sql"],
    legacy_tables=["complaints", "history", "clocks"],
    plan_each_query=True,  # its tables start empty (``ServiceSpec.plan_each_query``)
    shared=_shared,
    consumers=[
        Consumes(CLOCKS, lambda parts: ClockProjection(parts.shared.rules)),
        # Notifications (docs/architecture.md): alerts → deliveries, a processor: a rebuild of
        # the clocks never reads the log again for it.
        Consumes("notifier.v1", _alerts, processor=True),
    ],
    outbox=True,
    tasks=[
        Task("scheduler", _scheduler),
        Task("watermarks", _watermarks),
        Task("calendar", _calendar_watch),
        Task("notifier", _notifier),
    ],
    gauges=[("timers", timer_gauges), ("notifications", delivery_gauges)],
    publishes=[Publishes("topic_events", ("contracts.sla",))],
    routers=[routes.router],
)

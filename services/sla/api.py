"""SLA's HTTP API: each complaint's clocks, and every overdue complaint by office."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI, HTTPException

from services.runtime.http import install_common
from services.runtime.service import ConsumingService
from services.sla import store
from services.sla.calendar import load_calendar
from services.sla.policy import WorkingClock, load_policy
from services.sla.projection import ClockProjection
from services.sla.scheduler import Scheduler, SlaRules, timer_gauges
from services.sla.settings import SlaSettings
from services.sla.timers import fold

HERE = Path(__file__).parent
Clock = Callable[[], datetime]


def create_app(settings: SlaSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The SLA service's ASGI app."""
    settings = settings or SlaSettings()
    now = clock or (lambda: datetime.now(UTC))
    rules = SlaRules(
        policy=load_policy(settings.sla_policy_file),
        calendar=load_calendar(settings.sla_calendar_file),
    )
    service = ConsumingService(
        name="sla",
        settings=settings,
        schema="sla",
        migrations=[HERE / "schema.sql"],
        projection_tables=["complaints", "history", "clocks"],
    )
    consumer = service.add_projection("clocks.v2", ClockProjection(rules))
    relay = service.add_outbox()
    scheduler = Scheduler(
        rules=rules,
        write=service.write,
        consumer=consumer,
        relay=relay,
        topic=settings.topic_events,
        grace=timedelta(seconds=settings.sla_grace_s),
        tick=timedelta(seconds=settings.sla_tick_s),
        clock=now,
    )
    service.add_task("scheduler", scheduler.run)
    service.monitor.add("timers", timer_gauges)

    app = FastAPI(
        title="Complaints SLA",
        version="1",
        description="Working-day clocks of every complaint (时限管理): deadlines and breaches.",
        lifespan=service.lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    install_common(app, service="sla", readiness=service.readiness())

    @app.get("/v1/complaints/{complaint_id}/sla", summary="A complaint's clocks, now")
    async def get_clocks(complaint_id: UUID) -> dict[str, Any]:
        at = now()
        async with service.pool.acquire() as conn:
            office = await store.office_of(conn, complaint_id)
            if office is None:
                raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
            history = await store.history(conn, complaint_id)
        folded = fold(
            history,
            complaint_id=complaint_id,
            office=office,
            policy=rules.policy,
            calendar=rules.calendar,
        )
        clocks: list[dict[str, Any]] = []
        for kind, timer in folded.timers.items():
            when = max(at, timer.started_at)
            clocks.append(
                {
                    "timer": kind,
                    "target": timer.description,
                    "clock": "working" if isinstance(timer.clock, WorkingClock) else "wall",
                    "state": timer.state_at(when).value,
                    "started_at": timer.started_at,
                    "warning_at": timer.warning_at,
                    "deadline": timer.deadline,
                    "hard_deadline": timer.hard_deadline,
                    "ended_at": timer.stopped_at or timer.cancelled_at,
                    "elapsed_s": timer.elapsed(when).total_seconds(),
                    "remaining_s": timer.remaining(when).total_seconds(),
                }
            )
        running = [
            c
            for c in clocks
            if c["state"] in ("running", "breached")
            and c["ended_at"] is None
            and c["deadline"] is not None
        ]
        upcoming = min(running, key=lambda c: c["deadline"], default=None)
        return {
            "complaint_id": complaint_id,
            "office": office,
            "as_of": at,
            "next_deadline": (
                {"timer": upcoming["timer"], "at": upcoming["deadline"]} if upcoming else None
            ),
            "clocks": sorted(clocks, key=lambda c: c["started_at"]),
        }

    @app.get("/v1/sla/overdue", summary="Every open complaint past a deadline, by office")
    async def get_overdue() -> dict[str, Any]:
        at = now()
        async with service.pool.acquire() as conn:
            rows = await store.overdue(conn, at)
        by_office: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            row["overdue_s"] = (at - row["deadline"]).total_seconds()
            by_office.setdefault(row.pop("office"), []).append(row)
        return {"as_of": at, "total": len(rows), "by_office": by_office}

    return app

"""SLA's HTTP API: each complaint's clocks."""

from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI

from services.runtime.http import install_common
from services.runtime.service import ConsumingService
from services.sla.projection import ClockProjection
from services.sla.settings import SlaSettings

HERE = Path(__file__).parent


def create_app(settings: SlaSettings | None = None) -> FastAPI:
    """The SLA service's ASGI app."""
    service = ConsumingService(
        name="sla",
        settings=settings or SlaSettings(),
        schema="sla",
        migrations=[HERE / "schema.sql"],
        projection_tables=["clocks"],
    )
    service.add_projection("clocks.v1", ClockProjection())
    app = FastAPI(title="Complaints SLA", version="1", lifespan=service.lifespan)
    install_common(app, service="sla", readiness=service.readiness())

    @app.get("/v1/complaints/{complaint_id}/sla", summary="A complaint's clocks")
    async def get_clocks(complaint_id: UUID) -> dict[str, Any]:
        async with service.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT timer, started_at, deadline, state FROM sla.clocks "
                "WHERE complaint_id = $1 ORDER BY deadline",
                complaint_id,
            )
        return {"complaint_id": complaint_id, "clocks": [dict(r) for r in rows]}

    app.state.service = service
    return app

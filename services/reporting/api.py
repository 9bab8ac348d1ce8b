"""Reporting's HTTP API: complaints and figures, all read from projections of the log."""

from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI, HTTPException

from services.reporting import store
from services.reporting.projection import ComplaintsProjection
from services.reporting.settings import ReportingSettings
from services.runtime.http import install_common
from services.runtime.service import ConsumingService

HERE = Path(__file__).parent


def create_service(settings: ReportingSettings | None = None) -> ConsumingService:
    """The reporting service's runtime: its schema, projections and consumers."""
    service = ConsumingService(
        name="reporting",
        settings=settings or ReportingSettings(),
        schema="reporting",
        migrations=[HERE / "schema.sql"],
        projection_tables=["complaints", "daily_intake"],
    )
    service.add_projection("complaints.v1", ComplaintsProjection())
    return service


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    """The reporting service's ASGI app."""
    service = create_service(settings)
    app = FastAPI(
        title="Complaints reporting",
        version="1",
        description="Projections of the complaint log: complaints, figures, reports (投诉统计).",
        lifespan=service.lifespan,
    )
    install_common(app, service="reporting", readiness=service.readiness())

    @app.get("/v1/complaints/{complaint_id}", summary="One complaint as reporting sees it")
    async def get_complaint(complaint_id: UUID) -> dict[str, Any]:
        async with service.pool.acquire() as conn:
            found = await store.complaint(conn, complaint_id)
        if found is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        return found

    @app.get("/v1/stats", summary="Complaints received per office, channel and day")
    async def get_stats() -> dict[str, Any]:
        async with service.pool.acquire() as conn:
            return await store.stats(conn)

    app.state.service = service
    return app

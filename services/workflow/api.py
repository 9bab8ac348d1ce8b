"""Workflow's HTTP API (the staff commands arrive with the workflow issue)."""

from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI, HTTPException

from services.runtime.http import install_common
from services.runtime.service import ConsumingService
from services.workflow.projection import StateProjection
from services.workflow.settings import WorkflowSettings

HERE = Path(__file__).parent


def create_app(settings: WorkflowSettings | None = None) -> FastAPI:
    """The workflow service's ASGI app."""
    service = ConsumingService(
        name="workflow",
        settings=settings or WorkflowSettings(),
        schema="workflow",
        migrations=[HERE / "schema.sql"],
    )
    service.add_projection("state.v1", StateProjection())
    app = FastAPI(title="Complaints workflow", version="1", lifespan=service.lifespan)
    install_common(app, service="workflow", readiness=service.readiness())

    @app.get("/v1/complaints/{complaint_id}", summary="A complaint's current state")
    async def get_complaint(complaint_id: UUID) -> dict[str, Any]:
        async with service.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT * FROM workflow.complaints WHERE complaint_id = $1", complaint_id
            )
        if row is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        return dict(row)

    app.state.service = service
    return app

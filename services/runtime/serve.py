"""Run a service's ASGI app with uvicorn, configured from its settings."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from services.runtime.settings import Settings


def serve(app: FastAPI, settings: Settings, *, port: int) -> None:
    """Serve ``app`` until SIGTERM/SIGINT; uvicorn runs the app's lifespan (broker, pool)."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    uvicorn.run(
        app, host=settings.host, port=port, log_level=settings.log_level.lower(), access_log=False
    )

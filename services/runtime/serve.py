"""Run a service's ASGI app with uvicorn, configured from its settings."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from services.runtime.collector import settle
from services.runtime.logs import configure_logging
from services.runtime.settings import Settings, refuse

T = TypeVar("T")

LOOP = "auto"
"""The event loop every service serves on: uvicorn's "auto" (uvloop, installed with
``uvicorn[standard]``; asyncio's own where it is missing)."""


def run_on_service_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to its end on the loop the services serve on (``LOOP``): a rebuild's
    lane, and the bench's own measurements, run as the services do."""
    factory = uvicorn.Config(app="", loop=LOOP).get_loop_factory()  # no app: only its loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def service_name(app: FastAPI) -> str:
    """``intake`` for ``python -m services.intake``; else the app's service, else its title."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    parts = (spec.name if spec is not None else "").split(".")
    if len(parts) >= 2 and parts[0] == "services":
        return parts[1]
    service = getattr(app.state, "service", None)
    return str(getattr(service, "name", app.title))


def serve(app: FastAPI, settings: Settings, *, port: int) -> None:
    """Serve ``app`` until SIGTERM/SIGINT; uvicorn runs the app's lifespan (broker, pool).

    Logs are JSON lines on stderr (``COMPLAINTS_LOG_FORMAT=text`` for plain lines); uvicorn's
    own logging configuration is switched off so its lines are JSON too.

    Settings refused for the mode they run in (``Settings.problems``) stop it before anything
    starts (``load_settings`` in each ``__main__`` has already said so; this guards other callers).
    """
    problems = settings.problems()
    if problems:
        refuse(service_name(app), problems, settings)
    configure_logging(service=service_name(app), level=settings.log_level, fmt=settings.log_format)
    # A SIGTERM ends the process within this many seconds, whatever hangs in the shutdown
    # (``ConsumingService.lifespan``); ``docker compose stop`` waits 10 s, then kills anyway.
    app.state.exit_within_s = 12.0
    settle()  # the app is built: what it holds now is never a full collection's again
    uvicorn.run(
        app,
        host=settings.host,
        port=port,
        log_level=settings.log_level.lower(),
        log_config=None,
        loop=LOOP,
        access_log=False,  # one line per request comes from services.runtime.http instead
    )

"""SLA's ASGI app: built from its spec (``services.sla.spec``) by the one factory; the routes
are in ``services.sla.routes``."""

from fastapi import FastAPI

from services.runtime.app import build_app
from services.runtime.spec import Now
from services.sla.settings import SlaSettings
from services.sla.spec import SPEC


def create_app(settings: SlaSettings | None = None, now: Now | None = None) -> FastAPI:
    """The SLA service's ASGI app."""
    return build_app(SPEC, settings, now)

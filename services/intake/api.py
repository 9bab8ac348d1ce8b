"""Intake's ASGI app: built from its spec (``services.intake.spec``) by the one factory."""

from fastapi import FastAPI

from services.intake.settings import IntakeSettings
from services.intake.spec import SPEC
from services.runtime.app import build_app
from services.runtime.spec import Now


def create_app(settings: IntakeSettings | None = None, now: Now | None = None) -> FastAPI:
    """The intake service's ASGI app."""
    return build_app(SPEC, settings, now)

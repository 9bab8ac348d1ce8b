"""Workflow's ASGI app: built from its spec (``services.workflow.spec``) by the one factory;
the complaint read and the commands are in ``services.workflow.routes``."""

from fastapi import FastAPI

from services.runtime.app import build_app
from services.runtime.spec import Now
from services.workflow.settings import WorkflowSettings
from services.workflow.spec import SPEC


def create_app(settings: WorkflowSettings | None = None, now: Now | None = None) -> FastAPI:
    """The workflow service's ASGI app."""
    return build_app(SPEC, settings, now)

"""Workflow's settings: the shared ``COMPLAINTS_*`` ones plus its port."""

from services.runtime.settings import Settings


class WorkflowSettings(Settings):
    """``COMPLAINTS_WORKFLOW_PORT`` (default 8002)."""

    workflow_port: int = 8002

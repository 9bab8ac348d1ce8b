"""``python -m services.workflow``: run the workflow service."""

from services.runtime.serve import serve
from services.workflow.api import create_app
from services.workflow.settings import WorkflowSettings

settings = WorkflowSettings()
serve(create_app(settings), settings, port=settings.workflow_port)

"""``python -m services.workflow``: run the workflow service.

The configuration is checked before anything else is imported or started: a refused one exits
non-zero within a second, naming every variable to fix.
"""

from services.runtime.settings import load_settings
from services.workflow.settings import WorkflowSettings

settings = load_settings(WorkflowSettings, "workflow")

from services.runtime.serve import serve  # noqa: E402
from services.workflow.api import create_app  # noqa: E402  (after the check: refusals are fast)

serve(create_app(settings), settings, port=settings.workflow_port)

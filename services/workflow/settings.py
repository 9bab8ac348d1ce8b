"""Workflow's settings: the shared ``COMPLAINTS_*`` ones plus its port and rule data."""

from pathlib import Path

from services.runtime.settings import Settings

HERE = Path(__file__).parent


class WorkflowSettings(Settings):
    """``COMPLAINTS_WORKFLOW_*``: port, routing rules and office policy files, major-complaint
    policy."""

    uses_staff_tokens = True  # every staff command carries a bearer token

    workflow_port: int = 8002
    # Category → department per office (data, not code); see routing.yaml.
    workflow_routing_file: Path = HERE / "routing.yaml"
    # Priority defaults, revisit and re-judgment rules (data, not code); see policy.yaml.
    workflow_policy_file: Path = HERE / "policy.yaml"
    # The N-th complaint of the same owner or unit within the window is major.
    workflow_major_repeat_count: int = 2
    workflow_major_window_days: float = 7.0

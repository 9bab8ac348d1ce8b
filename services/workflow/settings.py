"""Workflow's settings: the shared ``COMPLAINTS_*`` ones plus its port and rule data."""

from pathlib import Path

from services.runtime.settings import Settings

HERE = Path(__file__).parent


class WorkflowSettings(Settings):
    """``COMPLAINTS_WORKFLOW_*``: port, routing rules and office policy files."""

    uses_staff_tokens = True  # every staff command carries a bearer token

    workflow_port: int = 8002
    # Category → department per office (data, not code); see routing.yaml.
    workflow_routing_file: Path = HERE / "routing.yaml"
    # Priority defaults, revisit and re-judgment rules, the major-complaint rules (重大投诉)
    # and the steps' clocks (data, not code); see policy.yaml.
    workflow_policy_file: Path = HERE / "policy.yaml"

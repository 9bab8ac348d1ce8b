"""Workflow's settings: the shared ``COMPLAINTS_*`` ones plus its port and rule data."""

from pathlib import Path

from services.runtime.settings import Environment, Settings

LOCAL_SLA_PORT = 8003

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
    # Where the workbench pages read a complaint's clocks: the SLA service's base URL
    # (COMPLAINTS_SLA_URL). Unset: the local SLA service in local mode, else none (the page
    # then says the clocks are not available).
    sla_url: str = ""

    @property
    def sla_base_url(self) -> str | None:
        """The SLA service's base URL the pages call, without a trailing slash, or ``None``."""
        if self.sla_url:
            return self.sla_url.rstrip("/")
        if self.env is Environment.LOCAL:
            return f"http://127.0.0.1:{LOCAL_SLA_PORT}"
        return None

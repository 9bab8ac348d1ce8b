"""SLA's settings: the shared ``COMPLAINTS_*`` ones plus its port, policy and calendar."""

from pathlib import Path

from services.runtime.settings import Settings

HERE = Path(__file__).parent


class SlaSettings(Settings):
    """``COMPLAINTS_SLA_*``: port, policy and calendar files, scheduler timing."""

    uses_staff_tokens = True  # every read carries a staff token

    sla_port: int = 8003
    sla_policy_file: Path = HERE / "policy.yaml"
    sla_calendar_file: Path = HERE / "calendar.yaml"
    # A deadline is judged this long after it passed, so that a stop decided just before it
    # (still on its way through another service's outbox) is seen first.
    sla_grace_s: float = 0.3
    # How often the scheduler looks for due timers when nothing wakes it sooner.
    sla_tick_s: float = 0.1

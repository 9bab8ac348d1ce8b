"""SLA's settings: the shared ``COMPLAINTS_*`` ones plus its port."""

from services.runtime.settings import Settings


class SlaSettings(Settings):
    """``COMPLAINTS_SLA_PORT`` (default 8003)."""

    sla_port: int = 8003

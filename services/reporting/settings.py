"""Reporting's settings: the shared ``COMPLAINTS_*`` ones plus its port."""

from services.runtime.settings import Settings


class ReportingSettings(Settings):
    """``COMPLAINTS_REPORTING_PORT`` (default 8004)."""

    reporting_port: int = 8004

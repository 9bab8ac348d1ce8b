"""Reporting's settings: the shared ``COMPLAINTS_*`` ones plus its port, offices, hot spots and
the monthly report's header and footer."""

from pathlib import Path

from pydantic import Field

from services.runtime.settings import Settings

SEED_OFFICES = ("Y园", "G小城", "*湾花园", "HJ花园", "W花园", "L", "J庭", "C园", "B居", "Y*城")
"""The management offices (管理处) named in the seed monthly report, in its order."""


class ReportingSettings(Settings):
    """``COMPLAINTS_REPORTING_*``.

    * ``COMPLAINTS_REPORTING_PORT`` (default 8004).
    * ``COMPLAINTS_REPORTING_OFFICES``: the company's offices as a JSON list, in the order the
      report lists them; offices that had no complaint in a period are named from it (any office
      seen in the data is added after these). Defaults to the offices of the seed report.
    * ``COMPLAINTS_REPORTING_HOTSPOT_DAYS`` (30) and ``COMPLAINTS_REPORTING_HOTSPOT_MIN`` (2):
      a unit, building or topic of one office is a hot spot (星星之火) on the dashboard when it
      was complained about at least that many times within that many days.
    * ``COMPLAINTS_REPORTING_DOCUMENT``: the YAML file of the monthly report's header and footer
      (期号, addressees, 主题词, 抄送, issuer); default ``services/reporting/document.yaml``,
      which documents its keys.
    """

    uses_staff_tokens = True  # every read carries a staff token (pages: a login session)

    reporting_port: int = 8004
    reporting_offices: list[str] = Field(default_factory=lambda: list(SEED_OFFICES))
    reporting_hotspot_days: int = Field(30, ge=1, le=366)
    reporting_hotspot_min: int = Field(2, ge=2)
    reporting_document: Path | None = None

"""``python -m services.reporting``: run the reporting service.

The configuration is checked before anything else is imported or started: a refused one exits
non-zero within a second, naming every variable to fix.
"""

from services.reporting.settings import ReportingSettings
from services.runtime.settings import load_settings

settings = load_settings(ReportingSettings, "reporting")

from services.reporting.api import create_app  # noqa: E402  (after the check: refusals are fast)
from services.runtime.serve import serve  # noqa: E402

serve(create_app(settings), settings, port=settings.reporting_port)

"""``python -m services.sla``: run the SLA service.

The configuration is checked before anything else is imported or started: a refused one exits
non-zero within a second, naming every variable to fix.
"""

from services.runtime.settings import load_settings
from services.sla.settings import SlaSettings

settings = load_settings(SlaSettings, "sla")

from services.runtime.serve import serve  # noqa: E402
from services.sla.api import create_app  # noqa: E402  (after the check: refusals are fast)

serve(create_app(settings), settings, port=settings.sla_port)

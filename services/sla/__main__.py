"""``python -m services.sla``: run the SLA service."""

from services.runtime.serve import serve
from services.sla.api import create_app
from services.sla.settings import SlaSettings

settings = SlaSettings()
serve(create_app(settings), settings, port=settings.sla_port)

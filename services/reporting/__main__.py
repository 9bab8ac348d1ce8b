"""``python -m services.reporting``: run the reporting service."""

from services.reporting.api import create_app
from services.reporting.settings import ReportingSettings
from services.runtime.serve import serve

settings = ReportingSettings()
serve(create_app(settings), settings, port=settings.reporting_port)

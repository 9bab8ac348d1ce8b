"""``python -m services.intake``: run the intake service."""

from services.intake.api import create_app
from services.intake.settings import IntakeSettings
from services.runtime.serve import serve

settings = IntakeSettings()
serve(create_app(settings), settings, port=settings.intake_port)

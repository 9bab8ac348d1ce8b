"""``python -m services.intake``: run the intake service.

The configuration is checked before anything else is imported or started: a refused one exits
non-zero within a second, naming every variable to fix.
"""

from services.intake.settings import IntakeSettings
from services.runtime.settings import load_settings

settings = load_settings(IntakeSettings, "intake")

from services.intake.api import create_app  # noqa: E402  (after the check: refusals are fast)
from services.runtime.serve import serve  # noqa: E402

serve(create_app(settings), settings, port=settings.intake_port)

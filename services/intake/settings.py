"""Intake's settings: the shared ``COMPLAINTS_*`` ones plus its port and channel keys."""

from __future__ import annotations

import hmac
from datetime import timedelta

from contracts import Channel
from services.runtime.settings import Environment, Settings

DEV_KEYS = {
    Channel.HOTLINE: "dev-hotline",
    Channel.APP: "dev-app",
    Channel.SUPERVISION: "dev-supervision",
}


class IntakeSettings(Settings):
    """``COMPLAINTS_INTAKE_PORT``; ``COMPLAINTS_INTAKE_API_KEYS`` = JSON ``{"hotline": "…"}``."""

    intake_port: int = 8001
    intake_api_keys: dict[Channel, str] = {}
    # How far a channel's clock may run ahead before its complaint time counts as future.
    intake_clock_skew: timedelta = timedelta(minutes=5)

    def channel_for_key(self, key: str | None) -> Channel | None:
        """The channel a credential belongs to; development keys only in local mode."""
        if not key:
            return None
        keys = dict(self.intake_api_keys)
        if self.env is Environment.LOCAL:
            keys = {**DEV_KEYS, **keys}
        elif key.startswith("dev-"):
            return None
        for channel, expected in keys.items():
            if expected and hmac.compare_digest(key.encode(), expected.encode()):
                return channel
        return None

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
    """Intake's own settings besides the shared ``COMPLAINTS_*`` ones.

    * ``COMPLAINTS_INTAKE_PORT`` (8001).
    * ``COMPLAINTS_INTAKE_API_KEYS``: JSON ``{"hotline": "…", "app": "…", "supervision": "…"}``.
    * ``COMPLAINTS_INTAKE_CLOCK_SKEW`` (``PT5M``): a complaint time further in the future than
      this is refused.
    * ``COMPLAINTS_TOPIC_REJECTIONS``: where refused submissions-topic records are recorded
      (default: the submissions topic's name + ``.rejected``).
    """

    intake_port: int = 8001
    intake_api_keys: dict[Channel, str] = {}
    # How far a channel's clock may run ahead before its complaint time counts as future.
    intake_clock_skew: timedelta = timedelta(minutes=5)
    topic_rejections: str = ""

    @property
    def rejections_topic(self) -> str:
        """The topic of ``SubmissionRejected`` events (derived from the submissions topic's
        name unless set, so a test run's topics stay together)."""
        return self.topic_rejections or f"{self.topic_submissions}.rejected"

    def _keys(self) -> dict[Channel, str]:
        keys = {channel: key for channel, key in self.intake_api_keys.items() if key}
        if self.env is Environment.LOCAL:
            return {**DEV_KEYS, **keys}
        return {channel: key for channel, key in keys.items() if not key.startswith("dev-")}

    def channel_for_key(self, key: str | None) -> Channel | None:
        """The channel a credential belongs to; development keys only in local mode."""
        if not key:
            return None
        for channel, expected in self._keys().items():
            if hmac.compare_digest(key.encode(), expected.encode()):
                return channel
        return None

    def key_of(self, channel: Channel) -> str | None:
        """The key of ``channel`` (which signs its submissions-topic records), if it has one."""
        return self._keys().get(channel)

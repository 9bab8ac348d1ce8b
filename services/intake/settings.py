"""Intake's settings: the shared ``COMPLAINTS_*`` ones plus its port and channel keys."""

from __future__ import annotations

import hmac
from datetime import timedelta

from contracts import Channel
from services.runtime.settings import Environment, Problem, Settings, variable

DEV_KEYS = {
    Channel.HOTLINE: "dev-hotline",
    Channel.APP: "dev-app",
    Channel.SUPERVISION: "dev-supervision",
}

MIN_KEY_LENGTH = 16
"""Shortest channel key accepted outside local mode."""


class IntakeSettings(Settings):
    """Intake's own settings besides the shared ``COMPLAINTS_*`` ones.

    * ``COMPLAINTS_INTAKE_PORT`` (8001).
    * ``COMPLAINTS_INTAKE_API_KEYS``: JSON ``{"hotline": "…", "app": "…", "supervision": "…"}``.
    * ``COMPLAINTS_INTAKE_CLOCK_SKEW`` (``PT5M``): a complaint time further in the future than
      this is refused.
    * ``COMPLAINTS_TOPIC_REJECTIONS``: where refused submissions-topic records are recorded
      (default: the submissions topic's name + ``.rejected``).
    """

    uses_staff_tokens = True  # staff may read the rejected submissions

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

    def problems(self) -> list[Problem]:
        """Outside local mode: a key of its own for every channel, none a development key,
        none shorter than ``MIN_KEY_LENGTH``, no key shared by two channels."""
        found = super().problems()
        if self.env is Environment.LOCAL:
            return found
        keys = {channel: key for channel, key in self.intake_api_keys.items() if key}
        reasons = []
        missing = [c.value for c in DEV_KEYS if c not in keys]  # the channels with an API
        if missing:
            reasons.append(
                f"no key for channel(s) {', '.join(missing)} "
                '(JSON {"hotline": "…", "app": "…", "supervision": "…"})'
            )
        dev = [c.value for c, k in keys.items() if k.startswith("dev-") or k in DEV_KEYS.values()]
        if dev:
            reasons.append(f"development key(s) for {', '.join(dev)}: public in the repository")
        short = [c.value for c, k in keys.items() if len(k) < MIN_KEY_LENGTH and c.value not in dev]
        if short:
            reasons.append(f"key(s) of {', '.join(short)} shorter than {MIN_KEY_LENGTH} characters")
        by_key: dict[str, list[str]] = {}
        for channel, key in keys.items():
            by_key.setdefault(key, []).append(channel.value)
        shared = [" and ".join(cs) for cs in by_key.values() if len(cs) > 1]
        if shared:
            reasons.append(f"one key for {'; '.join(shared)}: the key decides the channel")
        if reasons:
            found.append(Problem(variable("intake_api_keys"), "; ".join(reasons)))
        return found

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

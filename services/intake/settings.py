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
    * ``COMPLAINTS_INTAKE_API_KEYS``: JSON ``{"hotline": "…", "app": "…", "supervision": "…"}``;
      a channel may have several valid keys at once, newest first
      (``{"hotline": ["new…", "old…"], …}``) so that a key is rotated without an outage
      (docs/operations.md, "Rotating credentials"). The first key is the channel's current one.
    * ``COMPLAINTS_INTAKE_COMPLAINT_URL`` (``/v1/complaints/{complaint_id}``): the ``Location``
      of a ``202``, where the complaint is read (the workflow's complaint; relative: behind the
      platform's gateway, on the host the channel called). ``make up`` sets the local workflow.
    * ``COMPLAINTS_INTAKE_CLOCK_SKEW`` (``PT5M``): a complaint time further in the future than
      this is refused.
    * ``COMPLAINTS_TOPIC_REJECTIONS``: where refused submissions-topic records are recorded
      (default: the submissions topic's name + ``.rejected``).
    """

    uses_staff_tokens = True  # staff may read the rejected submissions

    intake_port: int = 8001
    intake_api_keys: dict[Channel, str | list[str]] = {}
    intake_complaint_url: str = "/v1/complaints/{complaint_id}"
    # How far a channel's clock may run ahead before its complaint time counts as future.
    intake_clock_skew: timedelta = timedelta(minutes=5)
    topic_rejections: str = ""

    @property
    def rejections_topic(self) -> str:
        """The topic of ``SubmissionRejected`` events (derived from the submissions topic's
        name unless set, so a test run's topics stay together)."""
        return self.topic_rejections or f"{self.topic_submissions}.rejected"

    def location(self, complaint_id: object) -> str:
        """The ``Location`` of a complaint accepted with ``202``."""
        return self.intake_complaint_url.replace("{complaint_id}", str(complaint_id))

    def problems(self) -> list[Problem]:
        """Outside local mode: a key of its own for every channel, none a development key,
        none shorter than ``MIN_KEY_LENGTH``, no key shared by two channels."""
        found = super().problems()
        if "{complaint_id}" not in self.intake_complaint_url:
            found.append(
                Problem(
                    variable("intake_complaint_url"),
                    "must hold {complaint_id}, where the accepted complaint's id goes",
                )
            )
        if self.env is Environment.LOCAL:
            return found
        every = self._configured()
        reasons = []
        missing = [c.value for c in DEV_KEYS if c not in every]  # the channels with an API
        if missing:
            reasons.append(
                f"no key for channel(s) {', '.join(missing)} "
                '(JSON {"hotline": "…", "app": "…", "supervision": "…"})'
            )
        pairs = [(c, k) for c, ks in every.items() for k in ks]
        dev = sorted({c.value for c, k in pairs if k.startswith("dev-") or k in DEV_KEYS.values()})
        if dev:
            reasons.append(f"development key(s) for {', '.join(dev)}: public in the repository")
        short = sorted(
            {c.value for c, k in pairs if len(k) < MIN_KEY_LENGTH and c.value not in dev}
        )
        if short:
            reasons.append(f"key(s) of {', '.join(short)} shorter than {MIN_KEY_LENGTH} characters")
        by_key: dict[str, list[str]] = {}
        for channel, key in pairs:
            if channel.value not in by_key.get(key, []):
                by_key.setdefault(key, []).append(channel.value)
        shared = [" and ".join(cs) for cs in by_key.values() if len(cs) > 1]
        if shared:
            reasons.append(f"one key for {'; '.join(shared)}: the key decides the channel")
        if reasons:
            found.append(Problem(variable("intake_api_keys"), "; ".join(reasons)))
        return found

    def _configured(self) -> dict[Channel, tuple[str, ...]]:
        """The keys set for each channel, current first (empty ones left out)."""
        out = {}
        for channel, value in self.intake_api_keys.items():
            keys = tuple(k for k in ([value] if isinstance(value, str) else value) if k)
            if keys:
                out[channel] = keys
        return out

    def _keys(self) -> dict[Channel, tuple[str, ...]]:
        keys = self._configured()
        if self.env is Environment.LOCAL:
            return {**{c: (k,) for c, k in DEV_KEYS.items()}, **keys}
        kept = {c: tuple(k for k in ks if not k.startswith("dev-")) for c, ks in keys.items()}
        return {c: ks for c, ks in kept.items() if ks}

    def channel_for_key(self, key: str | None) -> Channel | None:
        """The channel a credential belongs to (any of its valid keys); development keys only
        in local mode."""
        if not key:
            return None
        for channel, valid in self._keys().items():
            for expected in valid:
                if hmac.compare_digest(key.encode(), expected.encode()):
                    return channel
        return None

    def keys_of(self, channel: Channel) -> tuple[str, ...]:
        """Every valid key of ``channel``, current first (a record signed with any verifies)."""
        return self._keys().get(channel, ())

    def key_of(self, channel: Channel) -> str | None:
        """The current key of ``channel`` (which signs its submissions-topic records)."""
        valid = self.keys_of(channel)
        return valid[0] if valid else None

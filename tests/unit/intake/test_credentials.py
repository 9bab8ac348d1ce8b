"""The channel comes from the credential; development keys only in local mode."""

from __future__ import annotations

import pytest

from contracts import Channel
from services.intake.settings import IntakeSettings
from services.runtime.settings import Environment


def test_development_keys_name_their_channel_in_local_mode() -> None:
    settings = IntakeSettings(env=Environment.LOCAL)
    assert settings.channel_for_key("dev-hotline") is Channel.HOTLINE
    assert settings.channel_for_key("dev-app") is Channel.APP
    assert settings.channel_for_key("dev-supervision") is Channel.SUPERVISION
    assert settings.channel_for_key("dev-unknown") is None
    assert settings.channel_for_key(None) is None


def test_development_keys_are_refused_outside_local_mode() -> None:
    settings = IntakeSettings(
        env=Environment.PRODUCTION,
        intake_api_keys={Channel.HOTLINE: "dev-hotline", Channel.APP: "s3cr3t-app-key"},
    )
    assert settings.channel_for_key("dev-hotline") is None
    assert settings.channel_for_key("dev-app") is None
    assert settings.channel_for_key("s3cr3t-app-key") is Channel.APP


def test_keys_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_INTAKE_API_KEYS", '{"supervision": "k-sup"}')
    settings = IntakeSettings(env=Environment.PRODUCTION)
    assert settings.channel_for_key("k-sup") is Channel.SUPERVISION

"""Each service checks its configuration when it starts: outside local mode every missing or
unsafe variable is named with the reason and the process exits non-zero within seconds — never
a service that says healthy and then answers 500. Local mode stays as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.intake.settings import IntakeSettings
from services.reporting.settings import ReportingSettings
from services.runtime.auth import DEV_SECRET
from services.runtime.settings import DEV_VAULT_PEPPER, EXIT_CONFIG, Settings, read_settings
from services.sla.settings import SlaSettings
from services.workflow.settings import WorkflowSettings

ROOT = Path(__file__).resolve().parents[2]
SAFE_URL = "postgresql://complaints:Zq8-long-random-pass@db:5432/complaints"
SAFE_SECRET = "x" * 40
SAFE_PEPPER = "p" * 40
SAFE_KEYS = '{"hotline": "hotline-0123456789ab", "app": "app-0123456789abcdef", "supervision": "sup-0123456789abcdef"}'  # noqa: E501
SERVICES: dict[str, type[Settings]] = {
    "intake": IntakeSettings,
    "workflow": WorkflowSettings,
    "sla": SlaSettings,
    "reporting": ReportingSettings,
}
# What each service must be given outside local mode (and names when it is not).
REQUIRED = {
    "intake": {
        "COMPLAINTS_DATABASE_URL",
        "COMPLAINTS_STAFF_TOKEN_SECRET",
        "COMPLAINTS_INTAKE_API_KEYS",
        "COMPLAINTS_VAULT_PEPPER",
    },
    "workflow": {
        "COMPLAINTS_DATABASE_URL",
        "COMPLAINTS_STAFF_TOKEN_SECRET",
        "COMPLAINTS_VAULT_PEPPER",
    },
    # every read of SLA and reporting carries a staff token (issue 16, point 3); every
    # service seals or opens personal data through the vault (issue 16, point 5)
    "sla": {"COMPLAINTS_DATABASE_URL", "COMPLAINTS_STAFF_TOKEN_SECRET", "COMPLAINTS_VAULT_PEPPER"},
    "reporting": {
        "COMPLAINTS_DATABASE_URL",
        "COMPLAINTS_STAFF_TOKEN_SECRET",
        "COMPLAINTS_VAULT_PEPPER",
    },
}


@pytest.fixture(autouse=True)
def no_complaints_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("COMPLAINTS_"):
            monkeypatch.delenv(key)


def named(cls: type[Settings]) -> dict[str, str]:
    settings, problems = read_settings(cls)
    assert settings is not None or problems
    return {p.variable: p.reason for p in problems}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_local_mode_needs_nothing(name: str) -> None:
    assert named(SERVICES[name]) == {}


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_production_without_secrets_names_every_one(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "production")
    assert set(named(SERVICES[name])) == REQUIRED[name]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_production_with_real_secrets_starts(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "COMPLAINTS_ENV": "production",
        "COMPLAINTS_DATABASE_URL": SAFE_URL,
        "COMPLAINTS_STAFF_TOKEN_SECRET": SAFE_SECRET,
        "COMPLAINTS_INTAKE_API_KEYS": SAFE_KEYS,
        "COMPLAINTS_VAULT_PEPPER": SAFE_PEPPER,
    }.items():
        monkeypatch.setenv(key, value)
    assert named(SERVICES[name]) == {}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("postgresql://complaints:complaints@db:5432/complaints", "development default"),
        ("postgresql://complaints:postgres@db/complaints", "development default"),
        ("postgresql://app:app@db/complaints", "the password is the user name"),
        ("postgresql://complaints:@db:5432/complaints", "no password"),
        ("postgresql://complaints@db:5432/complaints", "no password"),
    ],
)
def test_default_or_missing_database_passwords_are_refused(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "production")
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", url)
    assert reason in named(ReportingSettings)["COMPLAINTS_DATABASE_URL"]


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(DEV_SECRET, "development secret"), ("short", "at least 32"), ("", "not set")],
)
def test_the_development_or_a_weak_token_secret_is_refused(
    secret: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "production")
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", SAFE_URL)
    monkeypatch.setenv("COMPLAINTS_STAFF_TOKEN_SECRET", secret)
    assert reason in named(WorkflowSettings)["COMPLAINTS_STAFF_TOKEN_SECRET"]


@pytest.mark.parametrize(
    ("keys", "reasons"),
    [
        ("{}", ["no key for channel(s) hotline, app, supervision"]),
        (
            '{"hotline": "dev-hotline", "app": "app-0123456789abcdef",'
            ' "supervision": "dev-supervision"}',
            ["development key(s) for hotline, supervision"],
        ),
        (
            '{"hotline": "short", "app": "app-0123456789abcdef"}',
            ["no key for channel(s) supervision", "key(s) of hotline shorter than 16"],
        ),
        (
            '{"hotline": "same-key-0123456789", "app": "same-key-0123456789",'
            ' "supervision": "sup-0123456789abcdef"}',
            ["one key for hotline and app"],
        ),
    ],
)
def test_channel_keys_need_one_real_key_per_channel(
    keys: str, reasons: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "production")
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", SAFE_URL)
    monkeypatch.setenv("COMPLAINTS_STAFF_TOKEN_SECRET", SAFE_SECRET)
    monkeypatch.setenv("COMPLAINTS_INTAKE_API_KEYS", keys)
    monkeypatch.setenv("COMPLAINTS_VAULT_PEPPER", SAFE_PEPPER)
    said = named(IntakeSettings)
    assert set(said) == {"COMPLAINTS_INTAKE_API_KEYS"}
    for reason in reasons:
        assert reason in said["COMPLAINTS_INTAKE_API_KEYS"], said


@pytest.mark.parametrize(
    ("pepper", "reason"),
    [(DEV_VAULT_PEPPER, "development pepper"), ("short", "at least 32"), ("", "not set")],
)
def test_the_development_or_a_weak_vault_pepper_is_refused(
    pepper: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "production")
    monkeypatch.setenv("COMPLAINTS_VAULT_PEPPER", pepper)
    assert reason in named(ReportingSettings)["COMPLAINTS_VAULT_PEPPER"]


def test_a_value_that_does_not_parse_is_named_and_the_other_checks_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "production")
    monkeypatch.setenv("COMPLAINTS_INTAKE_API_KEYS", "not json")
    monkeypatch.setenv("COMPLAINTS_INTAKE_PORT", "eighty")
    said = named(IntakeSettings)
    assert set(said) == REQUIRED["intake"] | {"COMPLAINTS_INTAKE_PORT"}
    assert "not valid JSON" in said["COMPLAINTS_INTAKE_API_KEYS"]
    assert "integer" in said["COMPLAINTS_INTAKE_PORT"]


def test_an_unknown_mode_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "prod")
    said = named(ReportingSettings)
    assert "'local' or 'production'" in said["COMPLAINTS_ENV"]


def start(name: str, env: dict[str, str]) -> tuple[int, str, float]:
    """Run ``python -m services.<name>`` from this checkout; (exit code, stderr, seconds)."""
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith("COMPLAINTS_")}
    # Nothing answers there: were the check missing, the service would not reach the shared
    # broker or database of this machine, it would hang (and time out) or fail differently.
    base |= {
        "COMPLAINTS_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "COMPLAINTS_DATABASE_URL": "postgresql://complaints:complaints@127.0.0.1:1/complaints",
        f"COMPLAINTS_{name.upper()}_PORT": "1",
    }
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", f"services.{name}"],
        cwd=ROOT,  # this checkout's code, whatever the virtualenv was installed from
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=30,  # a service that started serving instead would hang here: a failure
    )
    return proc.returncode, proc.stderr, time.monotonic() - started


def test_reporting_in_production_without_secrets_exits_at_once_naming_them() -> None:
    code, err, seconds = start("reporting", {"COMPLAINTS_ENV": "production"})
    assert code == EXIT_CONFIG, err
    assert seconds < 15, seconds
    assert "reporting: refusing to start (COMPLAINTS_ENV=production)" in err
    assert "COMPLAINTS_DATABASE_URL: the password is a development default" in err
    assert "COMPLAINTS_STAFF_TOKEN_SECRET" in err
    assert "Traceback" not in err


def test_intake_in_production_names_every_variable_in_one_go() -> None:
    code, err, _ = start(
        "intake",
        {
            "COMPLAINTS_ENV": "production",
            "COMPLAINTS_INTAKE_API_KEYS": '{"hotline": "dev-hotline"}',
            "COMPLAINTS_STAFF_TOKEN_SECRET": DEV_SECRET,
        },
    )
    assert code == EXIT_CONFIG, err
    lines = [line.strip() for line in err.splitlines()[1:]]
    assert {line.split(":")[0] for line in lines} == REQUIRED["intake"], err
    assert any("development key(s) for hotline" in line for line in lines), err
    assert any("no key for channel(s) app, supervision" in line for line in lines), err
    assert any("is the development secret" in line for line in lines), err

"""``complaints what-if sla``: bad input is refused with the option and the reason, before the
broker or the database is contacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from services import cli

runner = CliRunner()
EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "sla-reply-2-working-days.yaml"
PERIOD = ["--from", "2026-01-01", "--to", "2026-02-28"]


@pytest.fixture(autouse=True)
def nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    # Were anything contacted, it would fail at once rather than reach a real system.
    monkeypatch.setenv("COMPLAINTS_DATABASE_URL", "postgresql://x:y@127.0.0.1:1/none")
    monkeypatch.setenv("COMPLAINTS_KAFKA_BOOTSTRAP", "127.0.0.1:1")


def refused(*args: str) -> str:
    result = runner.invoke(cli.app, ["what-if", "sla", *args])
    assert result.exit_code == 2, result.output
    return result.output


def test_a_missing_policy_file_is_named(tmp_path: Path) -> None:
    out = refused("--policy", str(tmp_path / "nope.yaml"), *PERIOD)
    assert "--policy" in out and "nope.yaml: no such file" in out


def test_invalid_yaml_is_named_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("timers: [unclosed\n", encoding="utf-8")
    out = refused("--policy", str(bad), *PERIOD)
    assert f"--policy {bad}: not valid YAML" in out


def test_a_policy_that_is_yaml_but_no_policy_is_named_with_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "typo.yaml"
    bad.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("[OwnerReplied, TimeCommitted]", "[Replied]"),
        encoding="utf-8",
    )
    out = refused("--policy", str(bad), *PERIOD)
    assert "timers.reply.stops_on: unknown event type(s) Replied" in out


def test_a_bad_calendar_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "cal.yaml"
    bad.write_text("timezone: Mars/Olympus\ndefault: {hours: ['08:00-17:00']}\n", encoding="utf-8")
    out = refused("--calendar", str(bad), *PERIOD)
    assert f"--calendar {bad}: unknown time zone" in out


def test_a_period_that_ends_before_it_starts_is_refused() -> None:
    out = refused("--policy", str(EXAMPLE), "--from", "2026-03-01", "--to", "2026-02-28")
    assert "--from: the period starts (2026-03-01) after it ends (--to 2026-02-28)" in out


def test_a_date_that_is_no_date_is_refused_by_name() -> None:
    out = refused("--policy", str(EXAMPLE), "--from", "2026-02-30", "--to", "2026-03-01")
    assert "--from" in out


def test_without_other_rules_there_is_nothing_to_compare() -> None:
    out = refused(*PERIOD)
    assert "give --policy or --calendar" in out

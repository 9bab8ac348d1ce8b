"""The operator's ``complaints`` command, where no broker or database is needed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import typer
from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from services import cli
from services.runtime.auth import StaffRole, verify_token
from services.runtime.settings import Settings

runner = CliRunner()


def every_command(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and sub-command of a (typer) command group, as argument tuples."""
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from every_command(command, (*prefix, name))


COMMANDS = list(every_command(typer.main.get_command(cli.app)))


def test_the_operator_tasks_are_all_there() -> None:
    assert set(COMMANDS) >= {
        ("token",),
        ("rebuild",),
        ("lag",),
        ("deadletters",),
        ("deadletters", "list"),
        ("deadletters", "replay"),
        ("report",),
        ("report", "monthly"),
        ("docs",),
    }


@pytest.mark.parametrize("command", [(), *COMMANDS], ids=lambda c: " ".join(c) or "complaints")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = runner.invoke(cli.app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # a sentence saying what it does, not just the option list
    assert len(result.output.split("Options")[0].split("Usage:")[1].strip().splitlines()) >= 2


def test_an_unknown_service_is_refused_before_anything_is_contacted() -> None:
    for args in (["rebuild", "billing"], ["lag", "billing"]):
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 2
        assert "intake, workflow, sla, reporting" in result.output


def test_token_prints_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTS_ENV", "local")
    result = runner.invoke(
        cli.app, ["token", "--staff-id", "A001", "--role", "cs_agent", "--office", "Y园"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count(".") == 2  # a JWT


class Reporting(BaseHTTPRequestHandler):
    """A stand-in for the reporting service's report endpoints."""

    asked: list[tuple[str, dict[str, list[str]]]] = []
    tokens: list[str | None] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = parse_qs(url.query)
        Reporting.asked.append((url.path, params))
        Reporting.tokens.append(self.headers.get("Authorization"))
        if url.path == "/v1/reports/monthly":
            if params.get("from") == ["2026-02-01"] and params.get("to") == ["2026-01-31"]:
                return self.answer(422, b'{"detail": "from: the period starts after it ends"}')
            return self.answer(200, b'{"total": 3}', "application/json")
        if url.path == "/v1/reports/monthly.csv":
            return self.answer(200, "\ufeff指标,数值\n".encode(), "text/csv; charset=utf-8")
        if url.path == "/v1/reports/monthly.xlsx":
            return self.answer(200, b"PK\x03\x04workbook", "application/octet-stream")
        return self.answer(404, b'{"detail": "Not Found"}')

    def answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        return None


@pytest.fixture
def reporting_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Reporting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Reporting.asked.clear()
    Reporting.tokens.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_report_monthly_as_json_to_standard_output(reporting_url: str) -> None:
    result = runner.invoke(
        cli.app,
        ["report", "monthly", "--from", "2026-01-01", "--to", "2026-01-31", "--office", "Y园"],
        env={"COMPLAINTS_REPORTING_URL": reporting_url},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"total": 3}
    path, params = Reporting.asked[-1]
    assert path == "/v1/reports/monthly"
    assert params == {"from": ["2026-01-01"], "to": ["2026-01-31"], "office": ["Y园"]}
    # reporting answers no one without a token: the CLI signs an analyst's in local mode
    bearer = Reporting.tokens[-1]
    assert bearer is not None and bearer.startswith("Bearer ")
    assert verify_token(Settings(), bearer.removeprefix("Bearer ")).role is StaffRole.ANALYST


def test_report_monthly_sends_the_token_it_is_given(reporting_url: str) -> None:
    result = runner.invoke(
        cli.app,
        ["report", "monthly", "--token", "given-token"],
        env={"COMPLAINTS_REPORTING_URL": reporting_url},
    )
    assert result.exit_code == 0, result.output
    assert Reporting.tokens[-1] == "Bearer given-token"


def test_report_monthly_as_a_workbook_and_a_csv_sheet(reporting_url: str, tmp_path: Path) -> None:
    target = tmp_path / "jan.xlsx"
    result = runner.invoke(
        cli.app,
        ["report", "monthly", "--format", "xlsx", "--output", str(target), "--url", reporting_url],
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == b"PK\x03\x04workbook"
    result = runner.invoke(
        cli.app,
        ["report", "monthly", "--format", "csv", "--sheet", "attachment2", "--url", reporting_url],
    )
    assert result.exit_code == 0, result.output
    assert "指标,数值" in result.stdout
    assert Reporting.asked[-1] == ("/v1/reports/monthly.csv", {"sheet": ["attachment2"]})


def test_report_errors_are_one_clear_line(reporting_url: str) -> None:
    bad = runner.invoke(
        cli.app,
        ["report", "monthly", "--from", "2026-02-01", "--to", "2026-01-31", "--url", reporting_url],
    )
    assert bad.exit_code == 1
    assert "422" in bad.output and "from: the period starts after it ends" in bad.output

    missing = runner.invoke(
        cli.app, ["report", "monthly", "--url", reporting_url + "/nothing-here"]
    )
    assert missing.exit_code == 1
    assert "404" in missing.output and "/nothing-here/v1/reports/monthly" in missing.output

    down = runner.invoke(cli.app, ["report", "monthly", "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1
    assert "cannot reach the reporting service at http://127.0.0.1:9" in down.output

    wrong = runner.invoke(cli.app, ["report", "monthly", "--from", "01/02/2026"])
    assert wrong.exit_code == 2


def test_lag_table_totals_each_group() -> None:
    rows = [
        cli.LagRow("reporting.complaints.v1", "t", 0, 10, 10, 0, "reporting-aa@127.0.0.1", None),
        cli.LagRow("reporting.complaints.v1", "t", 1, 5, 15, 10, "reporting-bb@127.0.0.1", None),
    ]
    table = list(cli.format_lag(rows))
    assert table[0].split() == ["CONSUMER", "PARTITION", "APPLIED", "END", "LAG", "OWNER"]
    owner = "reporting-bb@127.0.0.1"
    assert table[2].split() == ["reporting.complaints.v1", "1", "5", "15", "10", owner]
    assert table[-1].split()[:5] == ["reporting.complaints.v1", "total", "15", "25", "10"]
    assert "2 copies running, 60.0% applied" in table[-1]


def test_a_dead_letter_is_read_from_its_headers() -> None:
    headers = [
        ("dlq-consumer", b"sla.clocks.v2"),
        ("dlq-topic", b"complaints.events"),
        ("dlq-partition", b"4"),
        ("dlq-offset", b"120"),
        ("dlq-error", b"ValidationError: 1 validation error\nfield\n  input_value='x'"),
    ]
    record = ConsumerRecord(
        "complaints.deadletter", 0, 7, 0, 0, b"k", b"\xff not json", None, 1, 10, headers
    )
    row = cli._dead_letter_row(record)
    assert (row.consumer, row.topic, row.partition, row.offset) == (
        "sla.clocks.v2",
        "complaints.events",
        4,
        120,
    )
    assert (row.dlq_offset, row.status, row.event_id) == (7, "unknown", None)
    assert "value" not in row.public() and "key" not in row.public()
    assert cli._first_line(row.error) == "ValidationError: 1 validation error"

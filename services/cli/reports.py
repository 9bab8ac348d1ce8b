"""``complaints report monthly``: the monthly report from the reporting service, as JSON, XLSX or
CSV."""

from __future__ import annotations

import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import httpx
import typer

from services.cli.common import (
    DEFAULT_REPORTING_URL,
    fail,
    report_app,
)
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.settings import Settings

# -- reports --------------------------------------------------------------------------------


class ReportFormat(StrEnum):
    """What ``report monthly`` asks the reporting service for."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class Sheet(StrEnum):
    """The sheets of the monthly report (for CSV)."""

    summary = "summary"
    attachment1 = "attachment1"
    attachment2 = "attachment2"


@report_app.command("monthly")
def report_monthly(
    period_from: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="First day (default: this month)"),
    ] = None,
    period_to: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive"),
    ] = None,
    office: Annotated[str | None, typer.Option(help="One 管理处; default: the company")] = None,
    as_of: Annotated[
        str | None, typer.Option(help="As the log stood at this instant (ISO 8601)")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="json, csv or xlsx")] = (
        ReportFormat.json
    ),
    sheet: Annotated[Sheet, typer.Option(help="For csv: which sheet")] = Sheet.summary,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file (default: standard output)")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="COMPLAINTS_REPORTING_URL", help="The reporting service")
    ] = DEFAULT_REPORTING_URL,
    bearer: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="COMPLAINTS_TOKEN",
            help="A staff token (`complaints token`); default: an analyst's, signed with this "
            "machine's COMPLAINTS_STAFF_TOKEN_SECRET (the development secret in local mode)",
        ),
    ] = None,
) -> None:
    """The monthly report (客户投诉工作月报) for a period, from the reporting service."""
    path = {"json": "/v1/reports/monthly", "csv": "/v1/reports/monthly.csv"}.get(
        fmt.value, "/v1/reports/monthly.xlsx"
    )
    given = {
        "from": period_from.date().isoformat() if period_from is not None else None,
        "to": period_to.date().isoformat() if period_to is not None else None,
        "office": office or None,
        "as_of": as_of or None,
        "sheet": sheet.value if fmt is ReportFormat.csv else None,
    }
    params = {name: value for name, value in given.items() if value is not None}
    if fmt is ReportFormat.xlsx and output is None and sys.stdout.isatty():
        raise fail("an xlsx workbook is binary: give --output FILE", 2)
    if bearer is None:
        try:
            bearer = issue_token(Settings(), Staff(staff_id="cli-report", role=StaffRole.ANALYST))
        except RuntimeError as exc:
            raise fail(f"--token: none given and none can be signed here ({exc})", 2) from None
    _write(fetch(url, path, params, bearer), output, newline=fmt is ReportFormat.json)


def _write(body: bytes, output: Path | None, *, newline: bool) -> None:
    """``body`` to ``output``, or to standard output (ending in a newline when ``newline``)."""
    if output is not None:
        output.write_bytes(body)
        typer.echo(f"wrote {output} ({len(body)} bytes)", err=True)
        return
    sys.stdout.buffer.write(body)
    if newline and not body.endswith(b"\n"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.buffer.flush()


def fetch(base: str, path: str, params: dict[str, str], token: str) -> bytes:
    """GET ``base + path`` with a staff token; any failure becomes one clear line and exit
    status 1."""
    target = base.rstrip("/") + path
    headers = {"Authorization": f"Bearer {token}"}
    try:
        resp = httpx.get(target, params=params, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        raise fail(
            f"cannot reach the reporting service at {base} ({type(exc).__name__}: {exc}); "
            "is it running? set COMPLAINTS_REPORTING_URL or --url"
        ) from None
    if resp.status_code >= 400:
        detail = resp.text[:500]
        try:
            detail = str(resp.json().get("detail", detail))
        except (ValueError, AttributeError):
            pass
        hint = " (this reporting service does not offer it: is it up to date?)"
        raise fail(
            f"reporting answered {resp.status_code} {resp.reason_phrase} for GET {resp.url}: "
            f"{detail}{hint if resp.status_code == 404 else ''}"
        )
    return resp.content

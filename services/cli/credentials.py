"""``complaints erase``, ``token`` and ``docs``: personal data erased, staff tokens, interface
documents."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import httpx
import typer

from contracts.privacy import ErasureReason
from services.cli.common import (
    app,
    fail,
)
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.settings import Settings

# -- credentials and documents --------------------------------------------------------------


DEFAULT_WORKFLOW_URL = "http://127.0.0.1:8002"


@app.command()
def erase(
    phone: Annotated[str, typer.Option(help="The complainant's phone, in any written form")],
    reason: Annotated[ErasureReason, typer.Option(help="Why (a code: no free text)")],
    reference: Annotated[
        str | None, typer.Option(help="The request's or order's number, e.g. REQ-2026-17")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="COMPLAINTS_WORKFLOW_URL", help="The workflow service")
    ] = DEFAULT_WORKFLOW_URL,
    bearer: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="COMPLAINTS_TOKEN",
            help="A company-role staff token (`complaints token --role company`): whoever "
            "erases is named in the audit event",
        ),
    ] = "",
) -> None:
    """Erase a complainant's personal data (PIPL Art. 47): their key is destroyed, and their
    name, phone, description and demand read 已删除 everywhere, at once and after any rebuild."""
    if not bearer:
        raise fail("--token: a company-role staff token is required (COMPLAINTS_TOKEN)", 2)
    target = url.rstrip("/") + "/v1/complainants/erasures"
    body: dict[str, Any] = {"phone": phone, "reason": reason.value}
    if reference is not None:
        body["reference"] = reference
    try:
        resp = httpx.post(
            target, json=body, headers={"Authorization": f"Bearer {bearer}"}, timeout=30
        )
    except httpx.HTTPError as exc:
        raise fail(
            f"cannot reach the workflow service at {url} ({type(exc).__name__}: {exc}); "
            "is it running? set COMPLAINTS_WORKFLOW_URL or --url"
        ) from None
    if resp.status_code >= 400:
        try:
            detail = resp.json().get("detail", resp.text[:500])
        except (ValueError, AttributeError):
            detail = resp.text[:500]
        raise fail(f"workflow answered {resp.status_code} {resp.reason_phrase}: {detail}")
    answer = resp.json()
    typer.echo(f"{answer['message']} (complainant {answer['complainant_ref'][:12]}…)")


@app.command()
def token(
    staff_id: Annotated[str, typer.Option(help="工号 of the staff member")],
    role: Annotated[StaffRole, typer.Option(help="What they act as (analyst: reads only)")],
    office: Annotated[str | None, typer.Option(help="管理处; omit for company-wide roles")] = None,
    hours: Annotated[float, typer.Option(help="How long the token is valid")] = 12.0,
) -> None:
    """Issue a staff bearer token (signed with COMPLAINTS_STAFF_TOKEN_SECRET)."""
    try:
        staff = Staff(staff_id=staff_id, role=role, office=office)
        typer.echo(issue_token(Settings(), staff, ttl=timedelta(hours=hours)))
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc), 2) from None


@app.command()
def docs(
    check: Annotated[
        bool, typer.Option(help="Write nothing; exit 1 if a document is out of date")
    ] = False,
) -> None:
    """Write the interface documents from the code (what `make docs` runs).

    docs/openapi/<service>.json: each HTTP service's OpenAPI document; docs/asyncapi.json:
    FastStream's AsyncAPI document of the topics and events.
    """
    from services import apidocs

    code = apidocs.main(["--check"] if check else [])
    if code:
        raise typer.Exit(code)

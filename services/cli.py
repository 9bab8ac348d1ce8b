"""``complaints``: the operator's command line.

complaints token --staff-id 1001 --role cs_agent --office Y园
complaints rebuild reporting
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import asyncpg
import typer

from contracts.lifecycle import Role
from services.runtime.auth import Staff, issue_token
from services.runtime.settings import Settings

app = typer.Typer(help="Operate the complaint platform (投诉处理平台).", no_args_is_help=True)

SERVICES = ("workflow", "sla", "reporting")


@app.command()
def token(
    staff_id: Annotated[str, typer.Option(help="工号 of the staff member")],
    role: Annotated[Role, typer.Option(help="What they act as")],
    office: Annotated[str | None, typer.Option(help="管理处; omit for company-wide roles")] = None,
    hours: Annotated[float, typer.Option(help="How long the token is valid")] = 12.0,
) -> None:
    """Issue a staff bearer token (signed with COMPLAINTS_STAFF_TOKEN_SECRET)."""
    try:
        staff = Staff(staff_id=staff_id, role=role, office=office)
        typer.echo(issue_token(Settings(), staff, ttl=timedelta(hours=hours)))
    except (ValueError, RuntimeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def rebuild(
    service: Annotated[str, typer.Argument(help="workflow, sla or reporting")],
) -> None:
    """Rebuild a service's projections from offset 0 at its next start.

    Marks the stored projection version stale; when the service starts (restart it), it drops
    its projection tables and replays the whole log. Kafka is the source of truth, so nothing
    is lost.
    """
    if service not in SERVICES:
        typer.echo(f"error: service must be one of {', '.join(SERVICES)}", err=True)
        raise typer.Exit(2)

    async def mark() -> int:
        conn = await asyncpg.connect(Settings().database_url)
        try:
            status = await conn.execute(
                f"UPDATE {service}.projection_version SET version = 'rebuild-requested' "
                "WHERE service = $1",
                service,
            )
        finally:
            await conn.close()
        return int(status.split()[-1])

    if asyncio.run(mark()) == 0:
        typer.echo(f"{service} has never started here: it will build from offset 0 anyway")
    else:
        typer.echo(f"{service}: restart it to rebuild from offset 0 (make down && make up)")

"""``complaints notifications``: the SLA notifier's deliveries, and retrying dead ones.

complaints notifications list [--complaint ID] [--state dead] [--limit 50] [--json]
complaints notifications retry DELIVERY_ID
complaints notifications retry --all-dead [--target T] [--since 2026-12-04T08:00+08:00]

Reads and writes ``sla.notification_deliveries`` at ``COMPLAINTS_DATABASE_URL`` directly (the
SLA service need not be up; a retried delivery is sent by the next worker round of any copy).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import asyncpg
import typer

from services.runtime.settings import Settings
from services.sla import deliveries_store, notifier

app = typer.Typer(
    help="Notifications of alerts to the group robots (WeCom, DingTalk): list, retry dead ones.",
    no_args_is_help=True,
)

T = TypeVar("T")
UNREACHABLE = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _with_db(work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    async def go() -> T:
        conn = await asyncpg.connect(Settings().database_url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    try:
        return asyncio.run(go())
    except asyncpg.UndefinedTableError:
        raise _fail("no notifications table: has the SLA service ever started here?") from None
    except UNREACHABLE as exc:
        raise _fail(f"reading the deliveries: {type(exc).__name__}: {exc}") from None


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else str(v) if isinstance(v, UUID) else v)
        for k, v in row.items()
    }


def _short(text: str | None, width: int = 60) -> str:
    line = (text or "").splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@app.command("list")
def list_deliveries(
    complaint: Annotated[
        UUID | None, typer.Option(help="Only this complaint's deliveries (its id)")
    ] = None,
    state: Annotated[
        str | None, typer.Option(help="Only this state: pending, retrying, delivered or dead")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per delivery")] = False,
) -> None:
    """Deliveries of alerts to robots, newest first, with their state and last error."""
    if state is not None and state not in notifier.STATES:
        raise _fail(f"--state must be one of {', '.join(notifier.STATES)}", 2)
    rows = _with_db(
        lambda conn: deliveries_store.deliveries(
            conn, complaint_id=complaint, state=state, limit=limit
        )
    )
    if as_json:
        for row in rows:
            typer.echo(json.dumps(_public(row), ensure_ascii=False))
        return
    if not rows:
        typer.echo("no deliveries")
        return
    typer.echo(
        f"{'DELIVERY':<36} {'COMPLAINT':<36} {'ALERT':<10} {'TARGET':<20} "
        f"{'STATE':<9} {'TRIES':>5} LAST ERROR"
    )
    for row in rows:
        typer.echo(
            f"{row['delivery_id']!s:<36} {row['complaint_id']!s:<36} {row['alert_kind']:<10} "
            f"{row['target']:<20} {row['state']:<9} {row['attempts']:>5} "
            f"{_short(row['last_error'])}"
        )


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"--since: not an ISO 8601 instant: {value!r}", 2) from None
    if at.tzinfo is None:
        raise _fail(f"--since: {value!r} needs a UTC offset, e.g. 2026-12-04T08:00+08:00", 2)
    return at


@app.command("retry")
def retry_delivery(
    delivery_id: Annotated[
        UUID | None, typer.Argument(help="A dead delivery's id (from `list`)")
    ] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Every dead delivery (with --target, --since)")
    ] = False,
    target: Annotated[
        str | None, typer.Option(help="With --all-dead: only those to this target (its name)")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="With --all-dead: only alerts recorded at or after this instant "
            "(ISO 8601 with offset)"
        ),
    ] = None,
) -> None:
    """Send a dead delivery again, or every dead one (pending now, attempts and the age to
    give up at counted afresh); the robots' pacing spreads a bulk retry out."""
    if all_dead and delivery_id is not None:
        raise _fail("give either a DELIVERY_ID or --all-dead, not both", 2)
    if not all_dead and (target is not None or since is not None):
        raise _fail("--target and --since go with --all-dead", 2)
    if delivery_id is None:
        if not all_dead:
            raise _fail("give a DELIVERY_ID, or --all-dead", 2)
        after = _since(since)
        rows = _with_db(lambda conn: deliveries_store.retry_dead(conn, target=target, since=after))
        for row in rows:
            typer.echo(
                f"{row['delivery_id']}: pending again ({row['alert_kind']} to {row['target']})"
            )
        typer.echo(f"{len(rows)} dead deliveries pending again")
        return
    chosen = delivery_id

    async def work(conn: asyncpg.Connection) -> dict[str, Any]:
        return await deliveries_store.retry(conn, chosen)

    try:
        row = _with_db(work)
    except deliveries_store.NotRetryable as exc:
        raise _fail(str(exc)) from None
    typer.echo(
        f"{row['delivery_id']}: pending again ({row['alert_kind']} to {row['target']}); "
        "the SLA service sends it within a second"
    )

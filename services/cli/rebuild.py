"""``complaints rebuild``: a new projection generation, built beside the live one, with its
progress."""

from __future__ import annotations

import getpass
import socket
import time
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from services.cli.common import (
    _check_service,
    app,
    fail,
    run,
)
from services.runtime import store
from services.runtime.generations import AlreadyBuilding, Generation, Generations
from services.runtime.settings import Settings

# -- rebuild --------------------------------------------------------------------------------


@app.command()
def rebuild(
    service: Annotated[str, typer.Argument(help="intake, workflow, sla or reporting")],
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Ask for the rebuild and return at once")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Where the service's generations stand; no change")
    ] = False,
    poll: Annotated[float, typer.Option(help="Seconds between progress reads")] = 0.5,
) -> None:
    """Rebuild a service's projections from offset 0 beside the live ones, then swap them in.

    A new generation of the projection tables is built by one running copy of the service
    (whichever takes the builder lease) while every copy goes on answering from the live
    generation; once it has caught up with the log it is swapped in atomically and the old one
    is dropped. Shows a progress bar until the swap (exit 0) or a failure (exit 1, with the
    reason). Asking while a rebuild runs says so and changes nothing (exit 1).
    """
    _check_service(service)
    settings = Settings()
    registry = Generations(schema=service, version="", tables=[])

    def read() -> Coroutine[Any, Any, Standing]:
        return _standing(settings, service, registry)

    if status:
        live, _, every = run(read(), "cannot read the generations")
        if live is None:
            raise fail(f"{service} has never started here: no generation yet")
        for line in format_generations(every):
            typer.echo(line)
        return

    try:
        gen = run(_request(settings, service, registry), "cannot ask for the rebuild")
    except AlreadyBuilding as running:
        raise fail(
            f"{service}: {running}; nothing changed (watch: complaints rebuild {service} --status)"
        ) from None
    except LookupError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{service}: generation {gen.gen} will be built beside the live one")
    if no_wait:
        return
    final = _follow_build(service, gen.gen, read, poll)
    if final.state != "live":
        raise fail(f"{service}: generation {final.gen} failed: {final.error or final.state}")
    took = (final.swapped_at or final.updated_at) - final.created_at
    typer.echo(f"{service}: generation {final.gen} is live ({took.total_seconds():.1f} s)")


Standing = tuple[Generation | None, Generation | None, list[Generation]]
"""The live generation, the one being built, and every generation."""


async def _standing(settings: Settings, service: str, registry: Generations) -> Standing:
    """Where ``service``'s generations stand (nothing, if it never started here)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        if not await store.table_exists(conn, f"{service}.generations"):
            return None, None, []
        return (
            await registry.live(conn),
            await registry.building(conn),
            await registry.all(conn),
        )
    finally:
        await conn.close()


async def _request(settings: Settings, service: str, registry: Generations) -> Generation:
    """Ask for a new generation of ``service``'s projections, saying who asked."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await registry.request(
            conn, f"complaints rebuild {service} ({getpass.getuser()}@{socket.gethostname()})"
        )
    finally:
        await conn.close()


def format_generations(generations: list[Generation]) -> list[str]:
    """``complaints rebuild --status``: one line per generation, newest first."""
    lines = []
    for g in generations:
        line = f"generation {g.gen:>3}  {g.state:<8}  version {g.version}  {g.reason}"
        if g.state == "building":
            done, total = g.events_done or 0, g.events_total or 0
            eta = f"{(g.lag or 0) / g.rate:.0f} s" if g.rate else "?"
            line += (
                f"\n               {done:,}/{total:,} events, {g.rate or 0:,.0f}/s, "
                f"lag {g.lag or 0:,}, ETA {eta}, builder {g.builder or '(none yet)'}"
            )
        if g.error:
            line += f"\n               error: {g.error}"
        lines.append(line)
    return lines


def _follow_build(
    service: str,
    gen: int,
    read: Callable[[], Coroutine[Any, Any, tuple[Any, Any, list[Generation]]]],
    poll: float,
) -> Generation:
    """Show the build of ``gen`` as a progress bar until it is live or failed."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10} ev/s"),
        TextColumn("lag {task.fields[lag]}"),
        TextColumn("ETA {task.fields[eta]}"),
    )
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task(f"{service} g{gen}", total=None, rate="-", lag="-", eta="-")
        while True:
            _, _, every = run(read(), "cannot read the generations")
            mine = next((g for g in every if g.gen == gen), None)
            if mine is None:
                raise fail(f"{service}: generation {gen} is gone from the registry")
            rate = mine.rate or 0.0
            progress.update(
                task,
                completed=mine.events_done or 0,
                total=mine.events_total or None,
                rate=f"{rate:,.0f}",
                lag=f"{mine.lag or 0:,}",
                eta=f"{(mine.lag or 0) / rate:.0f} s" if rate else "?",
            )
            if mine.state != "building":
                return mine
            time.sleep(poll)

"""``complaints lag``: how far each consumer group is behind the log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated

import asyncpg
import typer

from services.cli.common import (
    Group,
    _check_service,
    _kafka_reader,
    _stored_offsets,
    app,
    consumer_groups,
    describe_group,
    run,
)
from services.runtime.kafka import (
    topic_partitions,
)
from services.runtime.settings import Settings

# -- lag ------------------------------------------------------------------------------------


@dataclass
class LagRow:
    """One partition of one consumer group: how far it has applied the log."""

    consumer: str
    topic: str
    partition: int
    applied: int
    end: int
    lag: int
    owner: str | None
    updated_at: str | None


async def measure_lag(settings: Settings, groups: list[Group]) -> list[LagRow]:
    """End offset (Kafka) − next offset stored with the projection (PostgreSQL), per partition."""
    rows: list[LagRow] = []
    conn = await asyncpg.connect(settings.database_url)
    try:
        async with _kafka_reader(settings) as reader:
            for group in groups:
                tps = await topic_partitions(reader, group.topic)
                ends = await reader.end_offsets(tps) if tps else {}
                stored = await _stored_offsets(conn, group)
                view = await describe_group(settings, group.kafka_group, group.topic, wait_s=3.0)
                owners = {p: m.short for m in view.members for p in m.partitions}
                for tp in tps:
                    applied, updated = stored.get(tp.partition, (0, None))
                    end = ends[tp]
                    rows.append(
                        LagRow(
                            consumer=group.name,
                            topic=group.topic,
                            partition=tp.partition,
                            applied=applied,
                            end=end,
                            lag=max(end - applied, 0),
                            owner=owners.get(
                                tp.partition, "(rebalancing)" if view.rebalancing else None
                            ),
                            updated_at=updated.isoformat() if updated else None,
                        )
                    )
    finally:
        await conn.close()
    return rows


def format_lag(rows: list[LagRow]) -> Iterator[str]:
    """A table: one line per partition, a total line per consumer group."""
    yield f"{'CONSUMER':<26} {'PARTITION':>9} {'APPLIED':>9} {'END':>9} {'LAG':>7}  OWNER"
    by_consumer: dict[str, list[LagRow]] = {}
    for row in rows:
        by_consumer.setdefault(row.consumer, []).append(row)
    for consumer, parts in by_consumer.items():
        for r in parts:
            yield (
                f"{consumer:<26} {r.partition:>9} {r.applied:>9} {r.end:>9} {r.lag:>7}  "
                f"{r.owner or '-'}"
            )
        applied = sum(min(r.applied, r.end) for r in parts)
        end = sum(r.end for r in parts)
        copies = len({r.owner for r in parts if r.owner and r.owner != "(rebalancing)"})
        share = f"{100 * applied / end:.1f}%" if end else "100%"
        yield (
            f"{consumer:<26} {'total':>9} {applied:>9} {end:>9} {sum(r.lag for r in parts):>7}  "
            f"{copies} cop{'y' if copies == 1 else 'ies'} running, {share} applied"
        )


@app.command()
def lag(
    service: Annotated[
        str | None, typer.Argument(help="intake, workflow, sla or reporting; default: all")
    ] = None,
    watch: Annotated[
        float | None,
        typer.Option(help="Print again every this many seconds until Ctrl-C", min=0.5),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per partition")] = False,
) -> None:
    """Show each consumer group's lag: events in Kafka not yet applied to its projection.

    Lag = Kafka's end offset − the offset stored with the projection in PostgreSQL (offsets are
    never committed to Kafka). OWNER is the copy of the service Kafka assigned the partition
    to; a partition without an owner is read by nobody now.
    """
    settings = Settings()
    groups = consumer_groups(_check_service(service))
    while True:
        rows = run(measure_lag(settings, groups), "cannot read offsets")
        if as_json:
            for row in rows:
                typer.echo(json.dumps(asdict(row), ensure_ascii=False))
        else:
            if watch:
                typer.echo(f"-- {datetime.now().isoformat(timespec='seconds')}")
            for line in format_lag(rows):
                typer.echo(line)
        if not watch:
            return
        time.sleep(watch)

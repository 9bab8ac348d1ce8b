"""``complaints deadletters list | replay``: the records consumers gave up on, and sending them
again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Annotated, Any

import asyncpg
import typer
from aiokafka import AIOKafkaProducer

from contracts import Envelope
from services.cli.common import (
    SERVICES,
    deadletters_app,
    run,
)
from services.runtime import store
from services.runtime.kafka import (
    client_options,
    event_headers,
    read_to_end,
)
from services.runtime.settings import Settings

# -- dead letters ---------------------------------------------------------------------------


@dataclass
class DeadLetterRow:
    """One record of the dead-letter topic, and whether its consumer has applied it since."""

    dlq_partition: int
    dlq_offset: int
    consumer: str
    topic: str
    partition: int | None
    offset: int | None
    error: str
    event_type: str | None
    event_id: str | None
    complaint_id: str | None
    status: str  # applied (since: a replay or a rebuild), pending, unknown
    key: bytes | None = field(repr=False, default=None)
    value: bytes | None = field(repr=False, default=None)

    def public(self) -> dict[str, Any]:
        """What ``list --json`` shows (no payload: it may hold personal data)."""
        out = asdict(self)
        out.pop("key")
        out.pop("value")
        return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def read_deadletters(settings: Settings) -> list[DeadLetterRow]:
    """Every record of the dead-letter topic (it is kept forever), with its status."""
    rows: list[DeadLetterRow] = []
    async for batch in read_to_end(settings, settings.topic_deadletter):
        rows += [_dead_letter_row(record) for record in batch]
    await _mark_applied(settings, rows)
    return rows


def _dead_letter_row(record: Any) -> DeadLetterRow:
    headers = {k: v.decode("utf-8", "replace") for k, v in record.headers or ()}
    envelope: Envelope | None
    try:
        envelope = Envelope.model_validate_json(record.value or b"")
    except ValueError:
        envelope = None
    return DeadLetterRow(
        dlq_partition=record.partition,
        dlq_offset=record.offset,
        consumer=headers.get("dlq-consumer", "?"),
        topic=headers.get("dlq-topic", "?"),
        partition=_int(headers.get("dlq-partition")),
        offset=_int(headers.get("dlq-offset")),
        error=headers.get("dlq-error", ""),
        event_type=envelope.type if envelope else None,
        event_id=str(envelope.event_id) if envelope else None,
        complaint_id=str(envelope.complaint_id) if envelope else None,
        status="pending" if envelope else "unknown",
        key=record.key,
        value=record.value,
    )


async def _mark_applied(settings: Settings, rows: list[DeadLetterRow]) -> None:
    """Set ``status = applied`` where the consumer has applied the event since."""
    wanted = [r for r in rows if r.event_id is not None]
    if not wanted:
        return
    conn = await asyncpg.connect(settings.database_url)
    try:
        for row in wanted:
            schema = row.consumer.split(".")[0]
            if schema not in SERVICES:
                continue
            try:
                applied = await store.group_applied(conn, schema, row.consumer, str(row.event_id))
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                applied = False
            if applied:
                row.status = "applied"
    finally:
        await conn.close()


def _first_line(text: str, width: int = 70) -> str:
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def _select(
    rows: list[DeadLetterRow], consumer: str | None, offsets: list[int] | None
) -> list[DeadLetterRow]:
    return [
        r
        for r in rows
        if (consumer is None or r.consumer == consumer) and (not offsets or r.dlq_offset in offsets)
    ]


@deadletters_app.command("list")
def deadletters_list(
    consumer: Annotated[
        str | None, typer.Option(help="Only this consumer group, e.g. reporting.complaints.v1")
    ] = None,
    pending: Annotated[bool, typer.Option(help="Only records not applied since")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per record")] = False,
) -> None:
    """List the dead-letter topic: which consumer gave up on which record, and why.

    STATUS is "applied" once the consumer has applied that event since (after a replay or a
    rebuild), "pending" while it has not, "unknown" for a record that is not an event at all.
    The error is shortened to its first line (the full text is in --json).
    """
    settings = Settings()
    rows = _select(run(read_deadletters(settings), "cannot read dead letters"), consumer, None)
    if pending:
        rows = [r for r in rows if r.status != "applied"]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row.public(), ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"no dead letters in {settings.topic_deadletter}")
        return
    typer.echo(f"{'DLQ@':>5} {'CONSUMER':<24} {'FROM':<28} {'EVENT':<22} {'STATUS':<8} ERROR")
    for r in rows:
        origin = f"{r.topic}[{r.partition}]@{r.offset}"
        typer.echo(
            f"{r.dlq_offset:>5} {r.consumer:<24} {origin:<28} {r.event_type or '-':<22} "
            f"{r.status:<8} {_first_line(r.error)}"
        )


@deadletters_app.command("replay")
def deadletters_replay(
    consumer: Annotated[
        str | None, typer.Option(help="Only what this consumer group dead-lettered")
    ] = None,
    offset: Annotated[
        list[int] | None,
        typer.Option(help="Only the dead letter at this DLQ offset (repeatable)"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Show what would be replayed; send nothing")
    ] = False,
    topic: Annotated[
        str | None,
        typer.Option(help="Publish here instead of the original topic (after a repartition)"),
    ] = None,
) -> None:
    """Re-publish dead-lettered records to their original topic, after the fix is deployed.

    Takes every record not applied since (or those selected), once each even when several
    consumers dead-lettered it, and appends it unchanged (same key, same bytes, same event_id)
    to the topic it came from. Safe to repeat: every consumer ignores an event_id it has
    already applied, so only the consumers that failed apply it.
    """
    settings = Settings()
    rows = _select(run(read_deadletters(settings), "cannot read dead letters"), consumer, offset)
    chosen: dict[tuple[str, int | None, int | None], DeadLetterRow] = {}
    for row in rows:
        if row.status != "applied" and row.topic != "?":
            chosen.setdefault((row.topic, row.partition, row.offset), row)
    if not chosen:
        typer.echo("nothing to replay")
        return
    for row in chosen.values():
        typer.echo(
            f"{'would replay' if dry_run else 'replaying'} DLQ@{row.dlq_offset} → "
            f"{topic or row.topic} "
            f"({row.event_type or 'not an event'}, first dead-lettered by {row.consumer})"
        )
    if dry_run:
        return
    run(_republish(settings, list(chosen.values()), topic), "cannot publish")
    typer.echo(
        f"replayed {len(chosen)} record(s); `complaints deadletters list` shows them as "
        "applied once the consumers have read them"
    )


async def _republish(settings: Settings, rows: list[DeadLetterRow], topic: str | None) -> None:
    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True, acks="all")
    try:
        await producer.start()
        for row in rows:
            headers = {"replay-of": f"{row.topic}/{row.partition}/{row.offset}"}
            try:
                headers |= event_headers(Envelope.model_validate_json(row.value or b""))
            except ValueError:
                pass
            await producer.send_and_wait(
                topic or row.topic,
                row.value,
                key=row.key,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
    finally:
        await producer.stop()

"""``complaints``: the operator's command line (``complaints --help``, ``complaints X --help``).

complaints token --staff-id 1001 --role cs_agent --office Y园
complaints lag [reporting] [--watch 2]
complaints rebuild reporting
complaints deadletters list | replay [--consumer C] [--offset N] [--dry-run]
complaints report monthly --from 2026-01-01 --to 2026-01-31 --format xlsx --output jan.xlsx
complaints repartition --to complaints.events.v2 --partitions 12
complaints what-if sla --policy other.yaml [--calendar other.yaml] --from 2026-01-01 --to 2026-02-28
complaints erase --phone 13812345678 --reason owner_request [--reference REQ-2026-17] --token …
complaints docs [--check]
complaints notifications list [--complaint ID] [--state dead] | retry DELIVERY_ID

It reads the same ``COMPLAINTS_*`` variables as the services (broker, database, topic names);
``report`` talks to the reporting service at ``COMPLAINTS_REPORTING_URL``, ``erase`` to the
workflow service at ``COMPLAINTS_WORKFLOW_URL``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import asyncpg
import httpx
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from contracts import Envelope
from contracts.privacy import ErasureReason
from services import catalog
from services.runtime import store
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.consumer import group_id
from services.runtime.generations import AlreadyBuilding, Generation, Generations
from services.runtime.kafka import (
    client_options,
    end_offsets,
    event_headers,
    read_to_end,
    topic_partitions,
)
from services.runtime.settings import Settings
from services.sla.cli import app as notifications_app

app = typer.Typer(
    help="Operate the complaint platform (投诉处理平台). Reads the same COMPLAINTS_* "
    "variables as the services.",
    no_args_is_help=True,
)
deadletters_app = typer.Typer(
    help="What the consumers could not apply (the dead-letter topic), and replaying it.",
    no_args_is_help=True,
)
report_app = typer.Typer(help="Reports from the reporting service.", no_args_is_help=True)
whatif_app = typer.Typer(
    help="What-if replays: the log's history under other rules, in a scratch projection that is "
    "dropped afterwards. Nothing live is touched; nothing is published.",
    no_args_is_help=True,
)
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(report_app, name="report")
app.add_typer(whatif_app, name="what-if")
app.add_typer(notifications_app, name="notifications")


@app.callback()
def _quiet() -> None:
    """The client libraries' own retry chatter stays out: a failure is one ``error:`` line."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


SERVICES = tuple(catalog.SERVICES)
DEFAULT_REPORTING_URL = "http://127.0.0.1:8004"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


# The broker or the database not answering, or refusing: one line, exit status 1.
UNREACHABLE = (OSError, KafkaError, asyncpg.PostgresError, asyncpg.InterfaceError)
T = TypeVar("T")


def run(work: Coroutine[Any, Any, T], doing: str) -> T:
    """Run ``work``; a broker or database failure becomes ``error: <doing>: …``."""
    try:
        return asyncio.run(work)
    except UNREACHABLE as exc:
        raise fail(f"{doing}: {type(exc).__name__}: {exc}") from None


# -- the consumer groups, as the code defines them ------------------------------------------


@dataclass(frozen=True)
class Group:
    """One consumer group: the service it belongs to, its topic and the schema of its offsets."""

    service: str
    name: str  # as its offsets are stored
    topic: str
    schema: str
    kafka_group: str  # the Kafka consumer group its copies join


def consumer_groups(services: tuple[str, ...] = SERVICES) -> list[Group]:
    """The consumer groups of ``services``, as their specs declare them, with the topics the
    environment's settings name."""
    groups = []
    for service in services:
        spec = catalog.spec(service)
        settings = spec.settings()
        for consumer in spec.consumers:
            name, topic = spec.consumer_name(consumer), consumer.topic_of(settings)
            groups.append(Group(service, name, topic, spec.schema, group_id(name, topic)))
    return groups


def _check_service(service: str | None) -> tuple[str, ...]:
    if service is None:
        return SERVICES
    if service not in SERVICES:
        raise fail(f"service must be one of {', '.join(SERVICES)}", 2)
    return (service,)


# -- Kafka and PostgreSQL helpers -----------------------------------------------------------


@asynccontextmanager
async def _kafka_reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer outside any group (it never joins, never commits): for reading offsets."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
    )
    try:
        await consumer.start()
        yield consumer
    finally:
        await consumer.stop()


@dataclass
class Member:
    """A live copy of a service in a consumer group, and the partitions it holds."""

    member_id: str
    host: str
    partitions: list[int] = field(default_factory=list)

    @property
    def short(self) -> str:
        """``reporting-1e70728c@127.0.0.1``."""
        return f"{'-'.join(self.member_id.split('-')[:2])}@{self.host.lstrip('/')}"


REBALANCING = frozenset({"PreparingRebalance", "CompletingRebalance"})


@dataclass
class GroupView:
    """Kafka's view of a consumer group: its live copies, and whether it is rebalancing."""

    rebalancing: bool
    members: list[Member]


async def describe_group(
    settings: Settings, group: str, topic: str, *, wait_s: float = 10.0
) -> GroupView:
    """The copies in ``group`` that read ``topic`` now.

    A group in the middle of a rebalance is asked again for up to ``wait_s``: its members'
    subscriptions and assignments are only known once it is stable.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        await admin.start()
        while True:
            described = [g for r in await admin.describe_consumer_groups([group]) for g in r.groups]
            rebalancing = any(g[2] in REBALANCING for g in described)
            if not rebalancing or loop.time() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    members = []
    for group_state in described:
        for member_id, _client, host, metadata, assignment in group_state[5]:
            subscribed = (
                ConsumerProtocolMemberMetadata.decode(metadata).subscription if metadata else []
            )
            if topic not in subscribed:
                continue  # the same group name on another topic (a test session's, say)
            member = Member(member_id, host)
            if assignment:
                for name, partitions in ConsumerProtocolMemberAssignment.decode(
                    assignment
                ).assignment:
                    if name == topic:
                        member.partitions.extend(sorted(partitions))
            members.append(member)
    return GroupView(rebalancing, members)


async def _stored_offsets(
    conn: asyncpg.Connection, group: Group
) -> dict[int, tuple[int, datetime]]:
    try:
        # A projection's offsets are its live generation's; a durable consumer's are in the
        # service's own schema.
        return await store.group_offsets(conn, group.schema, group.name, group.topic)
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return {}  # the service never started against this database


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

    async def read() -> tuple[Generation | None, Generation | None, list[Generation]]:
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

    if status:
        live, _, every = run(read(), "cannot read the generations")
        if live is None:
            raise fail(f"{service} has never started here: no generation yet")
        for line in format_generations(every):
            typer.echo(line)
        return

    async def request() -> Generation:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await registry.request(
                conn, f"complaints rebuild {service} ({getpass.getuser()}@{socket.gethostname()})"
            )
        finally:
            await conn.close()

    try:
        gen = run(request(), "cannot ask for the rebuild")
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


# -- repartitioning the log ----------------------------------------------------------------


@app.command()
def repartition(
    to: Annotated[
        str, typer.Option("--to", help="The new events topic, e.g. complaints.events.v2")
    ],
    partitions: Annotated[int, typer.Option(help="Its number of partitions", min=1)],
) -> None:
    """Copy the events topic into a new topic with more partitions, each complaint's order kept.

    Adding partitions to the events topic in place would send a complaint's later events to
    another partition than its earlier ones, and a rebuild reads partitions side by side: it
    could apply them out of order. The copy instead re-appends every record (same key, same
    bytes, same headers) to a new topic, reading each old partition in order, so each
    complaint's events stay together and in order under the new partitioning.

    Every service must be stopped and the outboxes empty (it refuses otherwise). Afterwards,
    set COMPLAINTS_TOPIC_EVENTS to the new topic for every service and start them: each
    consumer reads the new topic from offset 0 and skips every event as already applied, so
    no projection changes. The old topic is left as it was.
    """
    settings = Settings()
    source = settings.topic_events
    if to == source:
        raise fail("--to must name a new topic, not the current COMPLAINTS_TOPIC_EVENTS", 2)
    try:
        copied = run(_repartition(settings, source, to, partitions), "cannot repartition")
    except RuntimeError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"copied {copied} records from {source} to {to} ({partitions} partitions).\n"
        f"next: set COMPLAINTS_TOPIC_EVENTS={to} for every service (and for this command), "
        "start them, and watch `complaints lag` reach 0."
    )


async def _repartition(settings: Settings, source: str, target: str, partitions: int) -> int:
    from aiokafka.admin import NewTopic

    from services.runtime.kafka import topic_configs

    groups = [g for g in consumer_groups() if g.topic == source]
    running = []
    for g in groups:
        view = await describe_group(settings, g.kafka_group, g.topic)
        running += [f"{g.name}: {m.short}" for m in view.members]
        if view.rebalancing:
            running.append(f"{g.name}: rebalancing")
    if running:
        raise RuntimeError(
            "stop every service first; still reading " + source + ": " + ", ".join(running)
        )
    conn = await asyncpg.connect(settings.database_url)
    try:
        for schema in dict.fromkeys(g.schema for g in groups):
            try:
                waiting = await store.outbox_backlog(conn, schema, topic=source)
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                continue
            if waiting:
                raise RuntimeError(
                    f"{schema}.outbox still holds {waiting} unpublished events for {source}: "
                    f"start {schema} until its outbox backlog is 0, stop it, and run this again"
                )
    finally:
        await conn.close()

    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        (old,) = await admin.describe_topics([source])
        if not old["partitions"]:
            raise RuntimeError(f"topic {source} does not exist")
        (new,) = await admin.describe_topics([target])
        if new["partitions"]:
            raise RuntimeError(f"topic {target} exists already: choose a new name")
        if partitions < len(old["partitions"]):
            raise RuntimeError(f"{source} has {len(old['partitions'])} partitions already")
        # As many copies as the source keeps, and never fewer than the settings ask for.
        replication = max(len(old["partitions"][0]["replicas"]), settings.kafka_replication_factor)
        await admin.create_topics(
            [NewTopic(target, partitions, replication, topic_configs=topic_configs(settings))]
        )
    finally:
        await admin.close()

    producer = AIOKafkaProducer(**client_options(settings), enable_idempotence=True, acks="all")
    total = sum((await end_offsets(settings, source)).values())
    copied = 0
    try:
        await producer.start()
        # Each complaint's events keep their order: they are read partition by partition in
        # order and sent with their key, and every send of a batch is acknowledged before
        # the next batch is read.
        async for batch in read_to_end(settings, source):
            sent = [
                await producer.send(
                    target, record.value, key=record.key, headers=list(record.headers or ())
                )
                for record in batch
            ]
            await asyncio.gather(*sent)
            copied += len(sent)
            typer.echo(f"  {copied} / {total}", err=True)
    finally:
        await producer.stop()
    written = sum((await end_offsets(settings, target)).values())
    if written != copied or copied != total:
        raise RuntimeError(f"copied {copied} of {total}, {target} holds {written}")
    return copied


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
    params: dict[str, str] = {}
    if period_from is not None:
        params["from"] = period_from.date().isoformat()
    if period_to is not None:
        params["to"] = period_to.date().isoformat()
    if office:
        params["office"] = office
    if as_of:
        params["as_of"] = as_of
    if fmt is ReportFormat.csv:
        params["sheet"] = sheet.value
    if fmt is ReportFormat.xlsx and output is None and sys.stdout.isatty():
        raise fail("an xlsx workbook is binary: give --output FILE", 2)
    if bearer is None:
        try:
            bearer = issue_token(Settings(), Staff(staff_id="cli-report", role=StaffRole.ANALYST))
        except RuntimeError as exc:
            raise fail(f"--token: none given and none can be signed here ({exc})", 2) from None
    body = fetch(url, path, params, bearer)
    if output is not None:
        output.write_bytes(body)
        typer.echo(f"wrote {output} ({len(body)} bytes)", err=True)
    else:
        sys.stdout.buffer.write(body)
        if fmt is ReportFormat.json and not body.endswith(b"\n"):
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


# -- what-if -------------------------------------------------------------------------------


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_rules_file(option: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(f"{option} {path}: no such file", 2) from None
    except IsADirectoryError:
        raise fail(f"{option} {path}: is a directory, not a YAML file", 2) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{option} {path}: cannot read it ({exc})", 2) from None


@whatif_app.command("sla")
def what_if_sla(
    period_from: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day, China time")
    ],
    period_to: Annotated[
        datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, inclusive")
    ],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="The other SLA policy (as policy.yaml)")
    ] = None,
    calendar: Annotated[
        Path | None,
        typer.Option("--calendar", help="The other business calendar (as calendar.yaml)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The comparison as one JSON object")] = (
        False
    ),
) -> None:
    """Warnings and breaches of a period as they were, and as another SLA policy or calendar
    would have made them: per office and timer kind, with the complaints that change sides.

    The complaints received in the period (China days, both inclusive) are replayed from the
    log into a scratch schema (sla_whatif_<id>, dropped afterwards; live tables are never
    touched and nothing is published) and folded under the live rules (COMPLAINTS_SLA_POLICY_FILE,
    COMPLAINTS_SLA_CALENDAR_FILE, as the SLA service reads them) and under the other ones,
    judged at the end of the period (or now, if earlier). The SLA events the live service
    published for them are read too, as a check of the live side. Give --policy, --calendar,
    or both; the one not given is the live one.
    """
    from services.runtime.db import create_pool
    from services.sla.calendar import load_calendar
    from services.sla.policy import load_policy
    from services.sla.scheduler import SlaRules
    from services.sla.settings import SlaSettings
    from services.sla.whatif import (
        Period,
        WhatIfInputError,
        parse_other_calendar,
        parse_other_policy,
        what_if,
    )

    if policy is None and calendar is None:
        raise fail("--policy: give --policy or --calendar (or both) to compare with", 2)
    settings = SlaSettings()
    try:
        period = Period.checked(period_from.date(), period_to.date(), names=("--from", "--to"))
        live = SlaRules(
            load_policy(settings.sla_policy_file), load_calendar(settings.sla_calendar_file)
        )
        other_policy, other_calendar = live.policy, live.calendar
        names = [_shown(settings.sla_policy_file), _shown(settings.sla_calendar_file)]
        other_names = list(names)
        if policy is not None:
            text = _read_rules_file("--policy", policy)
            other_policy = parse_other_policy(text, field=f"--policy {policy}")
            other_names[0] = _shown(policy)
        if calendar is not None:
            text = _read_rules_file("--calendar", calendar)
            other_calendar = parse_other_calendar(text, field=f"--calendar {calendar}")
            other_names[1] = _shown(calendar)
    except WhatIfInputError as exc:
        raise fail(str(exc), 2) from None

    async def work() -> Any:
        pool = await create_pool(settings.database_url, size=3, timeout_s=10)
        try:
            return await what_if(
                settings,
                pool,
                live=live,
                other=SlaRules(other_policy, other_calendar),
                period=period,
                live_name=" + ".join(names),
                other_name=" + ".join(other_names),
            )
        finally:
            await pool.close()

    report = run(work(), "cannot replay the log")
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    for line in report.lines():
        typer.echo(line)


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

"""The command line's shared parts: the typer apps, failures as one line, the consumer groups the
services' specs declare, and reading offsets and group members."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import typer
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import KafkaError

from services import catalog
from services.runtime import store
from services.runtime.consumer import group_id
from services.runtime.kafka import (
    client_options,
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

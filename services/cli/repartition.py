"""``complaints repartition``: the log moved to a topic with more partitions, in order."""

from __future__ import annotations

import asyncio
from typing import Annotated

import asyncpg
import typer
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from services.cli.common import (
    app,
    consumer_groups,
    describe_group,
    fail,
    run,
)
from services.runtime import store
from services.runtime.kafka import (
    client_options,
    end_offsets,
    read_to_end,
)
from services.runtime.settings import Settings

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
    """Check nothing reads or still owes ``source``, create ``target`` and copy the log into
    it; how many records were copied."""
    await _check_quiet(settings, source)
    await _create_target(settings, source, target, partitions)
    return await _copy(settings, source, target)


async def _check_quiet(settings: Settings, source: str) -> None:
    """Refuse while a service still reads ``source`` or an outbox still owes events to it."""
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


async def _create_target(settings: Settings, source: str, target: str, partitions: int) -> None:
    """Create ``target`` with ``partitions`` partitions (no fewer than ``source`` has) and as
    many copies as ``source`` keeps."""
    from aiokafka.admin import NewTopic

    from services.runtime.kafka import topic_configs

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


async def _copy(settings: Settings, source: str, target: str) -> int:
    """Copy every record of ``source`` into ``target``, each complaint's in order; how many."""
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

"""The builder: one running copy builds a new generation beside the live one, then swaps it in.

Every copy of a consuming service runs a ``Builder`` in the background. It looks for a
``building`` generation of its own projection version (``services.runtime.generations``); the
copy that wins the builder lease — a session advisory lock, which PostgreSQL releases when the
copy dies — builds it:

1. creates the generation's schema and tables (if a copy killed earlier had not already),
2. reads each projection's topic outside any consumer group, from the generation's own stored
   offsets, in large batches, fetching, decoding and computing the rows of the next batch
   while the current one is written (the same ``ProjectionConsumer`` code as the live path:
   offsets with the rows, duplicates skipped, poison dead-lettered). A projection whose
   writes are idempotent by themselves (``idempotent``) is loaded in bulk: no
   ``processed_events`` claim per batch, its secondary indexes dropped while it loads
   (``begin_build``) and made once at the end, with ``processed_events`` (``finish_build``):
   the hooks run once per projection. A projection whose rows all belong to one complaint
   (``parallel_build``) is read by ``rebuild_lanes`` lanes, each with its own share of the
   partitions and its own connection, each in a process of its own
   (``services.runtime.lanes``; in this process when ``rebuild_lane_processes`` is off: one
   folds while another waits for PostgreSQL),
3. records its progress in the registry every second (the CLI's progress bar and ``/metrics``),
4. once within ``swap_lag`` events of the log's end, swaps: under the live lock (held
   exclusively, so the live generation stands still) it catches up to the log's end offsets
   at that moment — at least as far as the live generation, so no figure goes backwards —
   then makes the new generation live and points every view at it, in one transaction.

The live consumers notice the swap in their next batch and go on from the new generation's
offsets. The old generation's schema is dropped after the swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from services.runtime import store
from services.runtime.collector import few_collections
from services.runtime.consumer import Batch, ProjectionConsumer
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.generations import Generation, Rebuilding, builder_lock_key, live_lock_key
from services.runtime.kafka import client_options, topic_partitions
from services.runtime.settings import Settings
from services.runtime.store import consumer_tables_sql
from services.runtime.store import generations as gen_store

if TYPE_CHECKING:
    from services.runtime.service import ConsumingService

SWAP_RETRY_MAX_S = 30.0  # the longest wait between two tries of a swap readers held off

log = logging.getLogger(__name__)

Records = list[ConsumerRecord[bytes, bytes]]


class Progress:
    """How far a share of the log is built: the next offset written and where the log ends,
    by partition."""

    applied: dict[int, int]  # partition → next offset written
    ends: dict[int, int]

    @property
    def done(self) -> int:
        return sum(self.applied.values())

    @property
    def total(self) -> int:
        return sum(max(end, self.applied.get(p, 0)) for p, end in self.ends.items())

    @property
    def lag(self) -> int:
        return max(self.total - self.done, 0)


@dataclass
class _Part(Progress):
    """One projection being built: its consumer (writing the new generation) and its reader."""

    consumer: ProjectionConsumer
    reader: AIOKafkaConsumer
    partitions: list[TopicPartition]
    applied: dict[int, int] = field(default_factory=dict)
    ends: dict[int, int] = field(default_factory=dict)

    def behind(self, targets: dict[int, int]) -> bool:
        return any(self.applied.get(p, 0) < end for p, end in targets.items())


class Builder:
    """Builds a service's ``building`` generation when this copy holds the lease."""

    def __init__(self, service: ConsumingService) -> None:
        self.service = service
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        self.building: int | None = None  # the generation this copy builds now
        self.server_tried = False  # whether the lanes' fork server was started (or failed to)

    @property
    def warm(self) -> bool:
        """Whether this copy is past its warm-up: the lanes' fork server, when it builds in
        processes, has started (or failed to start). Until then the fork server's imports
        take about a second of a core beside the live work (``/readyz`` says not ready)."""
        return self.server_tried or not self._forks

    @property
    def _forks(self) -> bool:
        """Whether some projection of this copy is built in lane processes."""
        return any(self._in_processes(c) for c in self.service.projections)

    async def start_lanes(self) -> None:
        """Start the lanes' fork server if this copy builds in processes: its imports take
        about a second, so now, not when a rebuild is asked for."""
        if not self._forks:
            return
        from services.runtime import lanes

        try:
            await asyncio.to_thread(lanes.start_server, self.service.spec_name or "")
        except Exception:  # a rebuild starts it then, or fails with the reason
            log.exception("%s builder: cannot start the lanes' fork server", self.name)
        finally:
            self.server_tried = True

    async def run(self) -> None:
        """Forever, every ``rebuild_poll_s`` and whenever a rebuild is asked for
        (``Generations.request`` notifies): follow a swap made by another copy, and build the
        generation that is due."""
        wake = asyncio.Event()
        listener = await self._listen(wake)
        await self.start_lanes()
        try:
            while True:
                wake.clear()
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except TRANSIENT_DB_ERRORS as exc:
                    log.warning("%s builder: database unavailable (%s); retrying", self.name, exc)
                except Exception:
                    log.exception("%s builder: round failed; retrying", self.name)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.service.settings.rebuild_poll_s)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _listen(self, wake: asyncio.Event) -> asyncpg.Connection | None:
        """A connection listening for rebuild requests (polling alone when there is none)."""
        try:
            conn = await asyncpg.connect(self.service.settings.database_url)
            await conn.add_listener(self.service.generations.channel, lambda *_: wake.set())
            return conn
        except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError) as exc:
            log.warning("%s builder: cannot listen for rebuilds (%s); polling", self.name, exc)
            return None

    @property
    def name(self) -> str:
        return self.service.name

    async def round(self) -> None:
        """Build the generation that is due, if this copy gets the lease."""
        for consumer in self.service.projections:
            await consumer.follow_live()
        gens = self.service.generations
        async with self.service.pool.acquire() as lease:
            building = await gens.building(lease)
            if building is None:
                await self._settle(lease)
                return
            if building.version != gens.version:
                return
            key = builder_lock_key(gens.schema)
            if not await store.try_lock(lease, key):
                return  # another copy builds it; this one goes on serving
            try:
                self.building = building.gen
                await self.build(building)
            except asyncio.CancelledError:
                raise  # the lease goes with the connection; a copy resumes from the offsets
            except TRANSIENT_DB_ERRORS:
                raise
            except Exception as exc:
                log.exception("%s builder: generation %d failed", self.name, building.gen)
                async with self.service.pool.acquire() as conn:
                    await gens.fail(conn, building.gen, f"{type(exc).__name__}: {exc}")
            finally:
                self.building = None
                await store.unlock(lease, key)

    async def _settle(self, lease: asyncpg.Connection) -> None:
        """What a projection loaded in bulk leaves for after its swap (its ``settle`` hook,
        called until it says ``False``), done in the live generation by the copy holding the
        builder lease, one transaction at a time (a swap waits at most one). A rebuild asked
        for meanwhile is built first."""
        settling = [
            settle
            for c in self.service.projections
            if (settle := getattr(c.projection, "settle", None)) is not None
        ]
        if not settling:
            return
        key = builder_lock_key(self.service.generations.schema)
        if not await store.try_lock(lease, key):
            return
        try:
            for settle in settling:
                more = True
                while more:
                    if await self.service.generations.building(lease) is not None:
                        return  # a rebuild asked for goes first; the next round settles
                    async with self.service.write() as conn:
                        more = await settle(conn)
        except Rebuilding:
            pass  # a new version goes live first; its generation settles after
        finally:
            await store.unlock(lease, key)

    async def build(self, gen: Generation) -> None:
        """Build ``gen`` from its stored offsets to the log's end, then swap it in."""
        service = self.service
        gens = service.generations
        target = gens.schema_of(gen.gen)
        async with service.pool.acquire() as conn, conn.transaction():
            await gens.create_tables(conn, gen.gen, consumer_tables_sql)
        log.info("%s builder: building generation %d (%s)", self.name, gen.gen, gen.reason)
        # Lanes in processes of their own follow the log first; this process then reads
        # their partitions too, from where they stopped, to catch up and swap.
        elsewhere = [c for c in service.projections if self._in_processes(c)]
        bulk = [c for c in service.projections if c.bulk_capable]
        parts = [
            part
            for consumer in service.projections
            if consumer not in elsewhere
            for part in await open_parts(service.settings, consumer, gen.gen, target)
        ]
        try:
            # A projection loaded in bulk runs its build hooks once, whatever reads it.
            for consumer in bulk:
                await self._in_generation(consumer, gen.gen, "begin_build")
            for part in parts:
                part.consumer.claiming = not part.consumer.bulk_capable
            with few_collections():
                await self._follow(gen, parts, elsewhere)
            for consumer in bulk:
                started = time.monotonic()
                await self._in_generation(consumer, gen.gen, "finish_build", consumer.name)
                log.info(
                    "%s builder: %s indexed in %.1f s",
                    self.name,
                    consumer.name,
                    time.monotonic() - started,
                )
            for part in parts:
                part.consumer.claiming = True  # the catch-up under the live lock claims
            for consumer in elsewhere:
                parts += await open_parts(service.settings, consumer, gen.gen, target)
            await self._swap(gen, parts)
        finally:
            for part in parts:
                await part.reader.stop()

    async def _in_generation(
        self, live: ProjectionConsumer, gen: int, hook: str, *args: object
    ) -> None:
        """Run the projection's builder hook in one transaction on generation ``gen``."""
        consumer = live.builder_copy(gen, self.service.generations.schema_of(gen))
        async with self.service.pool.acquire() as conn, conn.transaction():
            assert consumer.search_path is not None  # a builder's consumer writes its generation
            await store.set_local_search_path(conn, consumer.search_path, consumer.schema)
            await getattr(consumer.projection, hook)(conn, *args)

    def _in_processes(self, consumer: ProjectionConsumer) -> bool:
        """Whether ``consumer``'s lanes are built in processes of their own (``lanes``): it
        may be built in lanes, there are several, the settings want processes, and the
        service was built from its spec alone (a lane builds it again from the spec)."""
        settings = self.service.settings
        return (
            parallel_build(consumer)
            and settings.rebuild_lanes > 1
            and settings.rebuild_lane_processes
            and self.service.spec_name is not None
        )

    async def _follow(
        self, gen: Generation, parts: Sequence[_Part], elsewhere: Sequence[ProjectionConsumer]
    ) -> None:
        """Apply until every projection is within ``rebuild_swap_lag`` events of the end,
        here (``parts``) and in lane processes (``elsewhere``'s), reporting the generation's
        progress every second."""
        from services.runtime import lanes

        settings = self.service.settings
        started = time.monotonic()
        running = await asyncio.to_thread(
            lanes.start,
            [
                lanes.Lane(
                    self.service.spec_name or "",
                    settings,
                    consumer.name,
                    gen.gen,
                    self.service.generations.schema_of(gen.gen),
                    lane,
                    settings.rebuild_lanes,
                )
                for consumer in elsewhere
                for lane in range(settings.rebuild_lanes)
            ],
        )
        seen: list[Progress] = [*parts, *running]

        async def report(rate: float) -> None:
            await self._report(gen, seen, rate)

        try:
            done_at_start = sum(p.done for p in parts)
            if parts:
                await follow(parts, settings, report)
            if running:
                await lanes.wait(running, report)
        finally:
            lanes.stop(running)
        here = sum(p.done for p in parts) - done_at_start
        elapsed = time.monotonic() - started
        if running:
            log.info(
                "%s builder: generation %d caught up: %d events in %.1f s (%d in %d lane "
                "processes)",
                self.name,
                gen.gen,
                here + sum(r.done - r.started for r in running),
                elapsed,
                sum(r.done - r.started for r in running),
                len(running),
            )
        else:
            log.info(
                "%s builder: generation %d caught up: %d events in %.1f s",
                self.name,
                gen.gen,
                here,
                elapsed,
            )

    async def _finalize(
        self, conn: asyncpg.Connection, gen: Generation, parts: Sequence[_Part]
    ) -> None:
        """Let each projection that can take over what the live generation computed besides
        the log (``finalize(conn, previous_schema)``: the SLA service's judgments), when the
        live generation is the same version. In the swap's transaction, under the live lock."""
        gens = self.service.generations
        live = await gens.live(conn)
        if live is None or live.version != gen.version:
            return
        await store.set_local_search_path(conn, gens.schema_of(gen.gen), gens.schema)
        # Once per projection, however many lanes built it.
        for projection in {
            id(p.consumer.projection): p.consumer.projection for p in parts
        }.values():
            finalize = getattr(projection, "finalize", None)
            if finalize is not None:
                await finalize(conn, gens.schema_of(live.gen))
        await store.reset_local_search_path(conn)

    async def _outbox_drained(self, conn: asyncpg.Connection, timeout_s: float = 10.0) -> None:
        """Wait (a little) until every event the live side decided is in the log: the new
        generation must have it when it goes live, or a command right after the swap would be
        decided against a state that lacks it. No new ones come: the live lock is held."""
        if self.service.relay is None:
            return
        deadline = time.monotonic() + timeout_s
        while await store.outbox_backlog(conn, self.service.schema):
            if time.monotonic() > deadline:
                log.warning("%s builder: the outbox is not drained; swapping anyway", self.name)
                return
            self.service.relay.wake()
            await asyncio.sleep(0.02)

    async def _report(self, gen: Generation, parts: Sequence[Progress], rate: float) -> None:
        """Record how far the build is (read by the CLI and the metrics)."""
        async with self.service.pool.acquire() as conn:
            await gen_store.record_progress(
                conn,
                self.service.generations.schema,
                gen.gen,
                done=sum(p.done for p in parts),
                total=sum(p.total for p in parts),
                rate=rate,
                lag=sum(p.lag for p in parts),
                builder=self.identity,
            )

    async def _swap(self, gen: Generation, parts: Sequence[_Part]) -> None:
        """Swap ``gen`` in, trying again while readers hold the stable views longer than
        ``rebuild_swap_lock_timeout_s`` (each try lets the live lock go: writers go on
        between tries, and readers waiting behind the swap get their answers)."""
        tries = 0
        while True:
            try:
                await self._swap_once(gen, parts)
                return
            except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError) as exc:
                tries += 1
                log.warning(
                    "%s builder: readers held the stable views (%s); swap try %d given up, "
                    "trying again",
                    self.name,
                    type(exc).__name__,
                    tries,
                )
                # Soon at first (readers come and go), then seldom: a session that keeps a
                # view (an analyst's idle transaction) must not stall the writers behind
                # the live lock at every try.
                await asyncio.sleep(min(0.05 * 2**tries, SWAP_RETRY_MAX_S))

    async def _swap_once(self, gen: Generation, parts: Sequence[_Part]) -> None:
        """Catch up under the live lock, then make ``gen`` live in the same transaction."""
        service = self.service
        gens = service.generations
        marks = [time.monotonic()]
        async with service.pool.acquire() as conn, conn.transaction():
            # Every live writer holds this lock shared: from here on the live generation
            # stands still, so catching up to the log's end now passes everything it has.
            await store.lock_for_transaction(conn, live_lock_key(gens.schema))
            marks.append(time.monotonic())
            await self._outbox_drained(conn)
            marks.append(time.monotonic())
            for part in parts:
                await refresh_ends(part)
                await catch_up(part, dict(part.ends), service.settings.rebuild_batch)
            marks.append(time.monotonic())
            await self._report(gen, parts, 0.0)
            await self._finalize(conn, gen, parts)
            marks.append(time.monotonic())
            retired = await gens.swap(
                conn, gen.gen, lock_timeout_s=service.settings.rebuild_swap_lock_timeout_s
            )
        marks.append(time.monotonic())
        phases = ("live lock", "outbox", "catch-up", "finalize", "swap")
        log.info(
            "%s builder: generation %d is live (%s)",
            self.name,
            gen.gen,
            ", ".join(
                f"{p} {b - a:.2f} s" for p, a, b in zip(phases, marks[:-1], marks[1:], strict=True)
            ),
        )
        if retired is not None:
            async with service.pool.acquire() as conn:
                await gens.drop(conn, retired)


async def follow(
    parts: Sequence[_Part],
    settings: Settings,
    report: Callable[[float], Awaitable[None]],
    *,
    every_s: float = 1.0,
    near: int | None = None,
) -> None:
    """Apply until every part is within ``near`` events of the end (``rebuild_swap_lag``);
    ``report`` the rate (events/s) every ``every_s`` and at the end.

    The next batch is fetched and prepared (decoded, its rows computed) while the current
    one is written, so this process's work overlaps PostgreSQL's.
    """
    last_report = time.monotonic()
    done_at_report = sum(p.done for p in parts)
    batch = settings.rebuild_batch
    near = settings.rebuild_swap_lag if near is None else near
    pending = {id(p): asyncio.ensure_future(fetch_prepared(p, batch)) for p in parts}
    try:
        while True:
            prepared = [await pending[id(part)] for part in parts]
            for part in parts:
                pending[id(part)] = asyncio.ensure_future(fetch_prepared(part, batch))
            # Each part writes on a connection of its own: the lanes of a projection
            # (their partitions disjoint) overlap one's folding with another's statements.
            await asyncio.gather(
                *(step(part, ready) for part, ready in zip(parts, prepared, strict=True))
            )
            now = time.monotonic()
            # Near the ends last seen: ask where the log ends now, and stop if still near.
            close = all(p.lag <= near for p in parts)
            if close or now - last_report >= every_s:
                for part in parts:
                    await refresh_ends(part)
                done = sum(p.done for p in parts)
                await report((done - done_at_report) / max(now - last_report, 1e-3))
                last_report, done_at_report = now, done
                if all(p.lag <= near for p in parts):
                    return
    finally:
        for future in pending.values():
            future.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await future
        # A batch fetched but not written must be delivered again.
        for part in parts:
            for tp in part.partitions:
                part.reader.seek(tp, part.applied.get(tp.partition, 0))


def parallel_build(consumer: ProjectionConsumer) -> bool:
    """Whether a projection may be built by several lanes at once: it says so
    (``parallel_build``: every row it writes belongs to one complaint, and a complaint's events
    are all in one partition, so lanes never write the same row; loaded in bulk, the copies of
    an event or of a receipt are in one partition too, so one lane writes them in log order)."""
    return bool(getattr(consumer.projection, "parallel_build", False))


async def open_part(
    settings: Settings, consumer: ProjectionConsumer, lane: int = 0, lanes: int = 1
) -> _Part:
    """A reader of ``consumer``'s topic outside any group, at the offsets its schema stores;
    of lane ``lane`` of ``lanes``: the partitions whose number leaves that remainder."""
    reader = AIOKafkaConsumer(
        **client_options(settings),
        client_id=f"{consumer.name}-builder",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        request_timeout_ms=30000,
        # At the log's end the broker holds a fetch this long for new records; the swap's
        # catch-up waited for such a fetch (500 ms by default) before it could read on.
        fetch_max_wait_ms=50,
    )
    await reader.start()
    partitions = [
        tp for tp in await topic_partitions(reader, consumer.topic) if tp.partition % lanes == lane
    ]
    if not partitions:
        return _Part(consumer, reader, [])
    reader.assign(partitions)
    mine = {tp.partition for tp in partitions}
    stored = {p: o for p, o in (await consumer.stored_offsets()).items() if p in mine}
    for tp in partitions:
        if tp.partition in stored:
            reader.seek(tp, stored[tp.partition])
        else:
            await reader.seek_to_beginning(tp)
    part = _Part(consumer, reader, partitions, applied=dict(stored))
    await refresh_ends(part)
    log.info(
        "%s builder: %s resumes at %d stored events of %d",
        consumer.schema,
        consumer.name,
        part.done,
        part.total,
    )
    return part


async def open_parts(
    settings: Settings, consumer: ProjectionConsumer, gen: int, schema: str
) -> list[_Part]:
    """The parts that build ``consumer``'s copy writing generation ``gen`` (in ``schema``):
    one per lane (``rebuild_lanes``) when it may be built in lanes, else one."""
    lanes = settings.rebuild_lanes if parallel_build(consumer) else 1
    parts = []
    for lane in range(lanes):
        part = await open_part(settings, consumer.builder_copy(gen, schema), lane, lanes)
        if part.partitions:
            parts.append(part)
        else:
            await part.reader.stop()  # more lanes than partitions
    return parts


async def refresh_ends(part: _Part) -> None:
    """Ask the broker where each partition of the part's topic ends now."""
    ends = await part.reader.end_offsets(part.partitions)
    part.ends = {tp.partition: end for tp, end in ends.items()}


async def fetch(part: _Part, batch: int) -> Records:
    """The next records of the part's topic (up to ``batch``; none after a short wait)."""
    got = await part.reader.getmany(timeout_ms=200, max_records=batch)
    return [record for records in got.values() for record in records]


async def fetch_prepared(part: _Part, batch: int) -> Batch:
    """The next records of the part's topic, prepared for writing (decoded, rows computed)."""
    return part.consumer.prepare(await fetch(part, batch))


async def step(part: _Part, prepared: Batch) -> int:
    """Write one prepared batch into the part's schema; how many records it held."""
    if not prepared.records:
        return 0
    await part.consumer.write(prepared)
    for partition, offset in prepared.next_offsets.items():
        part.applied[partition] = max(part.applied.get(partition, 0), offset)
    return len(prepared.records)


async def catch_up(part: _Part, targets: dict[int, int], batch: int) -> None:
    """Apply until every partition has reached its target offset."""
    while part.behind(targets):
        await step(part, await fetch_prepared(part, batch))


async def replay_to_end(settings: Settings, consumers: Sequence[ProjectionConsumer]) -> int:
    """Apply every record of the consumers' topics, up to where the log ends now, into the
    schemas they write (builder copies, ``ProjectionConsumer.builder_copy``); no lease, no swap.
    For scratch projections (what-if replays). Returns how many records were applied."""
    parts = [await open_part(settings, consumer) for consumer in consumers]
    try:
        start = sum(p.done for p in parts)
        for part in parts:
            await catch_up(part, dict(part.ends), settings.rebuild_batch)
        return sum(p.done for p in parts) - start
    finally:
        for part in parts:
            await part.reader.stop()

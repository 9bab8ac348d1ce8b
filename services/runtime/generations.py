"""Projection generations: every read model is built beside the live one, then swapped in.

A service's projection tables live in a *generation* schema, ``<schema>_g<N>`` (``reporting_g3``),
together with that generation's own consumer bookkeeping (stored offsets, processed events,
dead letters). The service's own schema (``reporting``) keeps what is durable — the outbox, the
rule journal, the submission decisions, the registry of generations below — and, for every
projection table, a **view of the same name** over the live generation. Readers (the service's
own queries and the ``analyst`` role) only ever use those stable names.

    <schema>.generations   gen │ version │ state (building → live → retired | failed) │ progress

- Exactly one generation is ``live``: its views are the read model, its consumers follow the log.
- At most one is ``building`` (a unique index): a new projection version (the schema files
  changed) or ``complaints rebuild <service>``. Whichever running copy wins the builder lease
  (a session advisory lock, released by PostgreSQL when that copy dies) builds it from its own
  stored offsets while the other copies go on serving; a copy killed mid-build is succeeded by
  the next one to take the lease, which resumes from those offsets.
- The **swap** is one transaction: it takes the live lock exclusively (every live writer holds it
  shared for the length of its transaction, so the live generation stands still), lets the
  builder catch up to at least the live generation's offsets (figures never go backwards), then
  marks the new generation live and points every view at it. A reader sees the old generation
  or the new one, never a mix, never an empty table.
- The generation it replaced is ``retired`` and its schema dropped right after the swap: the log
  is the backup, and a rollback is one more rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from services.runtime.store import generations as gen_store
from services.runtime.store.names import checked

log = logging.getLogger(__name__)


BOOKKEEPING_TABLES = ("consumer_offsets", "processed_events", "dead_letters")
"""Per-generation consumer bookkeeping. The service's schema shows the live generation's as
views ``live_consumer_offsets`` … (the durable consumers keep tables of the plain names there)."""


class AlreadyBuilding(RuntimeError):
    """A rebuild was requested while another generation is being built."""

    def __init__(self, gen: Generation) -> None:
        super().__init__(
            f"generation {gen.gen} is already being built "
            f"({gen.events_done or 0:,} of {gen.events_total or 0:,} events)"
        )
        self.generation = gen


class Rebuilding(RuntimeError):
    """This copy runs a projection version that is not live yet: it cannot write now."""


def generation_schema(schema: str, gen: int) -> str:
    """The schema that holds generation ``gen`` of ``schema``'s projections."""
    return f"{schema}_g{gen}"


def live_lock_key(schema: str) -> str:
    """Advisory-lock key: held shared by every live writer, exclusively by the swap."""
    return f"{schema}.live"


def builder_lock_key(schema: str) -> str:
    """Advisory-lock key: held by the one copy that builds a generation (its lease)."""
    return f"{schema}.builder"


@dataclass(frozen=True)
class Generation:
    """One row of ``<schema>.generations``."""

    gen: int
    version: str
    state: str
    reason: str
    created_at: datetime
    started_at: datetime | None
    swapped_at: datetime | None
    finished_at: datetime | None
    events_total: int | None
    events_done: int | None
    rate: float | None
    lag: int | None
    builder: str | None
    error: str | None
    updated_at: datetime

    @property
    def schema_suffix(self) -> str:
        return f"_g{self.gen}"


class Generations:
    """The registry of one service's projection generations, and the swap.

    ``tables`` are the SQL files that create the projection's tables (unqualified names: they
    run with ``search_path`` set to the generation's schema); ``functions`` the SQL files of
    stable objects over the views (functions, derived views), run again at every swap.
    ``legacy_tables`` are projection tables a release before generations kept in the service's
    own schema: dropped once, when the first generation is created.
    """

    def __init__(
        self,
        *,
        schema: str,
        version: str,
        tables: Sequence[Path],
        functions: Sequence[Path] = (),
        legacy_tables: Sequence[str] = (),
    ) -> None:
        checked(schema)
        self.schema = schema
        self.version = version
        self.tables = list(tables)
        self.functions = list(functions)
        self.legacy_tables = list(legacy_tables)

    # -- reading the registry ----------------------------------------------------------

    async def all(self, conn: asyncpg.Connection) -> list[Generation]:
        """Every generation, newest first."""
        return [Generation(**r) for r in await gen_store.all_rows(conn, self.schema)]

    async def live(self, conn: asyncpg.Connection) -> Generation | None:
        """The live generation (``None`` before the service first started)."""
        row = await gen_store.row_in_state(conn, self.schema, "live")
        return Generation(**row) if row else None

    async def building(self, conn: asyncpg.Connection) -> Generation | None:
        """The generation being built, if any."""
        row = await gen_store.row_in_state(conn, self.schema, "building")
        return Generation(**row) if row else None

    @property
    def channel(self) -> str:
        """The notification channel a rebuild request is announced on."""
        return f"{self.schema}_generations"

    def schema_of(self, gen: int) -> str:
        """The schema of generation ``gen``."""
        return generation_schema(self.schema, gen)

    # -- at start ----------------------------------------------------------------------

    async def prepare(
        self, conn: asyncpg.Connection, bookkeeping_sql: Callable[[str], str]
    ) -> Generation:
        """Make sure a live generation exists, and a building one when the version changed.

        Runs in the caller's transaction under the migration lock. ``bookkeeping_sql(schema)``
        is the DDL of a generation's consumer tables. Returns the live generation.
        """
        await gen_store.install_registry(conn, self.schema)
        live = await self.live(conn)
        if live is None:
            # The very first start (or the first since generations came in): nothing was being
            # served from generations yet, so the first one is built live.
            await self._drop_legacy(conn)
            gen = await gen_store.insert(conn, self.schema, self.version, "live", "first start")
            await self.create_tables(conn, gen, bookkeeping_sql)
            await self.publish(conn, gen)
            await gen_store.mark_swapped_now(conn, self.schema, gen)
            live = await self.live(conn)
            assert live is not None
            return live
        if live.version != self.version:
            building = await self.building(conn)
            if building is not None and building.version != self.version:
                await self.fail(conn, building.gen, f"superseded by version {self.version}")
                building = None
            if building is None:
                gen = await gen_store.insert(
                    conn,
                    self.schema,
                    self.version,
                    "building",
                    f"projection version changed ({live.version} → {self.version})",
                )
                log.warning(
                    "%s: projection version changed (%s → %s): building generation %d beside "
                    "the live one",
                    self.schema,
                    live.version,
                    self.version,
                    gen,
                )
        # Stable objects (functions over the views) of this code version are the live one's
        # only when the versions agree; else they come with the swap.
        if live.version == self.version:
            # A function is not locked by the queries that call it, so dropping it under a
            # reader would fail that reader: the stable SQL runs again only when it changed.
            await gen_store.run_stable_sql(conn, self.schema, self.functions)
        return live

    async def request(self, conn: asyncpg.Connection, reason: str) -> Generation:
        """Ask for a rebuild of the live version (``complaints rebuild``); raises
        ``AlreadyBuilding`` when one runs."""
        await gen_store.install_registry(conn, self.schema)
        building = await self.building(conn)
        if building is not None:
            raise AlreadyBuilding(building)
        live = await self.live(conn)
        if live is None:
            raise LookupError(f"{self.schema} has no live generation yet: start the service")
        try:
            gen = await gen_store.insert(conn, self.schema, live.version, "building", reason)
        except asyncpg.UniqueViolationError:  # another request won the race
            building = await self.building(conn)
            assert building is not None
            raise AlreadyBuilding(building) from None
        # Wakes the builders at once (they also look every ``rebuild_poll_s``); delivered
        # when the caller's transaction commits.
        await gen_store.notify(conn, self.channel, str(gen))
        return Generation(**await gen_store.row_of(conn, self.schema, gen))

    # -- building ----------------------------------------------------------------------

    async def create_tables(
        self, conn: asyncpg.Connection, gen: int, bookkeeping_sql: Callable[[str], str]
    ) -> None:
        """Create generation ``gen``'s schema, its projection tables and its bookkeeping."""
        target = self.schema_of(gen)
        await gen_store.create_schema(conn, target, bookkeeping_sql(target), self.tables)

    async def fail(self, conn: asyncpg.Connection, gen: int, error: str) -> None:
        """Give up generation ``gen`` (its schema is dropped; the live one stays)."""
        await gen_store.mark_failed(conn, self.schema, gen, error)
        await gen_store.drop_schema(conn, self.schema_of(gen))

    async def swap(
        self, conn: asyncpg.Connection, gen: int, lock_timeout_s: float | None = None
    ) -> int | None:
        """Make ``gen`` live and point every view at it; the caller's transaction holds the
        live lock exclusively. Returns the generation retired (its schema to drop).

        Each stable view waits at most ``lock_timeout_s`` for the readers that hold it
        (``asyncpg.LockNotAvailableError`` then: the caller rolls back, nothing changed, and
        tries again). Waiting as long as it must, the swap could hold one view while waiting
        for another that a reader holds, while that reader waited for the first: PostgreSQL
        ends such a cycle after ``deadlock_timeout`` by failing one of the two, perhaps the
        reader; and when the reader's other half runs on another connection (a report
        reading two periods in one snapshot), PostgreSQL never sees the cycle and both wait
        for good, with every writer of the service behind the swap's live lock. Only the
        views are locked, never the tables beneath them (``LOCK TABLE`` on a view would lock
        those too, and wait for an autovacuum of the live tables)."""
        old = await self.live(conn)
        await gen_store.make_live(conn, self.schema, gen)
        await gen_store.set_lock_timeout(conn, lock_timeout_s)
        await self.publish(conn, gen)
        await gen_store.set_lock_timeout(conn, None)
        return old.gen if old else None

    async def drop(self, conn: asyncpg.Connection, gen: int) -> None:
        """Drop a retired generation's schema (its views already point elsewhere)."""
        await gen_store.drop_schema(conn, self.schema_of(gen))

    # -- the stable names --------------------------------------------------------------

    async def publish(self, conn: asyncpg.Connection, gen: int) -> None:
        """Point a view of the same name in the service's schema at every table of ``gen``,
        then (re)create the stable functions over them."""
        target = self.schema_of(gen)
        replaced = False
        for table in await gen_store.table_names(conn, target):
            # The live generation's bookkeeping is ``live_<table>``: the durable consumers
            # keep tables of the plain names in the service's schema.
            view = f"live_{table}" if table in BOOKKEEPING_TABLES else table
            replaced |= await self._point_view(conn, view, f"{target}.{table}")
        # A view replaced for its new shape took the stable views over it along (CASCADE).
        await gen_store.run_stable_sql(conn, self.schema, self.functions, force=replaced)

    async def _point_view(self, conn: asyncpg.Connection, view: str, source: str) -> bool:
        """Make ``<schema>.<view>`` show ``source``, keeping the view (and what depends on
        it) when the columns are the same; replacing it when the shape changed (``True``)."""
        stray = view in self.legacy_tables
        if stray and await gen_store.relkind(conn, self.schema, view) in ("r", "p"):
            # A projection table of the layout before generations still holds the name.
            log.warning("%s: replacing the pre-generation table %s by its view", self.schema, view)
            await gen_store.drop_table(conn, self.schema, view)
        return await gen_store.point_view(conn, self.schema, view, source)

    # -- helpers -----------------------------------------------------------------------

    async def _drop_legacy(self, conn: asyncpg.Connection) -> None:
        """Drop the projection tables an earlier release kept in the service's own schema."""
        for table in self.legacy_tables:
            if await gen_store.relkind(conn, self.schema, table) in ("r", "p"):
                log.warning("%s: dropping the pre-generation table %s", self.schema, table)
                await gen_store.drop_table(conn, self.schema, table)


@dataclass(frozen=True)
class LiveTarget:
    """The live generation as a writer sees it."""

    gen: int
    version: str
    schema: str


class LiveGate:
    """What every live writer's transaction passes first (projection batches, commands, the
    scheduler): the live lock, shared, then the live generation, whose schema becomes the
    transaction's ``search_path``. The swap holds the lock exclusively, so no write is ever
    made to a generation that is no longer live."""

    def __init__(self, generations: Generations) -> None:
        self.generations = generations
        self.schema = generations.schema
        self.version = generations.version

    async def enter(self, conn: asyncpg.Connection, *, plan_generic: bool = False) -> LiveTarget:
        """Take the live lock (shared) for the caller's transaction; aim its unqualified
        names at the live generation. ``plan_generic``: the transaction plans its statements
        generically (``store.enter_live``)."""
        row = await gen_store.enter_live(
            conn, self.schema, live_lock_key(self.schema), plan_generic=plan_generic
        )
        if row is None:
            raise LookupError(f"{self.schema} has no live generation")
        return LiveTarget(row["gen"], row["version"], generation_schema(self.schema, row["gen"]))

    async def current(self, conn: asyncpg.Connection) -> LiveTarget | None:
        """The live generation now, without a lock (for positioning, never for writing)."""
        row = await gen_store.row_in_state(conn, self.schema, "live")
        if row is None:
            return None
        return LiveTarget(row["gen"], row["version"], generation_schema(self.schema, row["gen"]))

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

import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")

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


def registry_sql(schema: str) -> str:
    """DDL of the registry of generations (durable: never dropped)."""
    _check(schema)
    return f"""
    CREATE SCHEMA IF NOT EXISTS {schema};
    CREATE TABLE IF NOT EXISTS {schema}.generations (
        gen          integer PRIMARY KEY,
        version      text NOT NULL,
        state        text NOT NULL
                     CHECK (state IN ('building', 'live', 'retired', 'failed')),
        reason       text NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        started_at   timestamptz,
        swapped_at   timestamptz,
        finished_at  timestamptz,
        events_total bigint,
        events_done  bigint,
        rate         double precision,
        lag          bigint,
        builder      text,
        error        text,
        updated_at   timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX IF NOT EXISTS generations_one_live
        ON {schema}.generations ((true)) WHERE state = 'live';
    CREATE UNIQUE INDEX IF NOT EXISTS generations_one_building
        ON {schema}.generations ((true)) WHERE state = 'building';
    """


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
        _check(schema)
        self.schema = schema
        self.version = version
        self.tables = list(tables)
        self.functions = list(functions)
        self.legacy_tables = list(legacy_tables)

    # -- reading the registry ----------------------------------------------------------

    async def all(self, conn: asyncpg.Connection) -> list[Generation]:
        """Every generation, newest first."""
        rows = await conn.fetch(f"SELECT * FROM {self.schema}.generations ORDER BY gen DESC")
        return [Generation(**dict(r)) for r in rows]

    async def live(self, conn: asyncpg.Connection) -> Generation | None:
        """The live generation (``None`` before the service first started)."""
        row = await conn.fetchrow(f"SELECT * FROM {self.schema}.generations WHERE state = 'live'")
        return Generation(**dict(row)) if row else None

    async def building(self, conn: asyncpg.Connection) -> Generation | None:
        """The generation being built, if any."""
        row = await conn.fetchrow(
            f"SELECT * FROM {self.schema}.generations WHERE state = 'building'"
        )
        return Generation(**dict(row)) if row else None

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
        await conn.execute(registry_sql(self.schema))
        live = await self.live(conn)
        if live is None:
            # The very first start (or the first since generations came in): nothing was being
            # served from generations yet, so the first one is built live.
            await self._drop_legacy(conn)
            gen = await self._insert(conn, self.version, "live", "first start")
            await self.create_tables(conn, gen, bookkeeping_sql)
            await self.publish(conn, gen)
            await conn.execute(
                f"UPDATE {self.schema}.generations SET swapped_at = now() WHERE gen = $1", gen
            )
            live = await self.live(conn)
            assert live is not None
            return live
        if live.version != self.version:
            building = await self.building(conn)
            if building is not None and building.version != self.version:
                await self.fail(conn, building.gen, f"superseded by version {self.version}")
                building = None
            if building is None:
                gen = await self._insert(
                    conn,
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
            await self._run_functions(conn)
        return live

    async def request(self, conn: asyncpg.Connection, reason: str) -> Generation:
        """Ask for a rebuild of the live version (``complaints rebuild``); raises
        ``AlreadyBuilding`` when one runs."""
        await conn.execute(registry_sql(self.schema))
        building = await self.building(conn)
        if building is not None:
            raise AlreadyBuilding(building)
        live = await self.live(conn)
        if live is None:
            raise LookupError(f"{self.schema} has no live generation yet: start the service")
        try:
            gen = await self._insert(conn, live.version, "building", reason)
        except asyncpg.UniqueViolationError:  # another request won the race
            building = await self.building(conn)
            assert building is not None
            raise AlreadyBuilding(building) from None
        # Wakes the builders at once (they also look every ``rebuild_poll_s``); delivered
        # when the caller's transaction commits.
        await conn.execute("SELECT pg_notify($1, $2)", self.channel, str(gen))
        row = await conn.fetchrow(f"SELECT * FROM {self.schema}.generations WHERE gen = $1", gen)
        return Generation(**dict(row))

    # -- building ----------------------------------------------------------------------

    async def create_tables(
        self, conn: asyncpg.Connection, gen: int, bookkeeping_sql: Callable[[str], str]
    ) -> None:
        """Create generation ``gen``'s schema, its projection tables and its bookkeeping."""
        target = self.schema_of(gen)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {target}")
        await conn.execute(bookkeeping_sql(target))
        await conn.execute(f"SET LOCAL search_path TO {target}")
        try:
            for path in self.tables:
                await conn.execute(path.read_text(encoding="utf-8"))
        finally:
            await conn.execute("SET LOCAL search_path TO DEFAULT")

    async def progress(
        self,
        conn: asyncpg.Connection,
        gen: int,
        *,
        done: int,
        total: int,
        rate: float,
        lag: int,
        builder: str,
    ) -> None:
        """Record how far the builder of ``gen`` is (read by the CLI and the metrics)."""
        await conn.execute(
            f"""UPDATE {self.schema}.generations
                SET events_done = $2, events_total = $3, rate = $4, lag = $5, builder = $6,
                    started_at = coalesce(started_at, now()), updated_at = now()
                WHERE gen = $1""",
            gen,
            done,
            total,
            rate,
            lag,
            builder,
        )

    async def fail(self, conn: asyncpg.Connection, gen: int, error: str) -> None:
        """Give up generation ``gen`` (its schema is dropped; the live one stays)."""
        await conn.execute(
            f"""UPDATE {self.schema}.generations
                SET state = 'failed', error = $2, finished_at = now(), updated_at = now()
                WHERE gen = $1 AND state = 'building'""",
            gen,
            error[:4000],
        )
        await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema_of(gen)} CASCADE")

    async def swap(
        self, conn: asyncpg.Connection, gen: int, lock_timeout_s: float | None = None
    ) -> int | None:
        """Make ``gen`` live and point every view at it; the caller's transaction holds the
        live lock exclusively. Returns the generation retired (its schema to drop).

        Every stable view is locked first, all in one statement, waiting at most
        ``lock_timeout_s`` for the readers that hold one (``asyncpg.LockNotAvailableError``
        then: nothing changed, the caller rolls back and tries again). Replacing the views
        one by one, each waiting as long as it must, could hold one view while waiting for
        another that a reader holds, while that reader waited for the first: PostgreSQL ends
        such a cycle after ``deadlock_timeout`` by failing one of the two, perhaps the reader;
        and when the reader's other half runs on another connection (a report reading two
        periods in one snapshot), PostgreSQL never sees the cycle and both wait for good,
        with every writer of the service behind the swap's live lock."""
        await self._lock_views(conn, lock_timeout_s)
        old = await self.live(conn)
        await conn.execute(
            f"""UPDATE {self.schema}.generations
                SET state = 'retired', finished_at = now(), updated_at = now()
                WHERE state = 'live'"""
        )
        await conn.execute(
            f"""UPDATE {self.schema}.generations
                SET state = 'live', swapped_at = now(), lag = 0, updated_at = now()
                WHERE gen = $1""",
            gen,
        )
        await self.publish(conn, gen)
        return old.gen if old else None

    async def drop(self, conn: asyncpg.Connection, gen: int) -> None:
        """Drop a retired generation's schema (its views already point elsewhere)."""
        await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema_of(gen)} CASCADE")

    async def _lock_views(self, conn: asyncpg.Connection, timeout_s: float | None) -> None:
        """Lock every view of the service's schema exclusively for the caller's transaction
        (with the live generation's tables beneath them), waiting at most ``timeout_s``."""
        views = [
            r["relname"]
            for r in await conn.fetch(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relkind = 'v' ORDER BY c.relname",
                self.schema,
            )
        ]
        if not views:
            return  # the first generation: nobody reads a stable name yet
        for view in views:
            _check(view)
        if timeout_s is not None:
            await conn.execute(f"SET LOCAL lock_timeout = '{max(1, round(timeout_s * 1000))}ms'")
        names = ", ".join(f"{self.schema}.{view}" for view in views)
        await conn.execute(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
        if timeout_s is not None:
            await conn.execute("SET LOCAL lock_timeout TO DEFAULT")

    # -- the stable names --------------------------------------------------------------

    async def publish(self, conn: asyncpg.Connection, gen: int) -> None:
        """Point a view of the same name in the service's schema at every table of ``gen``,
        then (re)create the stable functions over them."""
        target = self.schema_of(gen)
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", target
        )
        for row in tables:
            table = row["tablename"]
            _check(table)
            # The live generation's bookkeeping is ``live_<table>``: the durable consumers
            # keep tables of the plain names in the service's schema.
            view = f"live_{table}" if table in BOOKKEEPING_TABLES else table
            await self._point_view(conn, view, f"{target}.{table}")
        await self._run_functions(conn)

    async def _point_view(self, conn: asyncpg.Connection, view: str, source: str) -> None:
        """Make ``<schema>.<view>`` show ``source``, keeping the view (and what depends on
        it) when the columns are the same; replacing it when the shape changed."""
        definition = f"SELECT * FROM {source}"
        if view in self.legacy_tables and await self._relkind(conn, view) in ("r", "p"):
            # A projection table of the layout before generations still holds the name.
            log.warning("%s: replacing the pre-generation table %s by its view", self.schema, view)
            await conn.execute(f"DROP TABLE {self.schema}.{view} CASCADE")
        try:
            async with conn.transaction():  # a savepoint: a changed shape falls back below
                await conn.execute(f"CREATE OR REPLACE VIEW {self.schema}.{view} AS {definition}")
        except (asyncpg.InvalidTableDefinitionError, asyncpg.WrongObjectTypeError):
            await conn.execute(f"DROP VIEW IF EXISTS {self.schema}.{view} CASCADE")
            await conn.execute(f"CREATE VIEW {self.schema}.{view} AS {definition}")

    async def _run_functions(self, conn: asyncpg.Connection) -> None:
        """(Re)create the stable functions, only when their SQL changed: a function is not
        locked by the queries that call it, so dropping it under a reader would fail that
        reader."""
        if not self.functions:
            return
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in self.functions)).hexdigest()
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {self.schema}.stable_sql (
                    id boolean PRIMARY KEY DEFAULT true CHECK (id), digest text NOT NULL)"""
        )
        if await conn.fetchval(f"SELECT digest FROM {self.schema}.stable_sql") == digest:
            return
        for path in self.functions:
            await conn.execute(path.read_text(encoding="utf-8"))
        await conn.execute(
            f"""INSERT INTO {self.schema}.stable_sql (digest) VALUES ($1)
                ON CONFLICT (id) DO UPDATE SET digest = EXCLUDED.digest""",
            digest,
        )

    # -- helpers -----------------------------------------------------------------------

    async def _insert(self, conn: asyncpg.Connection, version: str, state: str, reason: str) -> int:
        gen: int = await conn.fetchval(
            f"""INSERT INTO {self.schema}.generations (gen, version, state, reason)
                SELECT coalesce(max(gen), 0) + 1, $1, $2, $3 FROM {self.schema}.generations
                RETURNING gen""",
            version,
            state,
            reason,
        )
        return gen

    async def _relkind(self, conn: asyncpg.Connection, name: str) -> str | None:
        """What ``<schema>.<name>`` is: ``r`` a table, ``v`` a view, ``None`` nothing."""
        kind: str | None = await conn.fetchval(
            "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = $1 AND c.relname = $2",
            self.schema,
            name,
        )
        return kind

    async def _drop_legacy(self, conn: asyncpg.Connection) -> None:
        """Drop the projection tables an earlier release kept in the service's own schema."""
        for table in self.legacy_tables:
            _check(table)
            if await self._relkind(conn, table) in ("r", "p"):
                log.warning("%s: dropping the pre-generation table %s", self.schema, table)
                await conn.execute(f"DROP TABLE {self.schema}.{table} CASCADE")


def _check(name: str) -> None:
    if not _IDENT.match(name):
        raise ValueError(f"bad SQL identifier {name!r}")


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

    async def enter(self, conn: asyncpg.Connection) -> LiveTarget:
        """Take the live lock (shared) for the caller's transaction; aim its unqualified
        names at the live generation."""
        # Two statements: a statement's snapshot is taken before a lock it waits for, so the
        # live generation is read only once the lock is held (after any swap committed).
        await conn.execute(
            "SELECT pg_advisory_xact_lock_shared(hashtext($1))", live_lock_key(self.schema)
        )
        row = await conn.fetchrow(
            f"""SELECT gen, version,
                       set_config('search_path', $1 || '_g' || gen || ', ' || $1, true)
                FROM {self.schema}.generations WHERE state = 'live'""",
            self.schema,
        )
        if row is None:
            raise LookupError(f"{self.schema} has no live generation")
        return LiveTarget(row["gen"], row["version"], generation_schema(self.schema, row["gen"]))

    async def current(self, conn: asyncpg.Connection) -> LiveTarget | None:
        """The live generation now, without a lock (for positioning, never for writing)."""
        row = await conn.fetchrow(
            f"SELECT gen, version FROM {self.schema}.generations WHERE state = 'live'"
        )
        if row is None:
            return None
        return LiveTarget(row["gen"], row["version"], generation_schema(self.schema, row["gen"]))

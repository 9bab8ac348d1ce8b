"""The PostgreSQL pool and each service's schema migrations."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from services.runtime import store

log = logging.getLogger(__name__)

# Errors after which the same statement may succeed: the database restarting, a lost
# connection, a serialisation conflict. Anything else is a fault of the data or the code.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # A connection whose protocol broke when the server went away mid-statement ("cannot
    # switch to state 15; another operation is in progress"): a new connection succeeds.
    # Not retried, the batch was dropped by the subscriber and 196 complaints were missing
    # after a database restart (CI, test_database_restart).
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # The session idled inside a transaction past ``idle_in_transaction_session_timeout``
    # (the process was stopped): PostgreSQL rolled it back and closed it.
    asyncpg.IdleInTransactionSessionTimeoutError,
)


class Connection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg is untyped here
    """A pooled connection that knows whether it took session state.

    asyncpg's pool resets every connection it gets back (``SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL``): one more round trip, and four statements for the
    server, after every borrow. Here nothing sets session state but the session advisory
    locks, all taken through ``store.lock`` and ``store.try_lock``, which say so
    (``note_session_state``); settings are ``SET LOCAL`` and cursors live in
    transactions, which the pool ends itself. A connection is reset in full
    (``reset_if_marked``, the pool's reset) only after such a lock, let go or not.
    """

    __slots__ = ("_session_state",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session_state = False

    def note_session_state(self) -> None:
        """This connection took state that outlives a transaction (a session advisory lock):
        reset it in full when it goes back to the pool."""
        self._session_state = True

    async def reset_if_marked(self) -> None:
        """What the pool runs on a connection it gets back, after asyncpg has rolled back an
        open transaction and dropped its listeners: asyncpg's full reset, only where session
        state was taken."""
        if self._session_state:
            await self.execute(self.get_reset_query())
            self._session_state = False


async def create_pool(
    dsn: str,
    *,
    size: int,
    timeout_s: float = 60.0,
    search_path: str | None = None,
    plan_each_query: bool = False,
    idle_in_transaction_s: float = 0,
) -> asyncpg.Pool:
    """A connection pool, waiting for the database to accept connections (it may be starting).

    ``search_path``: where the connections' unqualified names are looked up by default.
    ``plan_each_query``: plan every execution for its own parameters. asyncpg prepares each
    statement once per connection, and after five executions PostgreSQL may keep one generic
    plan for all parameters: a report run for the whole company and then for one office got
    the company's plan (a scan of the month, filtered after: 2.4 s instead of 0.13 s). And a
    generic plan made while a table was nearly empty (a new system, a new generation) scans it
    whole until autovacuum analyses it, a minute later at the earliest: the workflow's and the
    SLA's batches read their tables by key, and took 6–27 ms a statement at 10,000 rows.
    ``idle_in_transaction_s``: PostgreSQL ends a session idle inside a transaction this long,
    releasing its locks (``Settings.db_idle_in_transaction_s``; 0: never).
    """
    # No JIT compilation: every query here answers a person or applies a batch, and compiling
    # one took longer than running it (445 ms of a 1.4 s monthly report over 1,000,000
    # complaints, for each of its three periods).
    settings = {"jit": "off"}
    if search_path:
        settings["search_path"] = search_path
    if plan_each_query:
        settings["plan_cache_mode"] = "force_custom_plan"
    if idle_in_transaction_s > 0:
        settings["idle_in_transaction_session_timeout"] = (
            f"{max(round(idle_in_transaction_s * 1000), 1)}ms"
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            return await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=size,
                command_timeout=30,
                server_settings=settings,
                connection_class=Connection,
                reset=Connection.reset_if_marked,
            )
        except TRANSIENT_DB_ERRORS as exc:
            if loop.time() > deadline:
                raise
            log.warning("database not reachable yet (%s); retrying", exc)
            await asyncio.sleep(1.0)


async def ping(pool: asyncpg.Pool) -> bool:
    """Whether the database answers a trivial query now."""
    try:
        async with pool.acquire(timeout=2) as conn:
            return await store.ping(conn)
    except Exception:  # readiness only reports; it never raises
        return False

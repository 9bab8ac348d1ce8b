"""The PostgreSQL pool and each service's schema migrations."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

log = logging.getLogger(__name__)

# Errors after which the same statement may succeed: the database restarting, a lost
# connection, a serialisation conflict. Anything else is a fault of the data or the code.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


async def create_pool(
    dsn: str, *, size: int, timeout_s: float = 60.0, search_path: str | None = None
) -> asyncpg.Pool:
    """A connection pool, waiting for the database to accept connections (it may be starting).

    ``search_path``: where the connections' unqualified names are looked up by default.
    """
    settings = {"search_path": search_path} if search_path else None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            return await asyncpg.create_pool(
                dsn, min_size=1, max_size=size, command_timeout=30, server_settings=settings
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
            return bool(await conn.fetchval("SELECT true"))
    except Exception:  # readiness only reports; it never raises
        return False

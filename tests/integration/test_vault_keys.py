"""Intake's sealing keys, made for concurrent requests together (``vault.KeyMaker``): the
same keys as one request at a time would get — one per complainant, the stored one when there
is one, a fresh one after an erasure — with one statement for the requests that asked while
another was out, and a failure reaching each request it concerns and no other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from contracts.privacy import ErasureReason
from services.runtime import vault
from services.runtime.db import create_pool

pytestmark = pytest.mark.infra


class CountingPool:
    """The pool, counting its borrows (one per statement the key maker runs)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.borrows = 0
        self.fail_next = False

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        self.borrows += 1
        await asyncio.sleep(0.02)  # a round trip, while others ask
        if self.fail_next:
            self.fail_next = False
            raise asyncpg.PostgresConnectionError("the vault is restarting")
        async with self.pool.acquire() as conn:
            yield conn


@pytest.fixture
async def pool(own_database: str) -> AsyncIterator[CountingPool]:
    pool = await create_pool(own_database, size=3)
    async with pool.acquire() as conn:
        await vault.migrate(conn)
    yield CountingPool(pool)
    await pool.close()


async def _stored(pool: CountingPool, ref: str) -> Any:
    async with pool.pool.acquire() as conn:
        return await conn.fetchval(
            "SELECT key FROM vault.complainant_keys WHERE complainant_ref = $1", ref
        )


async def test_concurrent_requests_share_statements_and_get_their_own_keys(
    pool: CountingPool,
) -> None:
    maker = vault.KeyMaker()
    async with pool.pool.acquire() as conn:
        before = await vault.key_for_sealing(conn, "ref-known")
    refs = [f"ref-{i % 40}" for i in range(80)] + ["ref-known"]  # each new ref asked twice

    lone = asyncio.create_task(maker.key_for(pool, "ref-lone"))  # type: ignore[arg-type]
    await asyncio.sleep(0.005)  # its statement is out
    keys = await asyncio.gather(*(maker.key_for(pool, ref) for ref in refs))  # type: ignore[arg-type]

    # the lone request went at once; all that asked while it was out went in one more
    assert pool.borrows == 2
    assert await lone not in keys
    by_ref: dict[str, set[bytes]] = {}
    for ref, key in zip(refs, keys, strict=True):
        by_ref.setdefault(ref, set()).add(key)
    assert all(len(k) == 1 for k in by_ref.values())  # one key per complainant
    assert len({k for ks in by_ref.values() for k in ks}) == 41  # and no two alike
    assert by_ref["ref-known"] == {before}
    for ref, (key,) in by_ref.items():
        assert bytes(await _stored(pool, ref)) == key


async def test_an_erased_complainant_gets_a_fresh_key(pool: CountingPool) -> None:
    maker = vault.KeyMaker()
    first = await maker.key_for(pool, "ref-erased")  # type: ignore[arg-type]
    async with pool.pool.acquire() as conn:
        await vault.erase(
            conn,
            "ref-erased",
            reason=ErasureReason.OWNER_REQUEST,
            reference="R-1",
            erased_by="cs-1",
        )
    again = await maker.key_for(pool, "ref-erased")  # type: ignore[arg-type]
    assert again != first and bytes(await _stored(pool, "ref-erased")) == again


async def test_a_failed_statement_fails_its_requests_and_the_next_ones_go_on(
    pool: CountingPool,
) -> None:
    maker = vault.KeyMaker()
    pool.fail_next = True
    first = [maker.key_for(pool, f"ref-f{i}") for i in range(2)]  # type: ignore[arg-type]
    failing = asyncio.gather(*first, return_exceptions=True)
    await asyncio.sleep(0.005)  # their statement is out
    later = asyncio.gather(
        *(maker.key_for(pool, f"ref-l{i}") for i in range(3)),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    # the two asked together failed together; the three that asked meanwhile went next
    assert [type(e) for e in await failing] == [asyncpg.PostgresConnectionError] * 2
    assert all(isinstance(k, bytes) for k in await later)
    assert pool.borrows == 2
    assert await _stored(pool, "ref-f0") is None
    assert isinstance(await maker.key_for(pool, "ref-f0"), bytes)  # type: ignore[arg-type]


async def test_a_request_that_gives_up_does_not_hold_back_the_others(
    pool: CountingPool,
) -> None:
    maker = vault.KeyMaker()
    lone = asyncio.create_task(maker.key_for(pool, "ref-first"))  # type: ignore[arg-type]
    await asyncio.sleep(0.005)  # its statement is out
    gone = asyncio.create_task(maker.key_for(pool, "ref-gone"))  # type: ignore[arg-type]
    stays = asyncio.create_task(maker.key_for(pool, "ref-stays"))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    gone.cancel()  # a client gone while waiting for the next statement
    assert isinstance(await asyncio.wait_for(lone, 5), bytes)
    assert isinstance(await asyncio.wait_for(stays, 5), bytes)
    with pytest.raises(asyncio.CancelledError):
        await gone

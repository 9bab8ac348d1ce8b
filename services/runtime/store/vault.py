"""The personal-data vault's keys (``vault.complainant_keys``): every statement on them
(``services.runtime.vault`` seals, opens and erases with them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.runtime.store.locks import migrating

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS vault;
CREATE TABLE IF NOT EXISTS vault.complainant_keys (
    complainant_ref   text PRIMARY KEY,          -- HMAC-SHA256(pepper, phone): no phone here
    key               bytea,                     -- AES-256; NULL once erased
    created_at        timestamptz NOT NULL DEFAULT now(),
    erased_at         timestamptz,
    erasure_reason    text,                      -- a code of ErasureReason, never free text
    erasure_reference text,                      -- e.g. the request's or order's number
    erased_by         text,                      -- staff id, or 'retention'
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);
"""


async def migrate(conn: asyncpg.Connection) -> None:
    """Create the vault if it is missing (every service calls this at start; one runs it)."""
    async with migrating(conn, "vault"):
        await conn.execute(SCHEMA_SQL)


async def insert_keys(conn: asyncpg.Connection, keys: dict[str, bytes]) -> dict[str, bytes]:
    """Store each ``ref``'s new key unless a live key is there (an erased one is replaced),
    with one statement, in ``ref`` order (two copies inserting overlapping refs never wait
    for each other in a cycle); ``ref`` → the key stored, for those stored."""
    refs = sorted(keys)
    rows = await conn.fetch(
        """INSERT INTO vault.complainant_keys AS k (complainant_ref, key)
           SELECT * FROM unnest($1::text[], $2::bytea[])
           ON CONFLICT (complainant_ref) DO UPDATE
           SET key = EXCLUDED.key, created_at = now(), erased_at = NULL,
               erasure_reason = NULL, erasure_reference = NULL, erased_by = NULL
           WHERE k.key IS NULL
           RETURNING complainant_ref, key""",
        refs,
        [keys[ref] for ref in refs],
    )
    return {r["complainant_ref"]: bytes(r["key"]) for r in rows}


async def keys_of(
    conn: asyncpg.Connection, refs: Sequence[str]
) -> dict[str, tuple[bytes | None, datetime | None]]:
    """``ref`` → (key or ``None`` once erased, when it was erased), for those the vault has."""
    rows = await conn.fetch(
        """SELECT complainant_ref, key, erased_at FROM vault.complainant_keys
           WHERE complainant_ref = ANY($1::text[])""",
        list(refs),
    )
    return {
        r["complainant_ref"]: (bytes(r["key"]) if r["key"] is not None else None, r["erased_at"])
        for r in rows
    }


Why = tuple[str, str | None, str]
"""Why a key is destroyed: (the ``ErasureReason`` code, the request's reference, by whom)."""


async def destroy_key(conn: asyncpg.Connection, ref: str, why: Why) -> datetime | None:
    """Destroy the live key of ``ref`` now (a ref never seen is recorded as erased); when it
    was destroyed, or ``None`` if it was erased already."""
    row = await conn.fetchrow(
        """INSERT INTO vault.complainant_keys AS k
               (complainant_ref, key, erased_at, erasure_reason, erasure_reference, erased_by)
           VALUES ($1, NULL, now(), $2, $3, $4)
           ON CONFLICT (complainant_ref) DO UPDATE
           SET key = NULL, erased_at = now(), erasure_reason = EXCLUDED.erasure_reason,
               erasure_reference = EXCLUDED.erasure_reference, erased_by = EXCLUDED.erased_by
           WHERE k.key IS NOT NULL
           RETURNING erased_at""",
        ref,
        *why,
    )
    return row["erased_at"] if row is not None else None


async def erased_at(conn: asyncpg.Connection, ref: str) -> datetime | None:
    at: datetime | None = await conn.fetchval(
        "SELECT erased_at FROM vault.complainant_keys WHERE complainant_ref = $1", ref
    )
    return at


async def destroy_key_made_before(
    conn: asyncpg.Connection, ref: str, erased: datetime, why: Why
) -> bool:
    """Destroy the key of ``ref`` if it was made before ``erased``; ``True`` if one was."""
    row = await conn.fetchrow(
        """INSERT INTO vault.complainant_keys AS k
               (complainant_ref, key, created_at, erased_at, erasure_reason, erasure_reference,
                erased_by)
           VALUES ($1, NULL, $2, $2, $3, $4, $5)
           ON CONFLICT (complainant_ref) DO UPDATE
           SET key = NULL, erased_at = EXCLUDED.erased_at,
               erasure_reason = EXCLUDED.erasure_reason,
               erasure_reference = EXCLUDED.erasure_reference, erased_by = EXCLUDED.erased_by
           WHERE k.key IS NOT NULL AND k.created_at <= EXCLUDED.erased_at
           RETURNING (xmax <> 0) AS updated""",
        ref,
        erased,
        *why,
    )
    return bool(row is not None and row["updated"])

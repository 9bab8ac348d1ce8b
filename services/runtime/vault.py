"""The crypto-shredding vault: one key per complainant, kept outside the log, destroyed on erasure.

The log is immutable and kept forever, so personal data cannot be deleted from it; it can be
made unreadable. Intake seals a complainant's name and phone and the complaint's free text
(``description``, ``demand``) with AES-256-GCM under the complainant's own key before the
``ComplaintReceived`` goes into the log; projections keep the sealed values and open them when
they are read. Erasure destroys the key (``key = NULL``): from the next read on, and after any
rebuild, every sealed field of that complainant opens to ``已删除``.

The vault is infrastructure like a KMS, used by every service: PostgreSQL schema ``vault``,
created by whichever service starts first, never part of a projection, never dropped by a
rebuild. This module is the only code that touches its SQL.

A complainant is known by a **reference**: HMAC-SHA256 of the normalised phone under a secret
pepper (``COMPLAINTS_VAULT_PEPPER``). It is pseudonymous, not anonymous: whoever holds the
pepper can test a phone number against it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.intake import (
    ComplaintReceived,
    ComplaintReceivedV3,
    SealedComplainant,
    normalise_phone,
)
from contracts.privacy import ErasureReason
from services.runtime.store import vault as stored

ERASED = "已删除"
"""What every sealed field of an erased complainant reads as."""

NONCE_BYTES = 12

PERSONAL = ("complainant", "description", "demand")
"""The fields of a received complaint sealed under its complainant's key."""


async def migrate(conn: asyncpg.Connection) -> None:
    """Create the vault if it is missing (every service calls this at start; one runs it)."""
    await stored.migrate(conn)


def complainant_ref(pepper: bytes, phone: str) -> str:
    """The pseudonymous reference of a phone number (any written form of one number gives the
    same reference; a number that is not valid is refused with ``ValueError``)."""
    return _ref(pepper, normalise_phone(phone))


def _ref(pepper: bytes, normalised: str) -> str:
    # The reference of a number already in national form: what a ``Complainant``'s phone
    # holds, normalised by its validator when the event was accepted (and trusted as such when
    # read back from the log). Parsing it again took 5 % of a workflow rebuild's lanes.
    return hmac.new(pepper, normalised.encode(), hashlib.sha256).hexdigest()


def ref_of(pepper: bytes, received: ComplaintReceived) -> str:
    """The complainant's reference of a received complaint, sealed or (older events) in clear."""
    who = received.complainant
    if isinstance(who, SealedComplainant):
        return who.ref
    return _ref(pepper, who.phone)


def _aad(ref: str, field: str) -> bytes:
    # Binds a sealed value to its complainant and its field: a blob moved to another
    # complainant, or from the name to the description, does not open.
    return f"complaints/vault/v1/{ref}/{field}".encode()


def seal(key: bytes | AESGCM, ref: str, field: str, value: Any) -> str:
    """``value`` (JSON-able) sealed under ``key`` (or its ``AESGCM``, made once for several
    fields): base64 of the nonce and the ciphertext."""
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = os.urandom(NONCE_BYTES)
    sealed = cipher.encrypt(nonce, orjson.dumps(value), _aad(ref, field))
    return base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, ref: str, field: str, sealed: str) -> Any:
    """The value of ``seal``; raises ``InvalidTag`` for another key, ref or field."""
    raw = base64.b64decode(sealed)
    return orjson.loads(AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(ref, field)))


async def keys_for_sealing(conn: asyncpg.Connection, refs: Iterable[str]) -> dict[str, bytes]:
    """Each complainant's key, made on their first complaint: one statement for them all
    when none was made before, two when some were.

    Two complaints from one new number at once: both insert, one wins, both read its key.
    An erased complainant who complains again gets a fresh key: the new complaint is readable,
    the erased ones stay sealed under the destroyed key.
    """
    wanted = set(refs)
    keys: dict[str, bytes] = {}
    for _ in range(5):
        made = await stored.insert_keys(
            conn, {ref: AESGCM.generate_key(bit_length=256) for ref in wanted}
        )
        keys.update(made)
        # Not made: someone else's key is there (or was, and was just erased: try again)
        others = sorted(wanted - made.keys())
        if others:
            for ref, (key, _) in (await stored.keys_of(conn, others)).items():
                if key is not None:
                    keys[ref] = key
        wanted -= keys.keys()
        if not wanted:
            return keys
    raise RuntimeError("the vault kept erasing a complainant's key while sealing")


async def key_for_sealing(conn: asyncpg.Connection, ref: str) -> bytes:
    """``keys_for_sealing`` for one complainant."""
    return (await keys_for_sealing(conn, [ref]))[ref]


class KeyMaker:
    """The sealing keys of concurrent requests, made together (group commit).

    Each request made its complainant's key alone: a pooled connection, a round trip and a
    commit per complaint. Here the requests that ask while a statement is out wait for it,
    then go together in the next one; a lone request goes at once. Not a cache: every key is
    read from the vault when it is asked for, so an erasure shows on the next complaint.
    A failure reaches every request of its statement.
    """

    def __init__(self) -> None:
        self._asked: dict[str, list[asyncio.Future[bytes]]] = {}
        self._making: asyncio.Task[None] | None = None

    async def key_for(self, pool: asyncpg.Pool, ref: str) -> bytes:
        """The key of ``ref`` (``keys_for_sealing``), made with the others asked meanwhile."""
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(ref, []).append(future)
        if self._making is None:
            self._making = asyncio.create_task(self._make(pool), name="vault-keys")
        return await future

    async def _make(self, pool: asyncpg.Pool) -> None:
        try:
            while self._asked:
                asked, self._asked = self._asked, {}
                try:
                    async with pool.acquire() as conn:
                        keys = await keys_for_sealing(conn, asked)
                    for ref, futures in asked.items():
                        for future in futures:
                            if not future.done():  # its request gave up (a client gone)
                                future.set_result(keys[ref])
                except asyncio.CancelledError:
                    for future in _waiting(asked):
                        future.cancel()
                    raise
                except Exception as exc:  # never a request left waiting
                    for future in _waiting(asked):
                        future.set_exception(exc)
        finally:
            self._making = None
            for future in _waiting(self._asked):  # asked while this task was cancelled
                future.cancel()
            self._asked = {}


def _waiting(asked: dict[str, list[asyncio.Future[bytes]]]) -> list[asyncio.Future[bytes]]:
    return [f for futures in asked.values() for f in futures if not f.done()]


async def seal_received(
    key_for: Callable[[str], Awaitable[bytes]], pepper: bytes, received: ComplaintReceivedV3
) -> ComplaintReceived:
    """The event for the log: ``received`` (in clear, as intake decided it) with the
    complainant's name and phone and the free text sealed under the complainant's key
    (``key_for``: ``KeyMaker.key_for`` or ``key_for_sealing`` on a connection)."""
    ref = _ref(pepper, received.complainant.phone)
    cipher = AESGCM(await key_for(ref))
    who = {"name": received.complainant.name, "phone": received.complainant.phone}
    # The other fields as they are: models, not dumped to dicts that would be validated
    # again, read from ``__dict__`` (iterating the model builds a list of pairs first); the
    # sealed values as dicts, validated with the event (three models less to build).
    facts = {name: value for name, value in received.__dict__.items() if name not in PERSONAL}
    facts["complainant"] = {"ref": ref, "sealed": seal(cipher, ref, "complainant", who)}
    facts["description"] = {"sealed": seal(cipher, ref, "description", received.description)}
    facts["demand"] = {"sealed": seal(cipher, ref, "demand", received.demand)}
    return ComplaintReceived.model_validate(facts)


def personal_of(pepper: bytes, received: ComplaintReceived) -> dict[str, Any]:
    """What a projection keeps of the personal fields: the reference and the values as the log
    has them (sealed; in clear only for events from before sealing). Never opened values."""
    return {
        "ref": ref_of(pepper, received),
        **received.model_dump(mode="json", include=set(PERSONAL)),
    }


def personal_of_logged(pepper: bytes, data: dict[str, Any]) -> dict[str, Any]:
    """``personal_of`` for a body read as JSON (``LoggedEvent.data``)."""
    who = data["complainant"]
    ref = who["ref"] if "ref" in who else _ref(pepper, who["phone"])
    return {
        "ref": ref,
        "complainant": who,
        "description": data["description"],
        "demand": data.get("demand", ""),
    }


@dataclass(frozen=True)
class Opened:
    """A complaint's personal fields as they read now: living values, or ``已删除``."""

    name: str
    phone: str
    description: str
    demand: str
    erased: bool

    def complainant(self) -> dict[str, str]:
        """``{"name", "phone"}`` as the APIs show a complainant (before masking)."""
        return {"name": self.name, "phone": self.phone}


ERASED_OPENED = Opened(name=ERASED, phone=ERASED, description=ERASED, demand=ERASED, erased=True)


@dataclass(frozen=True)
class KeyState:
    """A complainant's row of the vault: the key (``None``: erased) and when it was erased."""

    key: bytes | None
    erased_at: datetime | None


async def _keys(conn: asyncpg.Connection, refs: Iterable[str]) -> dict[str, KeyState]:
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    return {
        ref: KeyState(key, erased_at)
        for ref, (key, erased_at) in (await stored.keys_of(conn, wanted)).items()
    }


def open_with(personal: dict[str, Any], state: KeyState | None) -> Opened:
    """Open ``personal`` (``personal_of``) with the vault's row of its complainant (``None``:
    the vault has none). Pure: ``open_many`` looks the rows up."""
    opened = _opened(personal, state, PERSONAL)
    if opened is None:
        return ERASED_OPENED
    who = opened["complainant"]
    return Opened(
        name=who["name"],
        phone=who["phone"],
        description=str(opened["description"]),
        demand=str(opened["demand"]),
        erased=False,
    )


def description_with(personal: dict[str, Any], state: KeyState | None) -> str:
    """``open_with(personal, state).description``, the description alone unsealed: what a
    report reads of tens of thousands of complaints (a third of the work of opening all)."""
    opened = _opened(personal, state, ("description",))
    return ERASED if opened is None else str(opened["description"])


def _opened(
    personal: dict[str, Any], state: KeyState | None, fields: Sequence[str]
) -> dict[str, Any] | None:
    """The ``fields`` of ``personal`` (``complainant``, ``description``, ``demand``) as they
    read now, or ``None`` once its complainant is erased: the one rule of ``open_with`` and
    ``description_with``."""
    ref, who = personal["ref"], personal["complainant"]
    if "sealed" not in who:
        # From before sealing: in clear in the log; hidden once the complainant is erased.
        if state is not None and state.key is None:
            return None
        return {f: who if f == "complainant" else personal[f] for f in fields}
    if state is None or state.key is None:
        return None
    try:
        return {
            f: unseal(state.key, ref, f, value["sealed"]) if isinstance(value, dict) else value
            for f in fields
            for value in [who if f == "complainant" else personal[f]]
        }
    except InvalidTag:
        # Sealed under a key destroyed since (the complainant was erased, then complained
        # again and got a fresh key): erased.
        return None


async def open_descriptions(
    conn: asyncpg.Connection, personals: Sequence[dict[str, Any]]
) -> list[str]:
    """``open_many``'s descriptions, each alone unsealed (``description_with``)."""
    keys = await _keys(conn, (p["ref"] for p in personals))
    return [description_with(p, keys.get(p["ref"])) for p in personals]


async def open_many(conn: asyncpg.Connection, personals: Sequence[dict[str, Any]]) -> list[Opened]:
    """Open the personal fields of many complaints with one look-up of their keys. Keys are
    not cached: an erasure shows on the very next read."""
    keys = await _keys(conn, (p["ref"] for p in personals))
    return [open_with(p, keys.get(p["ref"])) for p in personals]


async def open_one(conn: asyncpg.Connection, personal: dict[str, Any]) -> Opened:
    """``open_many`` for one complaint."""
    return (await open_many(conn, [personal]))[0]


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: ``erased`` is False when the key was already gone (or unknown)."""

    complainant_ref: str
    erased: bool
    erased_at: datetime | None


async def erase(
    conn: asyncpg.Connection,
    ref: str,
    *,
    reason: ErasureReason,
    reference: str | None,
    erased_by: str,
) -> Erasure:
    """Destroy the complainant's key (idempotent: erasing twice says the second time that it
    was done). A reference the vault never saw is recorded as erased too, so that a legacy
    complainant (from before sealing, in clear in the log) reads as erased."""
    destroyed = await stored.destroy_key(conn, ref, (reason.value, reference, erased_by))
    if destroyed is not None:
        return Erasure(ref, True, destroyed)
    return Erasure(ref, False, await stored.erased_at(conn, ref))


async def enforce_erasure(
    conn: asyncpg.Connection,
    ref: str,
    *,
    erased_at: datetime,
    reason: ErasureReason,
    reference: str | None,
    erased_by: str,
) -> bool:
    """Make the vault agree with an erasure read from the log (``ComplainantErased``): destroy
    the key if it was made before ``erased_at``. After a restore of a vault backup older than
    the erasure, this is what destroys the resurrected key again; a key made after it (the
    complainant complained again) is left alone. ``True`` if a key was destroyed now."""
    why = (reason.value, reference, erased_by)
    return await stored.destroy_key_made_before(conn, ref, erased_at, why)


async def erased_refs(conn: asyncpg.Connection, refs: Iterable[str]) -> set[str]:
    """Which of ``refs`` are erased now."""
    return {ref for ref, state in (await _keys(conn, refs)).items() if state.key is None}

"""SQL of the workflow schema (parameters always), and the stored form of a ``State``.

Each complaint's row keeps its folded ``State`` (``complaints.state``, JSON), so applying an
event or deciding a command reads one row instead of re-reading and re-decoding the whole
history. The stored state carries the fingerprint of the code that folded it
(``STATE_FORMAT``): a state folded by another ``domain/state.py`` is not trusted, the complaint's
history is replayed instead (``load_states``) and the row re-written with the current fold.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import types
import typing
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from pydantic import BaseModel

from contracts import ComplaintReceived, Envelope, decode_event
from services.runtime import vault
from services.workflow.domain import State, initial_state, replay
from services.workflow.domain import fold as fold_module
from services.workflow.domain import state as state_module

SCHEMA = "workflow"

STATE_FORMAT = hashlib.sha256(
    b"".join(Path(str(m.__file__)).read_bytes() for m in (state_module, fold_module))
).hexdigest()[:16]
"""Fingerprint of the fold that wrote a stored state: the digest of ``domain/state.py`` and
``domain/fold.py`` (the ``State`` and its fold). A state
stored under another fingerprint is replayed from the history instead of read."""


async def insert_complaint(
    conn: asyncpg.Connection, envelope: Envelope, data: ComplaintReceived, pepper: bytes
) -> bool:
    """Create a complaint's row from its ``ComplaintReceived``; ``False`` if it exists."""
    inserted = await conn.fetchval(
        """INSERT INTO complaints
             (complaint_id, office, unit, channel, owner_ref, occurred_at, status,
              escalation_level, version)
           VALUES ($1, $2, $3, $4, $5, $6, 'new', 'staff', 0)
           ON CONFLICT (complaint_id) DO NOTHING
           RETURNING true""",
        envelope.complaint_id,
        data.office,
        data.unit,
        data.channel.value,
        vault.ref_of(pepper, data),
        data.occurred_at,
    )
    return bool(inserted)


async def insert_complaints(
    conn: asyncpg.Connection,
    received: Sequence[tuple[Envelope, ComplaintReceived]],
    pepper: bytes,
) -> set[UUID]:
    """``insert_complaint`` for many receipts in one statement (the first receipt of each
    complaint, in order); the ids of the complaints it created."""
    first: dict[UUID, ComplaintReceived] = {}
    for envelope, data in received:
        first.setdefault(envelope.complaint_id, data)
    if not first:
        return set()
    rows = await conn.fetch(
        """INSERT INTO complaints
             (complaint_id, office, unit, channel, owner_ref, occurred_at, status,
              escalation_level, version)
           SELECT r.*, 'new', 'staff', 0
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                       $6::timestamptz[]) AS r
           ON CONFLICT (complaint_id) DO NOTHING
           RETURNING complaint_id""",
        list(first),
        [d.office for d in first.values()],
        [d.unit for d in first.values()],
        [d.channel.value for d in first.values()],
        [vault.ref_of(pepper, d) for d in first.values()],
        [d.occurred_at for d in first.values()],
    )
    return {r["complaint_id"] for r in rows}


async def lock_complaint(conn: asyncpg.Connection, complaint_id: UUID) -> asyncpg.Record | None:
    """The complaint's row, locked until the transaction ends (commands on it queue up)."""
    return await conn.fetchrow(
        "SELECT * FROM complaints WHERE complaint_id = $1 FOR UPDATE", complaint_id
    )


async def lock_complaints(
    conn: asyncpg.Connection, complaint_ids: Sequence[UUID]
) -> dict[UUID, asyncpg.Record]:
    """The rows (id, occurred_at, clock_since, stored state) of those complaints that exist,
    locked in the order of their ids (two writers locking overlapping sets never deadlock)."""
    rows = await conn.fetch(
        """SELECT complaint_id, occurred_at, clock_since, state FROM complaints
           WHERE complaint_id = ANY($1::uuid[]) ORDER BY complaint_id FOR UPDATE""",
        complaint_ids,
    )
    return {r["complaint_id"]: r for r in rows}


async def history(conn: asyncpg.Connection, complaint_id: UUID) -> list[str]:
    """Every event of a complaint as stored (envelope JSON), oldest first."""
    rows = await conn.fetch(
        "SELECT envelope FROM history WHERE complaint_id = $1 ORDER BY seq",
        complaint_id,
    )
    return [r["envelope"] for r in rows]


async def load_state(conn: asyncpg.Connection, complaint_id: UUID) -> State:
    """The complaint's state folded from its history (the reference: every event decoded)."""
    return replay(decode_event(raw)[1] for raw in await history(conn, complaint_id))


async def replay_states(
    conn: asyncpg.Connection, complaint_ids: Sequence[UUID]
) -> dict[UUID, State]:
    """``load_state`` of several complaints, with one query."""
    rows = await conn.fetch(
        """SELECT complaint_id, envelope FROM history
           WHERE complaint_id = ANY($1::uuid[]) ORDER BY complaint_id, seq""",
        complaint_ids,
    )
    raw: dict[UUID, list[str]] = {cid: [] for cid in complaint_ids}
    for r in rows:
        raw[r["complaint_id"]].append(r["envelope"])
    return {cid: replay(decode_event(e)[1] for e in envs) for cid, envs in raw.items()}


async def load_states(
    conn: asyncpg.Connection, rows: Iterable[asyncpg.Record], created: Collection[UUID] = ()
) -> dict[UUID, State]:
    """The current state of each complaint row (locked by the caller): its stored state, or,
    where none was stored by this fold (``STATE_FORMAT``), its history replayed. ``created``:
    complaints this transaction created, with no history yet (the state before any event)."""
    states: dict[UUID, State] = {}
    stale: list[UUID] = []
    for row in rows:
        if row["complaint_id"] in created:
            states[row["complaint_id"]] = initial_state()
            continue
        state = decode_state(row["state"])
        if state is None:
            stale.append(row["complaint_id"])
        else:
            states[row["complaint_id"]] = state
    if stale:
        states.update(await replay_states(conn, stale))
    return states


async def current_state(conn: asyncpg.Connection, row: asyncpg.Record) -> State:
    """The state of one complaint row (locked by the caller): see ``load_states``."""
    state = decode_state(row["state"])
    if state is None:
        return await load_state(conn, row["complaint_id"])
    return state


async def has_event(conn: asyncpg.Connection, event_id: UUID) -> bool:
    """Whether the history already holds this event."""
    return bool(await conn.fetchval("SELECT true FROM history WHERE event_id = $1", event_id))


async def add_history(
    conn: asyncpg.Connection, complaint_id: UUID, seq: int, event_id: UUID, kind: str, raw: str
) -> None:
    """Append one event (``raw``: its envelope as JSON) to the complaint's history at ``seq``."""
    await conn.execute(
        """INSERT INTO history (complaint_id, seq, event_id, type, envelope)
           VALUES ($1, $2, $3, $4, $5::jsonb)""",
        complaint_id,
        seq,
        event_id,
        kind,
        raw,
    )


HistoryRow = tuple[UUID, int, UUID, str, str]
"""(complaint_id, seq, event_id, type, envelope JSON): one row of ``history``."""


async def add_history_rows(conn: asyncpg.Connection, rows: Sequence[HistoryRow]) -> None:
    """Append many history rows with one COPY into the ``history`` the ``search_path`` finds
    (a duplicate event or position fails it, as ``add_history`` would)."""
    if rows:
        await conn.copy_records_to_table(
            "history", records=rows, columns=["complaint_id", "seq", "event_id", "type", "envelope"]
        )


Summary = tuple[UUID, State, tuple[str, datetime] | None, datetime | None]
"""(complaint_id, state, next deadline (kind, at), since when its current step's clock runs)."""


async def save_summary(
    conn: asyncpg.Connection,
    complaint_id: UUID,
    state: State,
    next_deadline: tuple[str, datetime] | None,
    clock_since: datetime | None = None,
) -> None:
    """Write the columns staff list and filter by, and the folded state itself."""
    await save_summaries(conn, [(complaint_id, state, next_deadline, clock_since)])


async def save_summaries(conn: asyncpg.Connection, summaries: Sequence[Summary]) -> None:
    """``save_summary`` for many complaints, with one statement. The office is the state's:
    after a transfer to another office (跨项目转办) the row, and every office check that
    reads it, names the new office."""
    if not summaries:
        return
    columns: list[list[Any]] = [[] for _ in range(10)]
    for complaint_id, s, deadline, since in summaries:
        kind, at = deadline if deadline else (None, None)
        row = (
            complaint_id,
            s.status.value,
            s.major,
            s.escalation_level.value,
            s.version,
            at,
            kind,
            encode_state(s),
            s.office,
            since,
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    await conn.execute(
        """UPDATE complaints AS c
           SET status = u.status, major = u.major, escalation_level = u.level,
               version = u.version, next_deadline = u.at, next_deadline_kind = u.kind,
               state = u.state::jsonb, office = coalesce(u.office, c.office),
               clock_since = u.since, updated_at = now()
           FROM unnest($1::uuid[], $2::text[], $3::bool[], $4::text[], $5::int[],
                       $6::timestamptz[], $7::text[], $8::text[], $9::text[],
                       $10::timestamptz[])
                AS u(complaint_id, status, major, level, version, at, kind, state, office, since)
           WHERE c.complaint_id = u.complaint_id""",
        *columns,
    )


async def prior_complaints(
    conn: asyncpg.Connection,
    received: ComplaintReceived,
    complaint_id: UUID,
    window: timedelta,
    owner: str,
) -> list[tuple[datetime, str, str, str]]:
    """Other complaints of the same owner or unit within ``window`` of this one."""
    rows = await conn.fetch(
        """SELECT occurred_at, owner_ref, unit, office FROM complaints
           WHERE complaint_id <> $1
             AND (owner_ref = $2 OR (office = $3 AND unit = $4))
             AND occurred_at BETWEEN $5 AND $6""",
        complaint_id,
        owner,
        received.office,
        received.unit,
        received.occurred_at - window,
        received.occurred_at + window,
    )
    return [(r["occurred_at"], r["owner_ref"], r["unit"], r["office"]) for r in rows]


async def journal_rules(
    conn: asyncpg.Connection, pairs: Sequence[tuple[UUID, str]]
) -> set[tuple[UUID, str]]:
    """Journal that each (cause, rule) runs, with one statement; the pairs not journalled
    before (the rules to decide now). In key order: two writers journalling overlapping
    batches (the builder and the live consumer) wait for each other instead of deadlocking."""
    if not pairs:
        return set()
    pairs = sorted(pairs)
    rows = await conn.fetch(
        """INSERT INTO workflow.rule_runs (cause_event_id, rule)
           SELECT * FROM unnest($1::uuid[], $2::text[])
           ON CONFLICT DO NOTHING RETURNING cause_event_id, rule""",
        [cause for cause, _ in pairs],
        [rule for _, rule in pairs],
    )
    return {(r["cause_event_id"], r["rule"]) for r in rows}


async def journal_unrun(conn: asyncpg.Connection, pairs: Iterable[tuple[UUID, str]]) -> None:
    """Take (cause, rule) pairs journalled by this transaction out again: the rule did not
    apply after all."""
    pairs = list(pairs)
    if pairs:
        await conn.execute(
            """DELETE FROM workflow.rule_runs r
               USING unnest($1::uuid[], $2::text[]) AS u(cause, rule)
               WHERE r.cause_event_id = u.cause AND r.rule = u.rule""",
            [cause for cause, _ in pairs],
            [rule for _, rule in pairs],
        )


async def prior_candidates(
    conn: asyncpg.Connection,
    receipts: Sequence[ComplaintReceived],
    window: timedelta,
    pepper: bytes,
) -> list[asyncpg.Record]:
    """Every complaint ``prior_complaints`` could return for any of these receipts (the same
    owner or unit, within ``window``), with one statement; the caller picks each one's.

    The owners' and the units' complaints are found apart, each through its index, and put
    together (``UNION``: a complaint of both once). Asked with ``OR`` in one condition, the
    units' pairs being a subquery, PostgreSQL read the whole table for every batch: 16.6 ms
    a batch at 13,000 complaints, most of PostgreSQL's time in the pipeline bench."""
    if not receipts:
        return []
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT complaint_id, occurred_at, owner_ref, unit, office FROM complaints
           WHERE owner_ref = ANY($1::text[]) AND occurred_at BETWEEN $4 AND $5
           UNION
           SELECT c.complaint_id, c.occurred_at, c.owner_ref, c.unit, c.office
           FROM complaints c
           JOIN unnest($2::text[], $3::text[]) AS u(office, unit)
             ON c.office = u.office AND c.unit = u.unit
           WHERE c.occurred_at BETWEEN $4 AND $5""",
        list({vault.ref_of(pepper, r) for r in receipts}),
        [r.office for r in receipts],
        [r.unit for r in receipts],
        min(r.occurred_at for r in receipts) - window,
        max(r.occurred_at for r in receipts) + window,
    )
    return rows


async def summary(conn: asyncpg.Connection, complaint_id: UUID) -> dict[str, Any] | None:
    """The complaint's row as a dict (its stored state left out), or ``None``."""
    row = await conn.fetchrow("SELECT * FROM complaints WHERE complaint_id = $1", complaint_id)
    if row is None:
        return None
    out = dict(row)
    out.pop("state", None)
    return out


# --------------------------------------------------------------------------------------------
# The stored state: ``State`` ⇄ JSON. orjson writes dataclasses, enums, datetimes and tuples
# itself; reading back converts each field by its type hint (new fields come along unasked).
# --------------------------------------------------------------------------------------------

Decode = Callable[[Any], Any]


def _to_json(value: Any) -> Any:
    """What orjson cannot write itself: sets (sorted, so one state has one text), models."""
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, BaseModel):
        return dict(value)  # its fields; orjson writes their values (enums, nested models)
    raise TypeError(f"cannot store {type(value).__name__}")


def _decoder(tp: Any) -> Decode | None:
    """How a JSON value of a field of type ``tp`` becomes the value; ``None``: as it is."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"cannot store a value of type {tp}")
        return _decoder(inner[0])  # None stays None: decoders only see values
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return _collection(tuple, _decoder(args[0]))
    if origin is tuple:
        items = [_decoder(a) or (lambda x: x) for a in args]
        return lambda v: tuple(d(x) for d, x in zip(items, v, strict=True))
    if origin is frozenset:
        return _collection(frozenset, _decoder(args[0]))
    if isinstance(tp, type):
        if issubclass(tp, enum.Enum):
            return tp._value2member_map_.__getitem__  # tp(value), without Enum.__call__
        if issubclass(tp, datetime):
            return datetime.fromisoformat
        if issubclass(tp, BaseModel):
            return tp.model_validate
        if dataclasses.is_dataclass(tp):
            return _dataclass_decoder(tp)
        if tp in (str, int, bool, float):
            return None
    raise TypeError(f"cannot store a value of type {tp}")


def _collection(kind: Callable[[Any], Any], item: Decode | None) -> Decode:
    if item is None:
        return kind
    each: Decode = item
    return lambda v: kind(each(x) for x in v)


def _dataclass_decoder(cls: type) -> Decode:
    if getattr(cls, "__post_init__", None) is not None or hasattr(cls, "__slots__"):
        raise TypeError(f"cannot store a {cls.__name__}: it needs its __init__")
    hints = typing.get_type_hints(cls)  # in the namespace of the module that defines it
    fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(cls)]
    convert = [(name, dec) for name, dec in fields if dec is not None]

    names = {name for name, _ in fields}
    new = object.__new__

    def dec(doc: dict[str, Any]) -> Any:
        for name, d in convert:
            value = doc.get(name)
            if value is not None:
                doc[name] = d(value)
        if doc.keys() != names:  # a field the document lacks keeps its default
            return cls(**doc)
        # Every field, each of its type: what __init__ would set (no __post_init__ here),
        # without 26 frozen setattrs.
        value = new(cls)
        value.__dict__.update(doc)
        return value

    return dec


_DECODE_STATE = _dataclass_decoder(State)


def encode_state(state: State) -> str:
    """The stored form of a state: JSON, tagged with the fold's fingerprint."""
    return orjson.dumps({"format": STATE_FORMAT, "state": state}, default=_to_json).decode()


def decode_state(stored: str | None) -> State | None:
    """The state stored in a row, or ``None`` when none was stored by this fold."""
    if stored is None:
        return None
    doc = orjson.loads(stored)
    if doc.get("format") != STATE_FORMAT:
        return None
    state: State = _DECODE_STATE(doc["state"])
    return state


async def complainants_ended_before(
    conn: asyncpg.Connection, ended: list[str], ended_before: datetime
) -> list[str]:
    """The complainants (references) whose every complaint is in one of the ``ended``
    statuses and whose latest event is older than ``ended_before``."""
    rows = await conn.fetch(
        """SELECT c.owner_ref
           FROM complaints c
           CROSS JOIN LATERAL (
               SELECT max((h.envelope->>'occurred_at')::timestamptz) AS last_at
               FROM history h WHERE h.complaint_id = c.complaint_id
           ) h
           GROUP BY c.owner_ref
           HAVING bool_and(c.status = ANY($1::text[])) AND max(h.last_at) < $2""",
        ended,
        ended_before,
    )
    return [r["owner_ref"] for r in rows]


async def first_evaluation(conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
    """Record in the rule journal that ``rule`` runs for ``cause``; ``False`` if it ran
    before (a replay)."""
    return bool(
        await conn.fetchval(
            "INSERT INTO workflow.rule_runs (cause_event_id, rule) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING RETURNING true",
            cause,
            rule,
        )
    )

"""The caller directory's batch path leaves exactly what one event at a time leaves: for each
number, the complainant of its latest complaint (by time, then id), whatever the order the
events come in and however they are cut into batches."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from bench.common import received_event, submission_body
from contracts import LoggedEvent, decode_logged, encode_event
from contracts.envelope import JsonDict
from deploy.local import sandbox
from services.intake import store
from services.intake.projection import CallerDirectory
from services.runtime import vault
from tests.conftest import RUN, Infra

pytestmark = pytest.mark.infra


@pytest.fixture
async def conn(real_infra: Infra) -> AsyncIterator[asyncpg.Connection]:
    name = f"complaints_test_{RUN}_callers"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    connection = await asyncpg.connect(url)
    schema = Path(store.__file__).with_name("schema.sql")
    await connection.execute(schema.read_text("utf-8"))
    yield connection
    await connection.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


def events() -> list[tuple[LoggedEvent, JsonDict]]:
    """40 complaints from 6 numbers, some at the very same instant (told apart by id), as the
    directory's consumer reads them (``decode_logged``)."""
    base = datetime(2026, 11, 1, 9, tzinfo=UTC)
    out = []
    for n in range(40):
        body = submission_body(n, "callers")
        body["complainant"] = {"name": f"业主{n}", "phone": f"1390000000{n % 6}"}
        body["unit"] = f"{n}栋101"
        body["occurred_at"] = (base + timedelta(hours=n % 3)).isoformat()
        event = decode_logged(encode_event(received_event(body)))
        out.append((event, event.data))
    return out


PEPPER = b"pepper-of-this-test"


async def directory(conn: asyncpg.Connection) -> list[Any]:
    rows = await conn.fetch(
        "SELECT complainant_ref, personal, unit, complaint_id FROM callers ORDER BY 1"
    )
    return [tuple(r) for r in rows]


async def test_batches_in_any_order_leave_what_single_events_leave(
    conn: asyncpg.Connection,
) -> None:
    log = events()
    projection = CallerDirectory(PEPPER)
    for envelope, data in log:
        await projection.apply(conn, envelope, data)
    one_by_one = await directory(conn)
    assert len(one_by_one) == 6
    # Each number's entry is its latest complaint: the latest hour, then the highest id.
    for ref, personal, _, cid in one_by_one:
        mine = [
            (datetime.fromisoformat(d["occurred_at"]), e.complaint_id, d)
            for e, d in log
            if vault.complainant_ref(PEPPER, d["complainant"]["phone"]) == ref
        ]
        _, latest_id, data = max(mine, key=lambda m: (m[0], m[1]))
        who = orjson.loads(personal)["complainant"]
        assert (who["name"], cid) == (data["complainant"]["name"], latest_id)

    rng = random.Random(7)
    for size in (1, 5, 40):
        await conn.execute("TRUNCATE callers")
        shuffled = log[:]
        rng.shuffle(shuffled)
        for start in range(0, len(shuffled), size):
            await projection.apply_batch(conn, shuffled[start : start + size])
        assert await directory(conn) == one_by_one, size

"""The three channels feed one running system at once, over HTTP and the submissions topic:
every accepted complaint is in reporting exactly once, every bad record is listed as rejected."""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from contracts import Channel
from contracts.lifecycle import Role
from contracts.timezone import CHINA
from services.runtime.auth import Staff, issue_token
from services.runtime.settings import Settings
from services.simulator.plan import Planned, plan
from services.simulator.send import Channels, send_all
from tests.conftest import RunningSystem
from tests.e2e.helpers import READER, eventually, read_events, wait_caught_up

pytestmark = pytest.mark.infra

DEV_KEYS = {c: f"dev-{c.value}" for c in (Channel.HOTLINE, Channel.APP, Channel.SUPERVISION)}
STAFF = {
    "Authorization": "Bearer "
    + issue_token(Settings(), Staff(staff_id="quality-1", role=Role.COMPANY))
}


async def intake_decided(system: RunningSystem) -> None:
    """Every submissions-topic record so far decided, and its event published from the outbox."""
    bootstrap = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"]
    await wait_caught_up(system.database_url, bootstrap, system.topics["submissions"], "intake")

    async def outbox_empty() -> bool:
        conn = await asyncpg.connect(system.database_url)
        try:
            backlog = await conn.fetchval(
                "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"
            )
        finally:
            await conn.close()
        return backlog == 0

    await eventually(outbox_empty)


async def rejected_since(
    http: httpx.AsyncClient, system: RunningSystem, since: datetime, headers: dict[str, str]
) -> list[dict[str, Any]]:
    """The rejected submissions recorded since ``since``, as ``headers`` may see them."""
    resp = await http.get(
        f"{system.urls['intake']}/v1/submissions/rejected",
        params={"since": since.isoformat(), "limit": 1000},
        headers=headers,
    )
    resp.raise_for_status()
    return list(resp.json()["items"])


async def received_events(system: RunningSystem, keys: set[UUID]) -> Counter[tuple[UUID, str]]:
    """(complaint, event id) → copies of ComplaintReceived in the log, for ``keys``."""
    found: Counter[tuple[UUID, str]] = Counter()
    for event in await read_events(
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    ):
        cid = UUID(event["complaint_id"])
        if cid in keys and event["type"] == "ComplaintReceived":
            found[(cid, event["event_id"])] += 1
    return found


async def test_three_channels_at_once_each_accepted_complaint_is_in_reporting_exactly_once(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = uuid.uuid4().hex[:6]
    offices = (f"甲{run}园", f"乙{run}小城", f"丙{run}湾花园")  # this test's own, to count
    now = datetime.now(CHINA)

    def five_days(seed: int) -> list[Planned]:
        start = (now - timedelta(days=4)).date()
        until = now - timedelta(minutes=10)
        return plan(start, 5, per_day=9, seed=seed, offices=offices, until=until)

    # The first seed whose five days hold an accepted complaint of each of the three channels
    # (the supervision line is rare, and some planned submissions are flawed on purpose).
    planned = next(
        p
        for p in map(five_days, itertools.count())
        if {x.channel for x in p if x.accepted} == set(DEV_KEYS)
    )

    async with Channels(
        intake_url=system.urls["intake"],
        keys=DEV_KEYS,
        kafka_bootstrap=system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        submissions_topic=system.topics["submissions"],
    ) as channels:
        report = await send_all(channels, planned)

    assert [(s.planned.flaw, s.status, s.errors) for s in report.unexpected()] == []
    accepted = report.accepted_ids()
    assert len(accepted) == len({p.complaint_id for p in planned if p.accepted})

    await intake_decided(system)
    bootstrap = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"]
    await wait_caught_up(system.database_url, bootstrap, system.topics["events"], "reporting")

    conn = await asyncpg.connect(system.database_url)
    try:
        rows = await conn.fetch(
            "SELECT complaint_id, channel FROM reporting.complaints WHERE office = ANY($1)",
            list(offices),
        )
    finally:
        await conn.close()
    in_reporting = Counter(r["complaint_id"] for r in rows)
    assert set(in_reporting) == accepted  # nothing missing, nothing refused slipped in
    assert set(in_reporting.values()) == {1}
    assert {r["channel"] for r in rows} == {c.value for c in DEV_KEYS}
    for complaint_id in list(accepted)[:10]:
        resp = await http.get(
            f"{system.urls['reporting']}/v1/complaints/{complaint_id}", headers=READER
        )
        assert resp.status_code == 200

    # In the log: one event id per complaint, however often its submission was sent.
    copies = await received_events(system, accepted)
    assert {cid for cid, _ in copies} == accepted
    assert len(copies) == len(accepted)

    # Every bad record of the topic is listed, with its reasons and where it is.
    flawed = report.topic_flawed()
    items = await eventually(
        lambda: _at_least(rejected_since(http, system, report.started_at, STAFF), len(flawed))
    )
    assert len(items) == len(flawed)
    assert all(item["reasons"] and item["record"]["topic"] for item in items)
    named = {item["submission_id"] for item in items if item["submission_id"]}
    assert named <= {s.planned.submission_id for s in flawed}
    assert any(item["channel"] is None for item in items)  # the badly signed one


async def _at_least(items: Any, n: int) -> list[dict[str, Any]] | None:
    found: list[dict[str, Any]] = await items
    return found if len(found) >= n else None

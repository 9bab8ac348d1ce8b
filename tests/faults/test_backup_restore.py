"""A backup of PostgreSQL taken under load, restored into a fresh database after more load,
and the services started on it: they catch up from the offsets stored in the dump and decide
nothing twice.

The dump (``pg_dump -Fc`` of the whole database, as ``docs/operations.md`` says) holds the
durable tables that are no projection — the workflow's rule journal and outbox (its
idempotency keys), the SLA service's outbox of alerts, intake's submission decisions — at the
dump's instant, and every projection with its offsets. After the restore the log is ahead of
it by everything decided since: the consumers re-read that, the rules meet their own earlier
decisions in the log under the same ids, and the checks count, over every record of the log,
that each rule decided once per complaint and cause, each alert once, each complaint received
once, that every projection equals a fold of the log, and that every event is in the
workflow's history once (a trigger counts every row proposed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest

from deploy.local import infra, sandbox
from tests.conftest import Infra, RunningSystem
from tests.e2e.helpers import eventually
from tests.faults.burst import counting_applications, doubled_or_missing
from tests.faults.copies import (
    check_sla,
    check_workflow,
    copies_differ,
    copies_system,
    load,
    now,
    outbox_rows,
    quiet,
    read_log,
    sla_clocks,
    sla_recount,
    workflow_states,
)

pytestmark = [
    pytest.mark.infra,
    pytest.mark.skipif(
        os.environ.get("COMPLAINTS_TEST_INFRA") == "testcontainers",
        reason="runs Debian's pg_dump/pg_restore against the local PostgreSQL",
    ),
]

SERVICES = ("intake", "workflow", "sla")


@pytest.fixture
async def system(real_infra: Infra, tmp_path: Path) -> AsyncIterator[RunningSystem]:
    async for running in copies_system(real_infra, tmp_path, dict.fromkeys(SERVICES, 1)):
        yield running


async def history_ids(database_url: str) -> set[str]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            str(r["event_id"]) for r in await conn.fetch("SELECT event_id FROM workflow.history")
        }
    finally:
        await conn.close()


def pg(tool: str, *args: str) -> None:
    """Run Debian's ``pg_dump`` / ``pg_restore`` (the server's own version) and check it."""
    done = subprocess.run(
        [str(infra._pg_bin_dir() / tool), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{tool}: {done.stderr}"


async def test_a_dump_taken_under_load_restored_later_decides_nothing_twice(
    http: httpx.AsyncClient, real_infra: Infra, system: RunningSystem, tmp_path: Path
) -> None:
    dump = tmp_path / "complaints.dump"
    workflows = [system.urls["workflow"]]
    loading = asyncio.create_task(load(http, system.urls["intake"], workflows, n=160, seconds=20))

    async def decided() -> bool:  # rules and alerts decided: the journal and outboxes have rows
        return await outbox_rows(system.database_url, "sla") >= 5

    await eventually(decided, timeout=60, interval=0.2)
    assert not loading.done(), "the load ended before the dump: not under load"
    await asyncio.to_thread(pg, "pg_dump", "-Fc", "-f", str(dump), "-d", system.database_url)
    done = await loading
    ours = done.accepted
    # everything decided after the dump reaches the log (a decision not yet published when
    # the database is lost is lost with it: docs/operations.md)
    await eventually(lambda: quiet(system, ours), timeout=150, interval=1.0)
    await asyncio.to_thread(system.stop_all)

    # a fresh database from the dump; the services started on it
    fresh = f"{system.database_url.rsplit('/', 1)[1]}_restored"
    restored = await sandbox.create_database(real_infra.admin_database_url, fresh)
    try:
        await asyncio.to_thread(pg, "pg_restore", "--no-owner", "-d", restored, str(dump))
        system.env["COMPLAINTS_DATABASE_URL"] = system.database_url = restored
        in_dump = await history_ids(restored)
        async with counting_applications(restored, "workflow.history", "event_id") as applied:
            await asyncio.gather(*(asyncio.to_thread(system.start, n) for n in SERVICES))
            await eventually(lambda: quiet(system, ours), timeout=150, interval=1.0)
            at = now()
            logged = await read_log(system, ours)
            counts = await applied()
        # An alert the dump's outbox lacked is judged again after the restore: the same id
        # and the same decision, recorded anew (consumers keep the first copy, skip this one).
        # Anything else that differs under one id would be a second, different decision.
        again = Counter(kind for kind, _ in copies_differ(logged).values())
        assert copies_differ(logged, ignore=frozenset({"recorded_at"})) == {}, again
        assert set(again) <= {"SlaWarning", "SlaBreached"}, again  # rules: the same bytes
        received: dict[str, set[UUID]] = defaultdict(set)
        for env, _, _ in logged.records:
            if env.type == "ComplaintReceived":
                received[str(env.complaint_id)].add(env.event_id)
        assert {c: len(ids) for c, ids in received.items()} == dict.fromkeys(ours, 1)
        # the restored workflow applied what the dump lacked, each event once, and nothing
        # the dump held (a trigger counts every row proposed, which the key would hide)
        distinct = {str(env.event_id) for env, _, _ in logged.records}
        after_dump = distinct - in_dump
        assert in_dump and after_dump, "the dump was not taken under load"
        assert doubled_or_missing(counts, after_dump) == {}
        assert {i: counts[i] for i in in_dump if counts[i]} == {}
        check_workflow(logged, await workflow_states(restored, ours), done)
        recount = sla_recount(logged, ours, Path(system.env["COMPLAINTS_SLA_POLICY_FILE"]), at)
        check_sla(logged, await sla_clocks(restored, ours), recount)
    finally:
        await asyncio.to_thread(system.stop_all)
        await sandbox.drop_database(real_infra.admin_database_url, fresh)

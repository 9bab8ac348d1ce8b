"""Live (blue/green) rebuilds: `complaints rebuild <service>` on a running system.

While complaints flow in and readers poll, the new generation is built beside the live one and
swapped in: every answer is a 200, no total ever goes down, a backlog applied before the rebuild
is never seen half-built, and the final figures equal a recount from the log. A builder killed
with SIGKILL is succeeded by another copy, which resumes from the generation's stored offsets.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local import stack
from services.reporting import store
from services.runtime import vault
from services.runtime.settings import Settings
from tests.conftest import RUN, Infra, RunningSystem, free_port
from tests.e2e.helpers import (
    HOTLINE,
    READER,
    complaints,
    eventually,
    minutes_ago,
    own_system,
    read_events,
    submission,
    wait_caught_up,
)
from tests.e2e.test_sla_timers import logged_sla_events
from tests.e2e.test_workflow_rebuild import snapshot as workflow_snapshot
from tests.faults.burst import complaint_event, publish, run_id
from tests.integration.reporting_db import assert_current_is_the_fold

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
async def system(real_infra: Infra) -> AsyncIterator[RunningSystem]:
    """A system of this module's own: its bursts of thousands of complaints and its rebuilds
    stay out of the log and the timers the other tests read."""
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        real_infra.home / "logs" / f"test-{RUN}lr",
        f"{RUN}lr",
    ) as own:
        yield own


async def caught_up(system: RunningSystem, schema: str) -> None:
    await wait_caught_up(
        system.database_url,
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        system.topics["events"],
        schema,
        timeout=120,
    )


async def registry(system: RunningSystem, schema: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(system.database_url)
    try:
        rows = await conn.fetch(f"SELECT * FROM {schema}.generations ORDER BY gen")
        return [dict(r) for r in rows]
    finally:
        await conn.close()


async def schemas(system: RunningSystem, prefix: str) -> set[str]:
    conn = await asyncpg.connect(system.database_url)
    try:
        rows = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"{prefix}\\_g%"
        )
        return {r["nspname"] for r in rows}
    finally:
        await conn.close()


def live_gen(rows: list[dict[str, Any]]) -> int:
    (live,) = [r["gen"] for r in rows if r["state"] == "live"]
    return int(live)


async def recount(system: RunningSystem) -> Counter[str]:
    """Complaints per office, counted from the log itself (each complaint once)."""
    seen: dict[str, str] = {}
    for event in await read_events(
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    ):
        if event.get("type") == "ComplaintReceived":
            seen.setdefault(event["complaint_id"], event["data"]["office"])
    return Counter(seen.values())


def went_down(readings: list[tuple[float, float, int]]) -> list[tuple[int, int]]:
    """Pairs (earlier total, later total) where a request asked after another was answered
    got a lower total: figures going backwards, whichever reader saw them."""
    return [
        (first, then)
        for _, answered, first in readings
        for asked, _, then in readings
        if asked > answered and then < first
    ]


class Traffic:
    """Complaints submitted through intake and readers polling reporting, until stopped."""

    def __init__(self, http: httpx.AsyncClient, system: RunningSystem, office: str) -> None:
        self.http, self.system, self.office = http, system, office
        self.accepted = 0
        self.codes: Counter[int] = Counter()
        self.totals: list[int] = []
        # (asked at, answered at, total): two readers poll at once, so the order their answers
        # are appended in is not the order the server read them in
        self.readings: list[tuple[float, float, int]] = []
        self.backlog_seen: list[int] = []
        self.stopping = asyncio.Event()

    async def submit(self) -> None:
        while not self.stopping.is_set():
            resp = await self.http.post(
                f"{self.system.urls['intake']}/v1/complaints",
                json=submission(office=self.office),
                headers={"X-Api-Key": "dev-hotline"},
            )
            assert resp.status_code == 202, resp.text
            self.accepted += 1
            await asyncio.sleep(0.05)

    async def read(self, backlog_office: str) -> None:
        base = self.system.urls["reporting"]
        while not self.stopping.is_set():
            asked = time.monotonic()
            stats = await self.http.get(f"{base}/v1/stats", headers=READER)
            answered = time.monotonic()
            self.codes[stats.status_code] += 1
            if stats.status_code == 200:
                body = stats.json()
                self.totals.append(int(body["total"]))
                self.readings.append((asked, answered, int(body["total"])))
                self.backlog_seen.append(int(body["by_office"].get(backlog_office, 0)))
            report = await self.http.get(f"{base}/v1/reports/monthly", headers=READER)
            self.codes[report.status_code] += 1
            await asyncio.sleep(0.02)


async def test_reporting_rebuilds_live_while_complaints_flow_and_readers_poll(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = run_id()
    backlog_office, flow_office = f"重建存量{run}", f"重建新增{run}"
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    await publish(
        bootstrap, topic, [complaint_event(backlog_office, n, run=run) for n in range(3000)]
    )
    await caught_up(system, "reporting")
    before = await registry(system, "reporting")

    traffic = Traffic(http, system, flow_office)
    tasks = [
        asyncio.create_task(traffic.submit()),
        asyncio.create_task(traffic.read(backlog_office)),
        asyncio.create_task(traffic.read(backlog_office)),
    ]
    await asyncio.sleep(1.0)
    result = await complaints(system.env, "rebuild", "reporting")
    await asyncio.sleep(1.0)  # readers and writers go on across the swap
    traffic.stopping.set()
    await asyncio.gather(*tasks)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "is live" in result.stdout
    after = await registry(system, "reporting")
    assert live_gen(after) > live_gen(before)
    assert await schemas(system, "reporting") == {f"reporting_g{live_gen(after)}"}

    assert set(traffic.codes) == {200}, traffic.codes
    assert went_down(traffic.readings) == [], "a total went down"
    assert traffic.totals[-1] > traffic.totals[0]
    # The backlog was applied before the rebuild began: no answer may show it half-built.
    assert set(traffic.backlog_seen) == {3000}
    assert traffic.accepted > 0

    await caught_up(system, "reporting")
    stats = (await http.get(f"{system.urls['reporting']}/v1/stats", headers=READER)).json()
    counted = await recount(system)
    assert stats["by_office"][backlog_office] == counted[backlog_office] == 3000
    assert stats["by_office"][flow_office] == counted[flow_office] == traffic.accepted
    assert stats["total"] == sum(counted.values())

    # The bulk load left each complaint's current state to the builder, after the swap: it is
    # folded in, and then equals the fold of every event.
    conn = await asyncpg.connect(system.database_url, server_settings={"search_path": "reporting"})
    try:
        for _ in range(300):
            if await store.kept_current(conn):
                break
            await asyncio.sleep(0.1)
        assert await store.kept_current(conn)
        kept = await conn.fetchval("SELECT count(*) FROM complaint_current")
        assert kept == await conn.fetchval("SELECT count(*) FROM complaints") >= 3000
        await assert_current_is_the_fold(conn)
    finally:
        await conn.close()


async def test_a_second_rebuild_while_one_runs_says_so_and_changes_nothing(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    # With no copy running, the requested generation waits for the next start to build it.
    system.stop("sla")
    try:
        first = await complaints(system.env, "rebuild", "sla", "--no-wait")
        assert first.returncode == 0, first.stderr
        before = await registry(system, "sla")
        second = await complaints(system.env, "rebuild", "sla", "--no-wait")
        assert second.returncode == 1
        assert "already being built" in second.stderr and "nothing changed" in second.stderr
        assert await registry(system, "sla") == before  # changed nothing
        building = [r for r in before if r["state"] == "building"]
        assert len(building) == 1
        status = await complaints(system.env, "rebuild", "sla", "--status")
        assert status.returncode == 0
        assert f"generation {building[0]['gen']:>3}  building" in status.stdout
    finally:
        system.start("sla")

    async def swapped() -> bool:
        return live_gen(await registry(system, "sla")) == building[0]["gen"]

    await eventually(swapped, timeout=120, interval=0.5)
    assert [r["state"] for r in await registry(system, "sla")].count("failed") == 0

    async def exported() -> bool:  # the copy's /metrics follows the registry
        text = (await http.get(f"{system.urls['sla']}/metrics")).text
        return f'complaints_projection_generation{{service="sla"}} {building[0]["gen"]}.0' in text

    await eventually(exported, timeout=30, interval=0.5)


async def test_workflow_rebuilds_live_while_staff_work(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    from tests.e2e.test_workflow_lifecycle import AGENT, received

    cases = [await received(http, system) for _ in range(6)]
    await caught_up(system, "workflow")
    codes: Counter[int] = Counter()

    async def staff_work() -> None:
        for case in cases:  # acknowledge each one during the rebuild, reading it back
            await case.do("acknowledge", AGENT)
            for _ in range(5):
                resp = await http.get(
                    f"{system.urls['workflow']}/v1/complaints/{case.id}", headers=AGENT
                )
                codes[resp.status_code] += 1
                await asyncio.sleep(0.05)

    work = asyncio.create_task(staff_work())
    result = await complaints(system.env, "rebuild", "workflow")
    await work
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(codes) == {200}, codes
    for case in cases:
        assert (await case.get())["status"] == "acknowledged"

    # The generation built while staff worked equals one built from a quiet log.
    await caught_up(system, "workflow")
    first = await workflow_snapshot(system.database_url)
    journal = await durable_counts(system.database_url)
    again = await complaints(system.env, "rebuild", "workflow")
    assert again.returncode == 0, again.stdout + again.stderr
    await caught_up(system, "workflow")
    assert await workflow_snapshot(system.database_url) == first
    # The rule journal and the outbox are durable: a rebuild neither drops nor re-decides.
    assert await durable_counts(system.database_url) == journal


async def durable_counts(database_url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url)
    try:
        return (
            int(await conn.fetchval("SELECT count(*) FROM workflow.rule_runs")),
            int(await conn.fetchval("SELECT count(*) FROM workflow.outbox")),
        )
    finally:
        await conn.close()


async def test_a_builder_killed_mid_rebuild_is_resumed_from_its_offsets_by_another_copy(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = run_id()
    office = f"续建{run}"
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    await publish(bootstrap, topic, [complaint_event(office, n, run=run) for n in range(8000)])
    await caught_up(system, "reporting")
    slow = {**system.env, "COMPLAINTS_REBUILD_BATCH": "20", "COMPLAINTS_LOG_LEVEL": "INFO"}
    async with other_copies(system, "reporting") as copies:
        builder = start_service_copy(system, "reporting", "reporting-builder-a", slow, copies)
        gen = await rebuild_asked(system, "reporting")
        target = f"reporting_g{gen}"

        async def stored() -> int:
            return await stored_events(system, target)

        async def well_begun() -> bool:
            return await stored() >= 3000

        await eventually(well_begun, timeout=60, interval=0.02)
        builder.kill()  # SIGKILL mid-build: no shutdown hook, the lease dies with it
        builder.wait(timeout=10)
        kept = await settled(stored)  # its lane processes stop within half a second
        rows = {r["gen"]: r for r in await registry(system, "reporting")}
        assert rows[gen]["state"] == "building"
        total = sum((await read_offsets(bootstrap, topic)).values())
        assert 0 < kept < total

        log_b, resumed = await resumed_by_another_copy(system, "reporting", gen, copies)
        assert len(resumed) == 2  # COMPLAINTS_REBUILD_LANES
        assert sum(resumed) == kept  # from the offsets the killed builder stored
        applied = next(
            int(line.split("caught up: ")[1].split(" events")[0])
            for line in log_b.splitlines()
            if f"generation {gen} caught up" in line
        )
        assert applied <= sum((await read_offsets(bootstrap, topic)).values()) - kept
    counted = await recount(system)
    stats = (await http.get(f"{system.urls['reporting']}/v1/stats", headers=READER)).json()
    assert stats["by_office"][office] == counted[office] == 8000


async def read_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    from services.runtime.kafka import end_offsets

    return await end_offsets(bootstrap, topic)


async def intake_tables(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(database_url)
    try:
        return {
            table: sorted((tuple(r.values()) for r in await conn.fetch(sql)), key=str)
            for table, sql in {
                "callers": "SELECT * FROM intake.callers",
                "rejected": "SELECT * FROM intake.rejected_submissions",
                "decisions": "SELECT * FROM intake.submission_decisions",
            }.items()
        }
    finally:
        await conn.close()


async def test_intake_rebuilds_its_directory_and_rejections_and_keeps_its_decisions(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    intake = system.urls["intake"]
    number = f"139{uuid.uuid4().int % 10**8:08d}"
    call = {
        "call_id": f"CC-{uuid.uuid4().hex[:10]}",
        "caller_number": number,
        "agent_id": "KF002",
        "call_started_at": "2026-11-01T09:00:00+08:00",
        "caller_name": "吴女士",
        "office": "Y园",
        "unit": "9栋1单元101",
        "subject": "电梯",
        "summary": "电梯异响",
    }
    resp = await http.post(f"{intake}/v1/channels/hotline/calls", json=call, headers=HOTLINE)
    assert resp.status_code == 202, resp.text
    await caught_up(system, "intake")
    before = await intake_tables(system.database_url)
    # the directory is keyed by the number's reference (issue 16, point 5), not the number
    ref = vault.complainant_ref(Settings().pepper(), number)
    assert any(row[0] == ref for row in before["callers"])

    result = await complaints(system.env, "rebuild", "intake")
    assert result.returncode == 0, result.stdout + result.stderr
    await caught_up(system, "intake")
    assert await intake_tables(system.database_url) == before

    # The rebuilt directory still completes a call that gives only the number.
    lean = {k: v for k, v in call.items() if k not in ("caller_name", "office", "unit")}
    lean["call_id"] = f"CC-{uuid.uuid4().hex[:10]}"
    again = await http.post(f"{intake}/v1/channels/hotline/calls", json=lean, headers=HOTLINE)
    assert again.status_code == 202, again.text


async def test_the_analyst_reads_the_same_stable_names_across_a_rebuild(
    system: RunningSystem,
) -> None:
    analyst_url = re.sub(r"//[^@]+@", "//analyst:analyst@", system.database_url)

    async def analyst_counts() -> tuple[int, int]:
        conn = await asyncpg.connect(analyst_url)
        try:
            return (
                int(await conn.fetchval("SELECT count(*) FROM reporting.complaints")),
                int(await conn.fetchval("SELECT count(*) FROM reporting.current_states")),
            )
        finally:
            await conn.close()

    await caught_up(system, "reporting")
    before = await analyst_counts()
    assert before[0] > 0 and before[0] == before[1]
    result = await complaints(system.env, "rebuild", "reporting")
    assert result.returncode == 0, result.stdout + result.stderr
    await caught_up(system, "reporting")
    after = await analyst_counts()
    assert after[0] >= before[0] and after[0] == after[1]
    conn = await asyncpg.connect(analyst_url)
    try:  # read-only, and only reporting
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM reporting.complaints")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("SELECT count(*) FROM workflow.complaints")
    finally:
        await conn.close()


async def test_sla_rebuilds_live_while_complaints_flow_and_clocks_are_read(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    base = system.urls["sla"]
    old = [
        (
            await http.post(
                f"{system.urls['intake']}/v1/complaints",
                json=submission(office=f"时钟{run_id()}", occurred_at=minutes_ago(90)),
                headers=HOTLINE,
            )
        ).json()["complaint_id"]
        for _ in range(5)
    ]  # 90 minutes old: their first-response clocks have breached
    await caught_up(system, "sla")

    async def clocks(cid: str) -> list[dict[str, Any]] | None:
        resp = await http.get(f"{base}/v1/complaints/{cid}/sla", headers=READER)
        return resp.json()["clocks"] if resp.status_code == 200 and resp.json()["clocks"] else None

    async def all_breached() -> list[dict[str, Any]] | None:
        alerts = await logged_sla_events(system)
        breached = {a["complaint_id"] for a in alerts if a["type"] == "SlaBreached"}
        return alerts if breached >= set(old) else None

    alerts_before = await eventually(all_breached, timeout=90, interval=0.5)
    codes: Counter[int] = Counter()
    stopping = asyncio.Event()
    flow: list[str] = []

    async def submit() -> None:
        while not stopping.is_set():
            resp = await http.post(
                f"{system.urls['intake']}/v1/complaints",
                json=submission(office=f"时钟{run_id()}"),
                headers=HOTLINE,
            )
            assert resp.status_code == 202, resp.text
            flow.append(resp.json()["complaint_id"])
            await asyncio.sleep(0.1)

    async def read() -> None:
        while not stopping.is_set():
            for cid in old:
                codes[
                    (await http.get(f"{base}/v1/complaints/{cid}/sla", headers=READER)).status_code
                ] += 1
            codes[(await http.get(f"{base}/v1/sla/overdue", headers=READER)).status_code] += 1
            await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(submit()), asyncio.create_task(read())]
    result = await complaints(system.env, "rebuild", "sla")
    stopping.set()
    await asyncio.gather(*tasks)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(codes) == {200}, codes
    await caught_up(system, "sla")
    for cid in [*old, *flow]:
        await eventually(lambda cid=cid: clocks(cid), timeout=60)
    # No alert was published a second time by the rebuilt generation's scheduler.
    await asyncio.sleep(2.0)
    alerts = await logged_sla_events(system)
    ids = [a["event_id"] for a in alerts]
    assert len(ids) == len(set(ids))
    before_ids = {a["event_id"] for a in alerts_before}
    assert before_ids <= set(ids)
    assert not [
        a for a in alerts if a["event_id"] not in before_ids and a["complaint_id"] in old
    ]  # the old complaints' breaches were published before the rebuild, and only then
    # The old generation is dropped after the swap; the scheduler follows the live one
    # instead of failing a round on the dropped tables.
    sla_log = (system.logs / "sla.log").read_text(encoding="utf-8")
    assert "round failed" not in sla_log


@asynccontextmanager
async def other_copies(
    system: RunningSystem, service: str
) -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    """The system's own copy of ``service`` stopped (only the test's copies may take the
    builder lease) and a list for the copies the test starts; after the test those are
    ended, the system's copy started again and caught up with the log."""
    system.stop(service)
    copies: list[subprocess.Popen[bytes]] = []
    try:
        yield copies
        for proc in copies:
            proc.terminate()
            proc.wait(timeout=20)
    finally:
        for proc in copies:
            if proc.poll() is None:
                proc.kill()
        system.start(service)
    await caught_up(system, service)


def start_service_copy(
    system: RunningSystem,
    service: str,
    name: str,
    env: dict[str, str],
    copies: list[subprocess.Popen[bytes]],
) -> subprocess.Popen[bytes]:
    """Another copy of ``service`` on a port of its own, logging to ``<name>.log``; added to
    ``copies`` (which the test ends), once it answers."""
    port = free_port()
    proc = stack.start_service(
        service,
        env={**env, f"COMPLAINTS_{service.upper()}_PORT": str(port)},
        log_path=system.logs / f"{name}.log",
    )
    copies.append(proc)
    stack.wait_healthy({service: port}, timeout=60, logs=system.logs)
    return proc


async def resumed_by_another_copy(
    system: RunningSystem, service: str, gen: int, copies: list[subprocess.Popen[bytes]]
) -> tuple[str, list[int]]:
    """Start another copy of ``service`` and wait until it made ``gen`` live; its log, and
    where each of its lanes resumed (the events stored before it took the lease)."""
    name = f"{service}-builder-b"
    start_service_copy(system, service, name, system.env, copies)

    async def live() -> bool:
        return live_gen(await registry(system, service)) == gen

    await eventually(live, timeout=120, interval=0.5)
    log = (system.logs / f"{name}.log").read_text(encoding="utf-8")
    # Each lane resumes its own partitions (then the catch-up reads them all again).
    following = log.split(f"generation {gen} caught up")[0]
    return log, [int(n) for n in re.findall(r" resumes at (\d+) stored", following)]


async def rebuild_asked(system: RunningSystem, service: str) -> int:
    """Ask for a rebuild of ``service`` (``complaints rebuild --no-wait``); the generation."""
    asked = await complaints(system.env, "rebuild", service, "--no-wait")
    assert asked.returncode == 0, asked.stderr
    return live_gen(await registry(system, service)) + 1


async def stored_events(system: RunningSystem, schema: str) -> int:
    """How many events generation ``schema`` stored offsets for (0 before its tables)."""
    conn = await asyncpg.connect(system.database_url)
    try:
        if not await conn.fetchval("SELECT to_regclass($1)", f"{schema}.consumer_offsets"):
            return 0
        return int(
            await conn.fetchval(
                f"SELECT coalesce(sum(next_offset), 0) FROM {schema}.consumer_offsets"
            )
        )
    finally:
        await conn.close()


async def settled(read: Callable[[], Awaitable[int]], quiet_s: float = 1.5) -> int:
    """``read()`` once two readings ``quiet_s`` apart agree (nothing writes any more)."""
    last = await read()
    for _ in range(20):
        await asyncio.sleep(quiet_s)
        now = await read()
        if now == last:
            return now
        last = now
    raise AssertionError(f"still changing after {20 * quiet_s:.0f} s")


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (and is not a zombie left unreaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


async def test_a_killed_builder_takes_its_lane_processes_with_it_and_a_copy_resumes_them(
    system: RunningSystem,
) -> None:
    """The workflow is built by lanes in processes of their own (``services.runtime.lanes``).
    SIGKILL the builder's process mid-build: its lanes stop too (no process left writing the
    generation), and the copy that takes the lease next resumes every lane from the offsets
    the killed lanes stored."""
    run = run_id()
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    await publish(
        bootstrap, topic, [complaint_event(f"分道{run}", n, run=run) for n in range(4000)]
    )
    await caught_up(system, "workflow")
    # Small batches, and lanes that follow the log to its very end: the kill finds them busy.
    slow = {
        **system.env,
        "COMPLAINTS_REBUILD_BATCH": "20",
        "COMPLAINTS_REBUILD_SWAP_LAG": "0",
        "COMPLAINTS_LOG_LEVEL": "INFO",
    }
    async with other_copies(system, "workflow") as copies:
        builder = start_service_copy(system, "workflow", "workflow-builder-a", slow, copies)
        gen = await rebuild_asked(system, "workflow")
        target = f"workflow_g{gen}"
        log_a = system.logs / "workflow-builder-a.log"

        async def stored() -> int:
            return await stored_events(system, target)

        def lane_pids() -> list[int]:
            text = log_a.read_text(encoding="utf-8") if log_a.exists() else ""
            return [int(pid) for pid in re.findall(r"lane \d of 2: process (\d+) builds", text)]

        async def well_begun() -> bool:
            return len(lane_pids()) == 2 and await stored() >= 1000

        await eventually(well_begun, timeout=60, interval=0.02)
        pids = lane_pids()
        assert all(not process_gone(pid) for pid in pids)  # building, in their own processes
        builder.kill()  # SIGKILL mid-build: no shutdown hook, the lease dies with it
        builder.wait(timeout=10)

        async def lanes_gone() -> bool:
            return all(process_gone(pid) for pid in pids)

        await eventually(lanes_gone, timeout=10, interval=0.1)
        kept = await stored()
        rows = {r["gen"]: r for r in await registry(system, "workflow")}
        assert rows[gen]["state"] == "building"
        total = sum((await read_offsets(bootstrap, topic)).values())
        assert 0 < kept < total
        await asyncio.sleep(1.0)
        assert await stored() == kept  # nothing writes the generation any more

        _, resumed = await resumed_by_another_copy(system, "workflow", gen, copies)
        assert len(resumed) == 2  # one per lane process
        assert sum(resumed) == kept  # from the offsets the killed lanes stored
    conn = await asyncpg.connect(system.database_url)
    try:
        made = await conn.fetchval(
            "SELECT count(*) FROM workflow.complaints WHERE office = $1", f"分道{run}"
        )
    finally:
        await conn.close()
    assert made == 4000

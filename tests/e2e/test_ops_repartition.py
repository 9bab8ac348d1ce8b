"""More partitions for the events topic: `complaints repartition` copies the log into a new
topic, each complaint's events together and in order, and the services switch to it without
applying anything twice.

Runs its own intake and reporting on their own database and topics: it stops them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from deploy.local import sandbox as sandboxed
from deploy.local.sandbox import RunningSystem
from tests.conftest import RUN, Infra
from tests.e2e.helpers import HOTLINE, READER, eventually, submission, wait_caught_up

pytestmark = pytest.mark.infra

COMPLAINTS = str(Path(sys.executable).parent / "complaints")
SERVICES = ("intake", "reporting")


@pytest.fixture(scope="module")
async def box(real_infra: Infra) -> AsyncIterator[RunningSystem]:
    database = f"complaints_test_{RUN}_repartition"
    url = await sandboxed.create_database(real_infra.admin_database_url, database)
    topics = sandboxed.topic_names(f"test.{RUN}.repartition")
    system = RunningSystem(
        env=sandboxed.environment(
            bootstrap=real_infra.kafka_bootstrap, database_url=url, topics=topics
        ),
        database_url=url,
        topics=topics,
        logs=real_infra.home / "logs" / f"test-{RUN}-repartition",
    )
    try:
        for name in SERVICES:
            system.start(name)
        yield system
    finally:
        system.stop_all()
        await sandboxed.drop_database(real_infra.admin_database_url, database)
        await sandboxed.delete_topics(
            real_infra.kafka_bootstrap,
            [*topics.values(), f"{topics['events']}.v2", f"{topics['submissions']}.rejected"],
        )


async def complaints(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [COMPLAINTS, *args], env=env, capture_output=True, text=True, timeout=120
    )


async def histories(bootstrap: str, topic: str) -> dict[bytes | None, list[bytes | None]]:
    """Key → the values of its records, in the order a reader of their partition sees them."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        await reader._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        ends = await reader.end_offsets(tps)
        reader.assign(tps)
        await reader.seek_to_beginning(*tps)
        out: dict[bytes | None, list[bytes | None]] = {}
        partition_of: dict[bytes | None, int] = {}
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            for tp, records in (await reader.getmany(*remaining, timeout_ms=1000)).items():
                for r in records:
                    assert partition_of.setdefault(r.key, r.partition) == r.partition
                    out.setdefault(r.key, []).append(r.value)
                if await reader.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await reader.stop()


async def applied(box: RunningSystem) -> int:
    conn = await asyncpg.connect(box.database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM reporting.live_processed_events "
                "WHERE consumer = 'reporting.complaints.v1'"
            )
        )
    finally:
        await conn.close()


async def test_the_log_moves_to_more_partitions_in_order_and_nothing_is_applied_twice(
    http: httpx.AsyncClient, box: RunningSystem
) -> None:
    bootstrap, old = box.env["COMPLAINTS_KAFKA_BOOTSTRAP"], box.topics["events"]
    new = f"{old}.v2"
    ids = []
    for _ in range(8):
        resp = await http.post(
            f"{box.urls['intake']}/v1/complaints", json=submission(), headers=HOTLINE
        )
        assert resp.status_code == 202, resp.text
        ids.append(resp.json()["complaint_id"])
    await wait_caught_up(box.database_url, bootstrap, old, "reporting", timeout=40)
    before = await applied(box)

    refused = await complaints(box.env, "repartition", "--to", new, "--partitions", "9")
    assert refused.returncode == 1
    assert "stop every service first" in refused.stderr

    for name in SERVICES:
        box.stop(name)
    done = await complaints(box.env, "repartition", "--to", new, "--partitions", "9")
    assert done.returncode == 0, done.stderr
    assert f"COMPLAINTS_TOPIC_EVENTS={new}" in done.stdout
    assert await histories(bootstrap, new) == await histories(bootstrap, old)

    box.env["COMPLAINTS_TOPIC_EVENTS"] = new
    for name in SERVICES:
        box.start(name)

    async def settled() -> list[dict[str, object]] | None:
        result = await complaints(box.env, "lag", "reporting", "--json")
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        return rows if rows and all(r["lag"] == 0 for r in rows) else None

    rows = await eventually(settled, timeout=60, interval=1.0)
    assert {r["topic"] for r in rows} == {new} and len(rows) == 9
    assert await applied(box) == before  # every copied event was recognised as applied
    for complaint_id in ids:
        got = await http.get(
            f"{box.urls['reporting']}/v1/complaints/{complaint_id}", headers=READER
        )
        assert got.status_code == 200
    resp = await http.post(
        f"{box.urls['intake']}/v1/complaints", json=submission(), headers=HOTLINE
    )
    assert resp.status_code == 202

    async def readable() -> bool:
        got = await http.get(
            f"{box.urls['reporting']}/v1/complaints/{resp.json()['complaint_id']}", headers=READER
        )
        return got.status_code == 200

    await eventually(readable, timeout=30)

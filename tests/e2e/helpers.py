"""Small helpers for tests that drive the running services over HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx
import orjson
from aiokafka import ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from deploy.local import sandbox, stack
from deploy.local.sandbox import RunningSystem
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.kafka import end_offsets, read_to_end
from services.runtime.settings import Settings

T = TypeVar("T")

CHINA = ZoneInfo("Asia/Shanghai")
HOTLINE = {"X-Api-Key": "dev-hotline"}
APP = {"X-Api-Key": "dev-app"}
SUPERVISION = {"X-Api-Key": "dev-supervision"}
READER = {
    "Authorization": "Bearer "
    + issue_token(Settings(), Staff(staff_id="analyst-e2e", role=StaffRole.ANALYST))
}
"""An analyst's token: reads every office's SLA clocks, reports and complaints (masked)."""


def minutes_ago(minutes: float) -> str:
    """An ISO instant ``minutes`` before now, in China Standard Time."""
    at = datetime.now(CHINA) - timedelta(minutes=minutes)
    return at.isoformat(timespec="seconds")


def submission(**overrides: Any) -> dict[str, Any]:
    """A valid hotline submission with a fresh submission id."""
    body: dict[str, Any] = {
        "submission_id": f"call-{uuid.uuid4().hex[:12]}",
        "office": "Y园",
        "unit": "3栋1单元502",
        "complainant": {"name": "何先生", "phone": "13812345678"},
        "subject": "高空抛物",
        "description": "楼上经常有牛奶盒、麻将从上空坠下，阳台玻璃被打碎",
        "demand": "安装高空抛物摄像头并查明责任人",
        # a minute ago: no clock of the SLA service runs out during a test unless it asks
        "occurred_at": minutes_ago(1),
    }
    body.update(overrides)
    return body


COMPLAINTS = str(Path(sys.executable).parent / "complaints")


async def complaints(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run the operator's command (``complaints …``) against a sandboxed system's env."""
    return await asyncio.to_thread(
        subprocess.run,
        [COMPLAINTS, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 15.0, interval: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with the last value at timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: T | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


async def get_json_or_none(
    client: httpx.AsyncClient, url: str, headers: dict[str, str] = READER
) -> Any:
    """The JSON body of a 200 answer (asked as an analyst unless told), or ``None`` for a 404."""
    resp = await client.get(url, headers=headers)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    return resp.json()


async def wait_caught_up(
    database_url: str, bootstrap: str, topic: str, schema: str, *, timeout: float = 20.0
) -> None:
    """Wait until every consumer in ``schema`` has stored offsets up to the topic's end now.

    A barrier that does not depend on timing: whatever was in the log before the call has been
    applied (or dead-lettered) once this returns.
    """
    import asyncpg

    ends = {p: o for p, o in (await end_offsets(bootstrap, topic)).items() if o > 0}

    async def done() -> bool:
        conn = await asyncpg.connect(database_url)
        try:
            # Projections keep their offsets in the live generation, durable consumers in
            # the service's schema.
            rows = await conn.fetch(
                f"""SELECT consumer, partition, next_offset FROM {schema}.live_consumer_offsets
                    WHERE topic = $1
                    UNION ALL
                    SELECT consumer, partition, next_offset FROM {schema}.consumer_offsets
                    WHERE topic = $1""",
                topic,
            )
        finally:
            await conn.close()
        consumers = {r["consumer"] for r in rows}
        stored = {(r["consumer"], r["partition"]): r["next_offset"] for r in rows}
        return bool(consumers) and all(
            stored.get((c, p), 0) >= end for c in consumers for p, end in ends.items()
        )

    await eventually(done, timeout=timeout)


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` from offset 0 up to its end offsets as they are now."""
    return [record async for batch in read_to_end(bootstrap, topic) for record in batch]


async def read_events(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every event of ``topic`` from offset 0 as JSON; records that are not event-shaped (the
    poison test's bytes and wrong-shaped JSON) are skipped."""
    events = []
    for record in await read_topic(bootstrap, topic):
        try:
            event = orjson.loads(record.value or b"")
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and "type" in event and "complaint_id" in event:
            events.append(event)
    return events


@asynccontextmanager
async def scratch_topic(
    bootstrap: str, name: str, partitions: int = 1, *, also: Sequence[str] = ()
) -> AsyncIterator[str]:
    """A topic ``name`` (and ``name`` + each suffix of ``also``, one partition each) made for a
    test and deleted after it."""
    names = [name, *(f"{name}{suffix}" for suffix in also)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions if n == name else 1, 1) for n in names])
        yield name
        await admin.delete_topics(names)
    finally:
        await admin.close()


@asynccontextmanager
async def own_system(
    kafka_bootstrap: str,
    admin_database_url: str,
    logs: Path,
    run: str,
    services: Sequence[str] = stack.SERVICES,
    **env_extra: str,
) -> AsyncIterator[RunningSystem]:
    """A system of a test module's own (database, topics, the ``services`` running, logs in
    ``logs``, ``env_extra`` added to its environment): what it publishes and rebuilds stays out
    of the log and the state the other tests read, and no service it does not start reacts to
    the events it writes. The services start side by side."""
    name = f"complaints_test_{run}"
    url = await sandbox.create_database(admin_database_url, name)
    topics = sandbox.topic_names(f"test.{run}")
    env = sandbox.environment(
        bootstrap=kafka_bootstrap,
        database_url=url,
        topics=topics,
        **{"COMPLAINTS_PUBLISH_TIMEOUT_S": "5", **env_extra},
    )
    own = RunningSystem(
        env=env,
        database_url=url,
        topics={
            k: env[f"COMPLAINTS_TOPIC_{k.upper()}"] for k in ("events", "submissions", "deadletter")
        },
        logs=logs,
    )
    try:
        await asyncio.gather(*(asyncio.to_thread(own.start, s) for s in services))
        yield own
    finally:
        await asyncio.to_thread(own.stop_all)
        await sandbox.delete_topics(kafka_bootstrap, topics.values())
        await sandbox.drop_database(admin_database_url, name)

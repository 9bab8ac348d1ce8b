"""Intake as ``make up`` and docker-compose.yml run it: a public copy that serves HTTP only
(``COMPLAINTS_ROLE=http``) and a copy beside it that consumes (``CONSUMING_COPIES``).

The public copy takes the channels' submissions (202 after the log's acknowledgement) and
answers ``/readyz`` without consumers of its own; it joins no consumer group, so the caller
directory learns a number only while the consuming copy runs, and catches up when it comes
back."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.catalog import CONSUMING_COPIES
from services.runtime.consumer.batch import group_id
from tests.conftest import RUN, Infra, RunningSystem
from tests.e2e.helpers import HOTLINE, eventually, minutes_ago, own_system

pytestmark = pytest.mark.infra

CALLERS = "intake.callers.v1"  # the caller directory's consumer


@pytest.fixture(scope="module")
async def system(real_infra: Infra) -> AsyncIterator[RunningSystem]:
    """Intake alone, as deployed: ``intake`` serves HTTP only, ``intake-2`` consumes."""
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        real_infra.home / "logs" / f"test-{RUN}ic",
        f"{RUN}ic",
        services=(),
    ) as own:
        assert await asyncio.to_thread(own.start_as_deployed, "intake") == ["intake", "intake-2"]
        yield own


async def members(system: RunningSystem, consumer: str) -> int:
    """How many members the Kafka group of ``consumer`` on the events topic has now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=system.env["COMPLAINTS_KAFKA_BOOTSTRAP"])
    await admin.start()
    try:
        (described,) = await admin.describe_consumer_groups(
            [group_id(consumer, system.topics["events"])]
        )
    finally:
        await admin.close()
    (group,) = described.groups
    return len(group[5])  # (error, group, state, protocol type, protocol, members, ...)


def call(number: str, *, whole: bool) -> dict[str, object]:
    body: dict[str, object] = {
        "call_id": f"CC-{uuid.uuid4().hex[:10]}",
        "caller_number": number,
        "agent_id": "KF002",
        "call_started_at": minutes_ago(2),
        "subject": "电梯异响",
        "summary": "电梯运行时有异响",
    }
    if whole:
        body |= {"caller_name": "钱女士", "office": "Y园", "unit": "8栋2单元1203"}
    return body


async def test_the_public_copy_serves_without_consuming_and_the_other_copy_consumes(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    assert "intake" in CONSUMING_COPIES
    public = system.urls["intake"]
    ready = await http.get(f"{public}/readyz")
    assert ready.status_code == 200, ready.text
    assert all(ready.json()["checks"].values()), ready.json()
    assert await eventually(lambda: members(system, CALLERS)) == 1  # the consuming copy only

    await asyncio.to_thread(system.stop, "intake-2")

    async def left() -> bool:
        return await members(system, CALLERS) == 0

    assert await eventually(left, timeout=30)
    number = f"137{random.randrange(10**8):08d}"
    resp = await http.post(
        f"{public}/v1/channels/hotline/calls", json=call(number, whole=True), headers=HOTLINE
    )
    assert resp.status_code == 202, resp.text  # the public copy still answers the channels
    await asyncio.sleep(3)  # the directory learns a number within a second when consumed
    assert await members(system, CALLERS) == 0
    lean = await http.post(
        f"{public}/v1/channels/hotline/calls", json=call(number, whole=False), headers=HOTLINE
    )
    assert lean.status_code == 422, lean.text  # nobody read the receipt: the number is unknown
    assert (await http.get(f"{public}/readyz")).status_code == 200

    await asyncio.to_thread(system.start, "intake", 2)  # the consuming copy comes back

    async def known() -> bool:
        resp = await http.post(
            f"{public}/v1/channels/hotline/calls", json=call(number, whole=False), headers=HOTLINE
        )
        return resp.status_code == 202

    assert await eventually(known, timeout=30)
    assert await members(system, CALLERS) == 1

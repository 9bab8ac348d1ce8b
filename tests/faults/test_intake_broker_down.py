"""Intake with its broker gone: every 202 is in the log exactly once, and no false 202.

Runs its own broker (free ports, a temporary home) so it can be killed without disturbing
the other tests.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local import infra, stack
from tests.conftest import Infra, free_port
from tests.e2e.helpers import HOTLINE, eventually, submission

pytestmark = pytest.mark.infra


@pytest.fixture
def private_broker(real_infra: Infra, tmp_path: Path) -> Iterator[infra.InfraConfig]:
    """A broker of this test's own, sharing the jar cache of the main one."""
    (tmp_path / "cache").symlink_to(real_infra.home.resolve() / "cache")
    cfg = infra.InfraConfig(
        home=tmp_path, kafka_port=free_port(), kafka_controller_port=free_port()
    )
    infra.ensure_kafka(cfg)
    try:
        yield cfg
    finally:
        infra.stop_kafka(cfg, grace=5)


async def read_all(bootstrap: str, topic: str) -> list[str]:
    """Every key in ``topic`` from offset 0."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        keys: list[str] = []
        while batch := await consumer.getmany(timeout_ms=2000):
            keys += [r.key.decode() for records in batch.values() for r in records if r.key]
        return keys
    finally:
        await consumer.stop()


async def test_intake_answers_503_while_the_broker_is_down_and_every_202_is_logged_once(
    private_broker: infra.InfraConfig, tmp_path: Path
) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{private_broker.kafka_port}"
    env = {
        **os.environ,
        "COMPLAINTS_KAFKA_BOOTSTRAP": bootstrap,
        "COMPLAINTS_ENV": "local",
        "COMPLAINTS_INTAKE_PORT": str(port),
        "COMPLAINTS_PUBLISH_TIMEOUT_S": "3",
    }
    proc = stack.start_service("intake", env=env, log_path=tmp_path / "intake.log")
    url = f"http://127.0.0.1:{port}/v1/complaints"
    try:
        stack.wait_healthy({"intake": port}, timeout=60, logs=tmp_path)
        async with httpx.AsyncClient(timeout=30) as http:

            async def post() -> httpx.Response:
                return await http.post(url, json=submission(), headers=HOTLINE)

            before = await asyncio.gather(*(post() for _ in range(20)))
            assert {r.status_code for r in before} == {202}

            infra.stop_kafka(private_broker, grace=0)  # the broker dies (SIGKILL)
            during = await asyncio.gather(*(post() for _ in range(5)))
            assert {r.status_code for r in during} == {503}
            assert all("retry" in r.json()["detail"] for r in during)

            infra.ensure_kafka(private_broker)  # same data directory: the log survives

            async def accepted() -> httpx.Response | None:
                resp = await post()
                return resp if resp.status_code == 202 else None

            after = [await eventually(accepted, timeout=60, interval=1.0)]
            after += await asyncio.gather(*(post() for _ in range(10)))
            assert {r.status_code for r in after} == {202}
    finally:
        proc.terminate()
        proc.wait(timeout=15)

    keys = Counter(await read_all(bootstrap, "complaints.events"))
    acknowledged = [r.json()["complaint_id"] for r in before + after]
    missing = [c for c in acknowledged if keys[c] == 0]
    doubled = [c for c in acknowledged if keys[c] > 1]
    assert missing == [] and doubled == []

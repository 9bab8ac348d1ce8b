"""Intake with its broker gone: every 202 is in the log exactly once, and no false 202.

Runs its own broker (free ports, a temporary home) so it can be killed without disturbing
the other tests. Stopping and restarting it run in a thread: the clients keep posting
throughout, which is the load the broker dies under.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.local import infra, stack
from tests.conftest import Infra, free_port
from tests.e2e.helpers import HOTLINE, eventually, read_topic, submission

pytestmark = pytest.mark.infra


@pytest.fixture
def private_broker(real_infra: Infra, tmp_path: Path) -> Iterator[infra.InfraConfig]:
    """A broker of this test's own, sharing the jar cache of the main one."""
    (tmp_path / "cache").symlink_to(real_infra.home.resolve() / "cache")
    cfg = infra.InfraConfig(
        home=tmp_path, kafka_port=free_port(), kafka_controller_port=free_port()
    )
    infra.ensure_kafka(cfg, timeout=120)  # a JVM on a busy 2-core machine
    try:
        yield cfg
    finally:
        infra.stop_kafka(cfg, grace=5)


async def read_all(bootstrap: str, topic: str) -> list[str]:
    """Every key in ``topic`` from offset 0."""
    return [r.key.decode() for r in await read_topic(bootstrap, topic) if r.key]


async def test_broker_killed_and_restarted_under_intake_load_loses_no_202_and_fakes_none(
    private_broker: infra.InfraConfig, tmp_path: Path, test_database: str
) -> None:
    port = free_port()
    bootstrap = f"127.0.0.1:{private_broker.kafka_port}"
    env = {
        **os.environ,
        "COMPLAINTS_KAFKA_BOOTSTRAP": bootstrap,
        "COMPLAINTS_ENV": "local",
        "COMPLAINTS_INTAKE_PORT": str(port),
        "COMPLAINTS_PUBLISH_TIMEOUT_S": "3",
        # intake keeps its schema (caller directory, offsets): never in the developer's database
        "COMPLAINTS_DATABASE_URL": test_database,
    }
    proc = stack.start_service("intake", env=env, log_path=tmp_path / "intake.log")
    url = f"http://127.0.0.1:{port}/v1/complaints"
    answers: list[tuple[int, dict[str, str]]] = []
    stop = asyncio.Event()
    try:
        await asyncio.to_thread(stack.wait_healthy, {"intake": port}, timeout=60, logs=tmp_path)
        async with httpx.AsyncClient(timeout=30) as http:

            async def client() -> None:  # one channel adapter posting as fast as answered
                while not stop.is_set():
                    try:
                        resp = await http.post(url, json=submission(), headers=HOTLINE)
                    except httpx.TransportError:  # no answer at all: nothing was promised
                        answers.append((NO_ANSWER, {}))
                        continue
                    answers.append((resp.status_code, resp.json()))

            clients = [asyncio.create_task(client()) for _ in range(8)]
            await eventually(lambda: _at_least(answers, 200), timeout=30, interval=0.05)
            await asyncio.to_thread(infra.stop_kafka, private_broker, grace=0)  # dies under load
            await eventually(lambda: _saw(answers, 503), timeout=30, interval=0.1)
            during = len(answers)
            # same data directory: the log survives
            await asyncio.to_thread(infra.ensure_kafka, private_broker, timeout=120)
            assert len(answers) > during, "the clients stood still while the broker restarted"
            accepted_before = sum(1 for code, _ in answers if code == 202)
            await eventually(
                lambda: _at_least([a for a in answers if a[0] == 202], accepted_before + 100),
                timeout=60,
                interval=0.2,
            )
            stop.set()
            await asyncio.gather(*clients)
    finally:
        stop.set()
        proc.terminate()
        proc.wait(timeout=15)

    codes = Counter(code for code, _ in answers)
    assert codes[202] > 200 and codes[503] > 0, codes
    assert set(codes) <= {202, 503, NO_ANSWER}, codes  # every other answer is an honest 503
    assert all("retry" in body["detail"] for code, body in answers if code == 503)
    keys = Counter(await read_all(bootstrap, "complaints.events"))
    acknowledged = [body["complaint_id"] for code, body in answers if code == 202]
    missing = [c for c in acknowledged if keys[c] == 0]
    doubled = [c for c in acknowledged if keys[c] > 1]
    assert (len(missing), len(doubled)) == (0, 0)


NO_ANSWER = 0


async def _at_least(items: list[object], n: int) -> bool:
    return len(items) >= n


async def _saw(answers: list[tuple[int, dict[str, str]]], code: int) -> bool:
    return any(c == code for c, _ in answers)

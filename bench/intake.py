"""Intake throughput (202 after acks=all) beside its two limits, measured in the same run.

- ``bare_http_per_s``: a bare FastAPI endpoint with the same request model, no Kafka
  (``bench/bare_http.py``), served by uvicorn as the services are. ``ratio_to_bare`` is what
  the credential, the adapters, the event, the log's acknowledgement, metrics and logs cost.
- ``raw_producer_per_s``: an aiokafka producer with intake's settings (idempotent,
  ``acks=all``) sending the same events with the same concurrency, each awaiting its ack.

HTTP load comes from wrk (C, one thread, 32 connections: ``bench/wrk.py``), not from a Python
client competing for the same two cores; every request is a new complaint with a number of
its own. ``*_cpu_us_per_request`` is the server process's CPU time per request: on a shared
machine the rates move with the neighbours, the CPU cost of our code much less. Intake runs as
deployed (``services.catalog.CONSUMING_COPIES``): the copy wrk drives serves HTTP only, and
``consumers_cpu_us_per_request`` is what its consuming copy (the caller directory) spent
meanwhile, per request.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from bench import wrk
from bench.common import Bench, cpu_seconds, received_event, submission_body
from contracts import encode_event
from deploy.local.sandbox import free_port


async def _drive(n: int, concurrency: int, send: Any) -> float:
    """Run ``send(i)`` for i in 0..n-1 on ``concurrency`` workers; return events per second."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            await send(queue.get_nowait())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


def submission_template(run: str) -> str:
    """A submission whose id, phone number and room wrk makes unique per request."""
    body = submission_body(0, run)
    body["submission_id"] = f"bench-{run}-{{id}}"
    body["complainant"]["phone"] = "139{n8}"
    # a room of its own: complaints of one unit within days are a repeat (the workflow's
    # major-complaint rule), which thousands a minute from one room are not
    body["unit"] = "1栋1单元{n8}"
    return json.dumps(body, ensure_ascii=False)


async def _wrk_with_cpu(
    pid: int,
    url: str,
    run: str,
    headers: dict[str, str],
    seconds: float,
    *,
    beside: int | None = None,
) -> dict[str, Any]:
    """wrk's load on ``url``, with the CPU a request of process ``pid`` (and of ``beside``,
    a process that works for the same requests elsewhere: intake's consuming copy)."""
    pids = [pid] if beside is None else [pid, beside]
    before = [cpu_seconds(p) for p in pids]
    load = await wrk.post_load(
        url, template=submission_template(run), run=run, headers=headers, seconds=seconds
    )
    used = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
    load["cpu_us_per_request"] = round(used[0] / max(load["requests"], 1) * 1e6)
    if beside is not None:
        load["beside_cpu_us_per_request"] = round(used[1] / max(load["requests"], 1) * 1e6)
    refused = {status: n for status, n in load["statuses"].items() if status != 202}
    if refused or load["errors"]:
        raise RuntimeError(f"not every answer was 202: {refused} {load['errors']}")
    return load


async def measure(
    bench: Bench, *, seconds: float = 20, n: int = 4000, concurrency: int = 32
) -> dict[str, Any]:
    """Complaints accepted per second over HTTP (wrk), beside a bare FastAPI endpoint with the
    same request model (no Kafka) and a raw producer with intake's settings."""
    headers = {"Content-Type": "application/json"}
    port = free_port()
    bare = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare_http:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    )
    try:
        await _wait_port(port)
        bare_load = await _wrk_with_cpu(
            bare.pid, f"http://127.0.0.1:{port}/v1/complaints", f"{bench.run}b", headers, seconds
        )
    finally:
        bare.terminate()
        await bare.wait()

    async with bench.system("intake", ["intake"]) as system:
        url = f"{system.urls['intake']}/v1/complaints"
        # as deployed: the public copy serves HTTP only, its consuming copy runs beside it
        intake_load = await _wrk_with_cpu(
            system.procs["intake"].pid,
            url,
            f"{bench.run}i",
            {**headers, "X-Api-Key": "dev-hotline"},
            seconds,
            beside=system.procs["intake-2"].pid,
        )

        # the same broker, a topic nobody consumes
        raw_rate = await _raw_producer(bench, system.topics["submissions"], n, concurrency)
    return {
        "seconds_each": seconds,
        "concurrency": concurrency,
        "intake_per_s": intake_load["per_s"],
        "intake_p99_ms": intake_load["p99_ms"],
        "intake_cpu_us_per_request": intake_load["cpu_us_per_request"],
        "consumers_cpu_us_per_request": intake_load["beside_cpu_us_per_request"],
        "bare_http_per_s": bare_load["per_s"],
        "bare_cpu_us_per_request": bare_load["cpu_us_per_request"],
        "ratio_to_bare": round(intake_load["per_s"] / bare_load["per_s"], 3),
        "raw_producer_per_s": round(raw_rate),
        "ratio_to_raw": round(intake_load["per_s"] / raw_rate, 3),
    }


async def _raw_producer(bench: Bench, topic: str, n: int, concurrency: int) -> float:
    """Events per second a plain aiokafka producer with intake's settings (idempotent,
    ``acks=all``) appends, ``concurrency`` sends at a time."""
    bodies = [submission_body(i, bench.run) for i in range(n)]
    events = [encode_event(received_event(b)) for b in bodies]
    producer = AIOKafkaProducer(
        bootstrap_servers=bench.bootstrap, enable_idempotence=True, acks="all", linger_ms=1
    )
    await producer.start()
    try:

        async def send(i: int) -> None:
            await producer.send_and_wait(topic, events[i], key=str(i).encode())

        return await _drive(n, concurrency, send)
    finally:
        await producer.stop()


async def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port}") from None
            await asyncio.sleep(0.1)
        else:
            writer.close()
            return

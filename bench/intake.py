"""Intake throughput (202 after acks=all) beside a raw aiokafka producer with the same settings.

Both sides send the same events with the same concurrency, each request or send waiting for
the broker's acknowledgement: the ratio is what HTTP, validation and the service cost. The HTTP
load comes from aiohttp, which reaches the same rate as wrk here (httpx's connection pool tops
out near 200 requests/s and would measure itself).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.common import Bench, received_event, submission_body
from contracts import encode_event


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


async def measure(bench: Bench, *, n: int = 4000, concurrency: int = 32) -> dict[str, Any]:
    """Complaints accepted per second over HTTP, raw producer rate, and their ratio."""
    async with bench.system("intake", ["intake"]) as system:
        bodies = [submission_body(i, bench.run) for i in range(n)]
        url = f"{system.urls['intake']}/v1/complaints"
        headers = {"X-Api-Key": "dev-hotline"}
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            for i in range(50):  # warm up connections and the producer
                async with http.post(url, json=submission_body(i, "warm"), headers=headers):
                    pass

            async def post(i: int) -> None:
                async with http.post(url, json=bodies[i], headers=headers) as resp:
                    if resp.status != 202:
                        raise RuntimeError(f"intake answered {resp.status}: {await resp.text()}")

            intake_rate = await _drive(n, concurrency, post)

        events = [encode_event(received_event(b)) for b in bodies]
        producer = AIOKafkaProducer(
            bootstrap_servers=bench.bootstrap, enable_idempotence=True, acks="all", linger_ms=1
        )
        await producer.start()
        try:
            topic = system.topics["submissions"]  # same broker, a topic nobody consumes

            async def send(i: int) -> None:
                await producer.send_and_wait(topic, events[i], key=str(i).encode())

            raw_rate = await _drive(n, concurrency, send)
        finally:
            await producer.stop()
    return {
        "requests": n,
        "concurrency": concurrency,
        "intake_per_s": round(intake_rate),
        "raw_producer_per_s": round(raw_rate),
        "ratio": round(intake_rate / raw_rate, 3),
        "target_ratio": 0.6,
    }

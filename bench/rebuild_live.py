"""Readers during a live rebuild: while reporting builds a new generation of its projection
(``complaints rebuild reporting`` on a running service) and complaints come in through intake
at 100 per second, how long ``/v1/stats`` and the monthly report take, and whether every answer
is a 200.

The readers are closed loops (one request of each kind in flight, a short pause between
them), so the load generator measures the service rather than starving it; the intake load is
open-loop (sent on schedule, whatever the answers), as in ``bench/latency.py``. Only the answers
to requests made between the rebuild's request and its swap count.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bench.common import reader_headers, submission_body, summary_ms

INTAKE_PER_S = 100.0
READER_PAUSE_S = 0.05


class Readers:
    """Readers of one reporting service, and a writer of complaints through intake."""

    def __init__(self, reporting: str, intake: str, run: str) -> None:
        self.reporting, self.intake, self.run = reporting, intake, run
        self.latencies: dict[str, list[float]] = {"stats": [], "monthly_report": []}
        self.codes: Counter[int] = Counter()
        self.accepted = 0
        self.counting = False
        self.stopping = asyncio.Event()
        self.headers = reader_headers()

    async def read(self, http: aiohttp.ClientSession, name: str, path: str) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            counting = self.counting
            try:
                async with http.get(f"{self.reporting}{path}", headers=self.headers) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = 0  # no answer at all: counts as not 200
            if counting and self.counting:
                self.latencies[name].append(time.perf_counter() - started)
                self.codes[status] += 1
            await asyncio.sleep(READER_PAUSE_S)

    async def write(self, http: aiohttp.ClientSession) -> None:
        started = time.perf_counter()
        sent: list[asyncio.Task[None]] = []
        i = 0

        async def one(n: int) -> None:
            body = submission_body(10_000_000 + n, self.run)
            async with http.post(
                f"{self.intake}/v1/complaints", json=body, headers={"X-Api-Key": "dev-hotline"}
            ) as resp:
                await resp.read()
                if resp.status == 202:
                    self.accepted += 1

        while not self.stopping.is_set():
            await asyncio.sleep(max(0.0, started + i / INTAKE_PER_S - time.perf_counter()))
            sent.append(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*sent, return_exceptions=True)


async def during(
    reporting: str,
    intake: str,
    run: str,
    rebuild: Callable[[], Awaitable[dict[str, Any]]],
    *,
    warmup_s: float = 2.0,
) -> dict[str, Any]:
    """Run ``rebuild()`` (request → swap) under intake load and readers; the figures."""
    readers = Readers(reporting, intake, run)
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as http:
        tasks = [
            asyncio.create_task(readers.write(http)),
            asyncio.create_task(readers.read(http, "stats", "/v1/stats")),
            asyncio.create_task(readers.read(http, "monthly_report", "/v1/reports/monthly")),
        ]
        try:
            await asyncio.sleep(warmup_s)
            readers.counting = True
            built = await rebuild()
            readers.counting = False
        finally:
            readers.stopping.set()
            await asyncio.gather(*tasks)
    stats, monthly = readers.latencies["stats"], readers.latencies["monthly_report"]
    return {
        "events": built["events"],
        "rebuild_s": round(built["seconds"], 2),
        "rebuild_per_s": round(built["events"] / built["seconds"]),
        "intake_per_s": INTAKE_PER_S,
        "complaints_accepted": readers.accepted,
        "stats": {"requests": len(stats), **summary_ms(stats)},
        "monthly_report": {"requests": len(monthly), **summary_ms(monthly)},
        "non_200": sum(n for code, n in readers.codes.items() if code != 200),
        "target_non_200": 0,
    }

"""End-to-end latency: from intake's 202 to the complaint visible in the reporting projection,
at a steady rate of half the measured intake maximum, with all four services running.

Visibility is read where it becomes true: the reporting consumer's ``processed_events`` row
(of the live generation: ``reporting.live_processed_events``) for the event id intake
returned, committed in the same transaction as the projection rows.
One query every few milliseconds asks for all pending ids at once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import aiohttp
import asyncpg

from bench.common import Bench, submission_body, summary_ms
from services.reporting import spec as reporting_spec

POLL_S = 0.003

REPORTING_CONSUMER = reporting_spec.SPEC.consumer_name(reporting_spec.SPEC.consumers[0])
"""The reporting projection's consumer, as its offsets and processed events name it."""


class Arrivals:
    """Complaints sent to intake, when each was accepted (its ``202``), and when each became
    visible in the reporting projection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.accepted: dict[UUID, float] = {}
        self.visible: dict[UUID, float] = {}

    async def send(self, http: aiohttp.ClientSession, body: dict[str, Any]) -> None:
        """Submit one complaint; remember when it was accepted."""
        async with http.post(self.url, json=body, headers={"X-Api-Key": "dev-hotline"}) as resp:
            if resp.status == 202:
                self.accepted[UUID((await resp.json())["event_id"])] = time.perf_counter()

    async def watch(self, pool: asyncpg.Pool, done: asyncio.Event) -> None:
        """Note when each accepted complaint becomes visible, until ``done`` and all are."""
        while not (done.is_set() and len(self.visible) == len(self.accepted)):
            pending = [e for e in self.accepted if e not in self.visible]
            if pending:
                # by the consumer's exact name, an index lookup: polled every few
                # milliseconds, a LIKE scanned the table and loaded what it measures
                rows = await pool.fetch(
                    "SELECT event_id FROM reporting.live_processed_events "
                    "WHERE consumer = $2 AND event_id = ANY($1::uuid[])",
                    pending,
                    REPORTING_CONSUMER,
                )
                now = time.perf_counter()
                for row in rows:
                    self.visible.setdefault(row["event_id"], now)
            await asyncio.sleep(POLL_S)

    def latencies(self) -> list[float]:
        """Seconds from accepted to visible, of each complaint seen both ways."""
        return [self.visible[e] - at for e, at in self.accepted.items() if e in self.visible]


async def measure(bench: Bench, *, rate: float, seconds: float = 15.0) -> dict[str, Any]:
    """p50/p95/p99 of 202 → visible, at ``rate`` complaints per second."""
    async with bench.system("latency", ["intake", "workflow", "sla", "reporting"]) as system:
        arrivals = Arrivals(f"{system.urls['intake']}/v1/complaints")
        done = asyncio.Event()
        pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=2)
        watcher = asyncio.create_task(arrivals.watch(pool, done))
        total = int(rate * seconds)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
            started = time.perf_counter()
            tasks = []
            for i in range(total):  # an open-loop load: send on schedule, whatever the answers
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
                tasks.append(
                    asyncio.create_task(arrivals.send(http, submission_body(i, bench.run)))
                )
            await asyncio.gather(*tasks)
        done.set()
        await asyncio.wait_for(watcher, timeout=120)
        await pool.close()
    latencies = arrivals.latencies()
    return {
        "rate_per_s": round(rate),
        "complaints": len(latencies),
        **summary_ms(latencies),
        "target_p99_ms": 100,
    }

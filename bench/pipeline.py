"""The whole pipeline: all four services running, intake driven by wrk at its maximum.

For ``seconds`` wrk (C; one thread, 32 connections) POSTs a new complaint per request to
intake; beside it, one probe complaint every ``probe_every_s`` (aiohttp, open loop) is timed
from its ``202`` to its row in the reporting projection (``latency.Arrivals``). Then, with the
load stopped, the time until every accepted complaint is in the workflow's, the SLA's and the
reporting projections (``lag_after_s``: the slowest). The figures:

- ``complaints_per_s``: complaints accepted (``202``) per second of load, wrk's and the probes';
- ``lag_after_s`` and each service's own (``caught_up_after_s``);
- ``p99_ms`` (and the rest of the summary) of the probes' ``202`` → visible in reporting;
- ``append_delay``: per producing service, an event's ``recorded_at`` → its record's timestamp
  in the log: how long after an instant an event recorded before it can still be missing from
  the log — what the SLA scheduler's grace (``COMPLAINTS_SLA_GRACE_S``) must cover;
- ``cpu_s`` and ``cpu_share`` of each process over load and drain: each service process
  (intake's two copies: ``intake`` serves, ``intake-2`` consumes), wrk,
  Kafka (``java``) and PostgreSQL (all its processes), ``cpu_share`` = its part of the time
  the machine's cores had; ``cpu_busy``: their sum.
"""

from __future__ import annotations

import asyncio
import os
import resource
import time
from collections import defaultdict
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
import orjson

from bench import wrk
from bench.common import Bench, cpu_seconds, cpu_since, named_cpu, submission_body, summary_ms
from bench.intake import submission_template
from bench.latency import Arrivals
from services.runtime.kafka import read_to_end

SERVICES = ("intake", "workflow", "sla", "reporting")
TARGET_PER_S = 1000
TARGET_LAG_S = 5
TARGET_P99_MS = 250
# Where each service keeps one row per complaint (the stable names that follow a rebuild).
PROJECTIONS = {
    "workflow": "workflow.complaints",
    "sla": "sla.complaints",
    "reporting": "reporting.complaints",
}


async def measure(
    bench: Bench, *, seconds: float = 60.0, probe_every_s: float = 0.1
) -> dict[str, Any]:
    """The platform's sustained rate with everything running, its lag and its latency."""
    async with bench.system("pipeline", SERVICES) as system:
        url = f"{system.urls['intake']}/v1/complaints"
        pids = {key: proc.pid for key, proc in system.procs.items()}  # intake: two copies
        before = _cpu(pids)
        arrivals = Arrivals(url)
        done = asyncio.Event()
        pool = await asyncpg.create_pool(system.database_url, min_size=1, max_size=2)
        watcher = asyncio.create_task(arrivals.watch(pool, done))
        started = time.perf_counter()
        load, _ = await asyncio.gather(
            wrk.post_load(
                url,
                template=submission_template(bench.run),
                run=bench.run,
                headers={"Content-Type": "application/json", "X-Api-Key": "dev-hotline"},
                seconds=seconds,
            ),
            _probes(arrivals, bench.run, seconds, probe_every_s),
        )
        stopped = time.perf_counter()
        accepted = load["statuses"].get(202, 0) + len(arrivals.accepted)
        caught_up = await _caught_up(pool, accepted, since=stopped)
        done.set()
        await asyncio.wait_for(watcher, timeout=120)
        await pool.close()
        wall = time.perf_counter() - started
        used = _cpu_used(before, _cpu(pids))
        append_delay = await _append_delays(bench.bootstrap, system.topics["events"])
    total_cpu = sum(used.values())
    return {
        "load_s": seconds,
        "complaints_accepted": accepted,
        "refused": {s: n for s, n in load["statuses"].items() if s != 202},
        "complaints_per_s": round(accepted / (stopped - started)),
        "target_per_s": TARGET_PER_S,
        "caught_up_after_s": caught_up,
        "lag_after_s": max(caught_up.values()),
        "target_lag_after_s": TARGET_LAG_S,
        "probes": len(arrivals.latencies()),
        **summary_ms(arrivals.latencies()),
        "target_p99_ms": TARGET_P99_MS,
        "append_delay": append_delay,
        "cpu_s": {name: round(s, 1) for name, s in used.items()},
        "cpu_share": {
            name: round(s / (wall * (os.cpu_count() or 1)), 3) for name, s in used.items()
        },
        "cpu_busy": round(total_cpu / (wall * (os.cpu_count() or 1)), 3),
    }


async def _probes(arrivals: Arrivals, run: str, seconds: float, every_s: float) -> None:
    """One complaint every ``every_s`` for ``seconds``, sent on schedule whatever the answers."""
    async with aiohttp.ClientSession() as http:
        started = time.perf_counter()
        tasks = []
        for i in range(int(seconds / every_s)):
            await asyncio.sleep(max(0.0, started + i * every_s - time.perf_counter()))
            body = submission_body(i, f"{run}p")
            tasks.append(asyncio.create_task(arrivals.send(http, body)))
        await asyncio.gather(*tasks)


async def _caught_up(
    pool: asyncpg.Pool, accepted: int, *, since: float, timeout_s: float = 120
) -> dict[str, float]:
    """Seconds after ``since`` until each projection holds ``accepted`` complaints (``-1``
    for one that never did within ``timeout_s``)."""
    caught: dict[str, float] = {}
    while len(caught) < len(PROJECTIONS) and time.perf_counter() - since < timeout_s:
        for service, table in PROJECTIONS.items():
            if (
                service not in caught
                and await pool.fetchval(f"SELECT count(*) FROM {table}") >= accepted
            ):
                caught[service] = round(time.perf_counter() - since, 2)
        await asyncio.sleep(0.1)
    return {service: caught.get(service, -1.0) for service in PROJECTIONS}


async def _append_delays(bootstrap: str, topic: str) -> dict[str, dict[str, float]]:
    """Per producing service (the envelope's ``source`` up to its ``/``), each event's
    ``recorded_at`` → its record's timestamp (set by the producer as it sends, a few ms before
    ``acks=all``): summary in ms, and how many events."""
    delays: dict[str, list[float]] = defaultdict(list)
    async for batch in read_to_end(bootstrap, topic):
        for record in batch:
            event = orjson.loads(record.value or b"{}")
            recorded = datetime.fromisoformat(event["recorded_at"]).timestamp()
            source = str(event["source"]).split("/")[0]
            delays[source].append(max(record.timestamp / 1000 - recorded, 0.0))
    return {
        source: {**summary_ms(values), "events": len(values)}
        for source, values in sorted(delays.items())
    }


def _cpu(pids: dict[str, int]) -> dict[str, dict[int, float]]:
    """CPU time so far of the services, wrk, Kafka and PostgreSQL, by process. wrk has ended
    by the second reading: it counts as this process's children that ended (the services
    still run, so they are not among them)."""
    readings = {name: {pid: cpu_seconds(pid)} for name, pid in pids.items()}
    ended = resource.getrusage(resource.RUSAGE_CHILDREN)
    readings["wrk"] = {0: ended.ru_utime + ended.ru_stime}
    readings["kafka"] = named_cpu("java")
    readings["postgresql"] = named_cpu("postgres")
    return readings


def _cpu_used(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    return {name: cpu_since(before[name], now) for name, now in after.items()}

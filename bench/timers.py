"""SLA timer lateness: 10,000 first-response deadlines falling due within one minute while
intake takes 100 complaints per second; how late each breach reaches the log (its Kafka
timestamp − the deadline).

``sla_timers`` has only those 10,000 timers pending; ``sla_timers_100k`` has 90,000 more whose
deadlines fall due hours after the window (100,000 pending timers in all), so the figure says
whether finding the due ones costs anything for the ones not due.

The timers are seeded fast: their ``ComplaintReceived`` events are published to the log
directly (as intake would have), and the window starts only once the SLA service has applied
every one of them and judged each complaint once (no complaint's check due any more). The
intake load is open-loop (sent on schedule, whatever the answers: ``bench/rebuild_live.py``),
started before the window and stopped after the last breach.

The workflow runs too: the SLA judges a deadline once the workflow's watermark has passed it
(docs/architecture.md, "The workflow's watermark"). ``BENCH_SLA_NO_WATERMARK=1`` runs the SLA
without waiting for it (``COMPLAINTS_SLA_WATERMARKS_FROM=[]``): the grace alone, as before.
``BENCH_SLA_GRACE_S=<s>``: run the SLA service with another grace (``COMPLAINTS_SLA_GRACE_S``;
without a watermark no alert can be less late than it). The figure names what it waited for.

``BENCH_PROFILE_DIR=<dir>``: record a py-spy profile of the SLA process during the window
(``<dir>/sla_timers[_100k].txt``, collapsed stacks).
"""

from __future__ import annotations

import asyncio
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from bench.common import Bench, live_caught_up, received_event, submission_body, summary_ms
from contracts import Envelope, encode_event
from services.runtime.kafka import end_offsets
from services.sla.settings import SlaSettings

INTAKE_PER_S = 100.0
TARGET_P99_MS = 250
FIRST_RESPONSE = timedelta(minutes=30)  # policy.yaml: the first-response target (wall clock)


def _receipts(start: int, n: int, run: str, due: Sequence[datetime]) -> list[Envelope]:
    """``n`` complaints received so that their first response falls due at ``due[i]``."""
    events = []
    for i in range(n):
        body = submission_body(start + i, run, minutes_ago=0)
        body["occurred_at"] = (due[i] - FIRST_RESPONSE).isoformat()
        events.append(received_event(body))
    return events


async def _publish(bootstrap: str, topic: str, events: Sequence[Envelope]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=10)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, encode_event(e), key=str(e.complaint_id).encode())
            for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _workflow_applied(
    bootstrap: str, database_url: str, topic: str, timeout_s: float
) -> bool:
    """Wait until the workflow's projection has applied the log up to its end as it is now:
    a workflow still folding the seeded receipts would take the window's cores (whether it
    did within ``timeout_s``)."""
    ends = {p: o for p, o in (await end_offsets(bootstrap, topic)).items() if o > 0}
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() - started < timeout_s:
            try:
                if await live_caught_up(conn, "workflow", ends):
                    return True
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                pass  # the workflow has not made its schema yet
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    return False


async def _judged(
    database_url: str, complaints: int, timeout_s: float, *, strict: bool = True
) -> bool:
    """Wait until the SLA service knows ``complaints`` complaints and none is due for a check
    (whether it did; past ``timeout_s``, an error when ``strict``)."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        while time.monotonic() - started < timeout_s:
            try:
                known, due = await conn.fetchrow(
                    "SELECT count(*), count(*) FILTER (WHERE next_check_at <= now()) "
                    "FROM sla.complaints"
                )
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                known, due = 0, 0
            if known >= complaints and not due:
                return True
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    if strict:
        raise RuntimeError(f"the SLA service did not judge {complaints} complaints in {timeout_s}s")
    return False


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def _metrics(http: aiohttp.ClientSession, url: str) -> Samples:
    """Every sample of a service's ``/metrics``: (name, labels) → value (prometheus_client's
    own parser)."""
    async with http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


SAMPLE_EVERY_S = 0.5


class Behind:
    """Samples, every ``SAMPLE_EVERY_S``, how far before now the SLA could judge due timers
    (``complaints_sla_judged_behind_seconds``: the partitions applied, the workflow's watermark
    or the grace, for the partition furthest behind), and how far the watermark alone was
    (``complaints_sla_watermark_behind_seconds``)."""

    GAUGES = {
        "complaints_sla_judged_behind_seconds": "judged",
        "complaints_sla_watermark_behind_seconds": "watermark",
    }

    def __init__(self, sla: str) -> None:
        self.sla = sla
        self.samples: dict[str, list[float]] = {kind: [] for kind in self.GAUGES.values()}
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        async with aiohttp.ClientSession() as http:
            while not self.stopping.is_set():
                seen = await _metrics(http, self.sla)
                for name, kind in self.GAUGES.items():
                    value = seen.get((name, frozenset()))
                    if value is not None and not math.isnan(value):
                        self.samples[kind].append(value)
                # every 0.5 s: at 0.1 s, rendering /metrics was 6.5 % of the SLA's loop (py-spy,
                # 2026-12-07), load the measured service bears from no Prometheus
                await asyncio.sleep(SAMPLE_EVERY_S)


async def _read(url: str) -> Samples:
    """``_metrics`` of ``url`` once, on a session of its own."""
    async with aiohttp.ClientSession() as http:
        return await _metrics(http, url)


def _bucket(seen: Samples, name: str, le: str, *labels: tuple[str, str]) -> float:
    """The cumulative count of histogram ``name`` at ``le`` (0 when it has none yet)."""
    return seen.get((f"{name}_bucket", frozenset({*labels, ("le", le)})), 0.0)


def _decided(seen: Samples, breaches: int) -> dict[str, float]:
    """The share of the ``breaches`` the SLA service decided within 0.25, 0.5 and 1 s of
    their deadline (its histogram ``complaints_sla_alert_lateness_seconds``: due → enqueued;
    the seeded complaints' warnings were decided minutes late, in no bucket named), so the
    figure splits into deciding and publishing."""
    name = "complaints_sla_alert_lateness_seconds"
    return {le: round(_bucket(seen, name, le) / breaches, 3) for le in ("0.25", "0.5", "1.0")}


def _process(seen: Samples) -> dict[str, float]:
    """What the SLA process says of itself so far: its full garbage collections
    (``complaints_gc_pause_seconds``, generation 2: how many, the seconds they held it, how
    many took over 50 ms) and its event loop's lag (``complaints_event_loop_lag_seconds``:
    wake-ups observed, and how many came over 1, 5, 10, 25, 100 and 250 ms late)."""
    full = ("generation", "2")
    gc_count = seen.get(("complaints_gc_pause_seconds_count", frozenset({full})), 0.0)
    lag = "complaints_event_loop_lag_seconds"
    lag_count = seen.get((f"{lag}_count", frozenset()), 0.0)
    return {
        "gc_count": gc_count,
        "gc_seconds": seen.get(("complaints_gc_pause_seconds_sum", frozenset({full})), 0.0),
        "gc_over_50ms": gc_count - _bucket(seen, "complaints_gc_pause_seconds", "0.05", full),
        "lag_count": lag_count,
        **{
            f"lag_over_{ms}ms": lag_count - _bucket(seen, lag, le)
            for ms, le in (
                ("1", "0.001"),
                ("5", "0.005"),
                ("10", "0.01"),
                ("25", "0.025"),
                ("100", "0.1"),
                ("250", "0.25"),
            )
        },
    }


class Intake:
    """An open-loop writer of complaints through intake at ``INTAKE_PER_S``."""

    def __init__(self, url: str, run: str) -> None:
        self.url, self.run = url, run
        self.accepted = 0
        self.refused = 0
        self.stopping = asyncio.Event()
        self.started = 0.0
        self.stopped = 0.0

    async def run_load(self) -> None:
        sent: list[asyncio.Task[None]] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:

            async def one(n: int) -> None:
                body = submission_body(20_000_000 + n, self.run)
                try:
                    async with http.post(
                        f"{self.url}/v1/complaints",
                        json=body,
                        headers={"X-Api-Key": "dev-hotline"},
                    ) as resp:
                        await resp.read()
                        ok = resp.status == 202
                except aiohttp.ClientError:
                    ok = False
                if ok:
                    self.accepted += 1
                else:
                    self.refused += 1

            self.started = time.perf_counter()
            i = 0
            while not self.stopping.is_set():
                await asyncio.sleep(max(0.0, self.started + i / INTAKE_PER_S - time.perf_counter()))
                sent.append(asyncio.create_task(one(i)))
                i += 1
            self.stopped = time.perf_counter()
            await asyncio.gather(*sent, return_exceptions=True)

    @property
    def rate(self) -> float:
        return self.accepted / max(self.stopped - self.started, 1e-9)


def _profile(pid: int, seconds: float, name: str) -> subprocess.Popen[bytes] | None:
    where = os.environ.get("BENCH_PROFILE_DIR")
    if not where:
        return None
    Path(where).mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).parent / "py-spy"
    return subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--format",
            "raw",
            "--rate",
            "50",
            "--output",
            str(Path(where) / f"{name}.txt"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def measure(
    bench: Bench,
    *,
    n: int = 10_000,
    later: int = 0,
    window_s: float = 60.0,
    name: str = "sla_timers",
) -> dict[str, Any]:
    """Lateness percentiles of ``n`` breaches due within ``window_s``, with ``later`` more
    timers pending (due hours later), while intake takes 100 complaints per second."""
    grace = os.environ.get("BENCH_SLA_GRACE_S")  # the service's default unless given
    env = {"COMPLAINTS_SLA_GRACE_S": grace} if grace else {}
    watermark = os.environ.get("BENCH_SLA_NO_WATERMARK", "") in ("", "0")
    if not watermark:
        env["COMPLAINTS_SLA_WATERMARKS_FROM"] = "[]"
    services = ["intake", "workflow", "sla"]
    async with bench.system(name.replace("_", ""), services, **env) as system:
        topic = system.topics["events"]
        rng = random.Random(7)
        seeding = time.monotonic()
        if later:  # pending timers, due hours after the window
            await _pending(bench, topic, system.database_url, rng, first=n, count=later)
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bench.bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        await consumer.seek_to_end()  # before any breach can be published
        lead = 60.0  # time to publish and judge them all before the first falls due
        start = datetime.now(UTC) + timedelta(seconds=lead)
        due = [start + timedelta(seconds=rng.uniform(0, window_s)) for _ in range(n)]
        await _publish(bench.bootstrap, topic, _receipts(0, n, bench.run, due))
        judged = await _judged(system.database_url, later + n, timeout_s=lead, strict=False)
        left_s = (start - datetime.now(UTC)).total_seconds()
        applied = await _workflow_applied(bench.bootstrap, system.database_url, topic, left_s)
        seeded_s = time.monotonic() - seeding

        intake = Intake(system.urls["intake"], bench.run)
        load = asyncio.create_task(intake.run_load())
        wait_s = (start - datetime.now(UTC)).total_seconds()
        process_before = _process(await _read(system.urls["sla"]))
        behind = Behind(system.urls["sla"])
        sampling = asyncio.create_task(behind.run())
        profiler = _profile(system.procs["sla"].pid, max(wait_s, 0) + window_s + 5, name)
        try:
            until = time.monotonic() + wait_s + window_s + 90
            late, relayed = await _lateness(consumer, n, until=until)
        finally:
            intake.stopping.set()
            behind.stopping.set()
            await load
            await sampling
            await consumer.stop()
            if profiler is not None:
                profiler.wait(timeout=window_s + 120)
        after = await _read(system.urls["sla"])  # one read for what the SLA says of itself
        decided = _decided(after, n)
        process = {k: v - process_before[k] for k, v in _process(after).items()}
    return {
        "timers_due": n,
        "timers_pending": n + later,
        "fired": len(late),
        **summary_ms(list(late.values())),
        "target_p99_ms": TARGET_P99_MS,
        "waits_for": "the workflow's watermark" if watermark else "the grace",
        "grace_s": float(grace) if grace else SlaSettings().sla_grace_s,
        "intake_per_s": round(intake.rate, 1),
        "intake_refused": intake.refused,
        "decided_within_s": decided,
        # of the lateness, decided → in the log: the judging transaction's commit and the relay
        "relayed": summary_ms(list(relayed.values())),
        # how far before now due timers could be judged, sampled over the wait and window
        "judged_behind": summary_ms(behind.samples["judged"]),
        "watermark_behind": summary_ms(behind.samples["watermark"]),
        # the SLA's full collections from the intake load's start to the last breach
        "sla_full_collections": {
            "count": int(process["gc_count"]),
            "seconds": round(process["gc_seconds"], 3),
            "over_50ms": int(process["gc_over_50ms"]),
        },
        # the SLA's event loop over the same span: wake-ups every 50 ms, and how many were late
        "sla_loop_lag": {
            k.removeprefix("lag_"): int(v) for k, v in process.items() if k.startswith("lag_")
        },
        "seeded_s": round(seeded_s, 1),
        "judged_before_window": judged,
        "workflow_applied_before_window": applied,
    }


async def _pending(
    bench: Bench, topic: str, database_url: str, rng: random.Random, *, first: int, count: int
) -> None:
    """Receipts ``first`` … ``first + count - 1`` whose first response falls due two to three
    hours from now, published and judged by the service."""
    soon = datetime.now(UTC) + timedelta(hours=2)
    due = [soon + timedelta(seconds=rng.uniform(0, 3600)) for _ in range(count)]
    await _publish(bench.bootstrap, topic, _receipts(first, count, bench.run, due))
    await _judged(database_url, count, timeout_s=1800)
    await _workflow_applied(bench.bootstrap, database_url, topic, timeout_s=1800)


async def _lateness(
    consumer: AIOKafkaConsumer, n: int, *, until: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Each complaint's first-response breach as the log got it: seconds after its deadline
    (the record's Kafka timestamp), until ``n`` came or ``until`` (``time.monotonic``); and
    seconds after it was decided (its ``recorded_at``: the judging round's instant), which is
    the part of the lateness spent committing and relaying it."""
    late: dict[str, float] = {}
    relayed: dict[str, float] = {}
    while len(late) < n and time.monotonic() < until:
        batch = await consumer.getmany(timeout_ms=500, max_records=5000)
        for records in batch.values():
            for r in records:
                e = orjson.loads(r.value)
                if e["type"] == "SlaBreached" and e["data"]["timer"] == "first_response":
                    if e["complaint_id"] in late:
                        continue
                    at = r.timestamp / 1000
                    late[e["complaint_id"]] = (
                        at - datetime.fromisoformat(e["data"]["deadline"]).timestamp()
                    )
                    relayed[e["complaint_id"]] = (
                        at - datetime.fromisoformat(e["recorded_at"]).timestamp()
                    )
    return late, relayed


async def measure_100k(bench: Bench) -> dict[str, Any]:
    """``measure`` with 90,000 more timers pending, due after the window."""
    return await measure(bench, later=90_000, name="sla_timers_100k")

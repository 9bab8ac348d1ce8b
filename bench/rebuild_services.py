"""Rebuild rates of workflow and SLA: a live ``complaints rebuild <service>`` over a log of
≥100,000 events of realistic complaint histories, from the request to the swap.

The log is made of the domain's own events (``histories``): complaints received over a
hundred days through the three channels (a few owners complaining again within the week),
acknowledged (some late, with the SLA warnings and breaches that follow), judged, handled
(assigned, analysed, plans proposed — some rejected — approved and carried out, time
commitments, replies, revisits — some unsatisfied, reopened and handled again), closed, with
preventive measures; some withdrawn, some invalid and answered. The service runs live on it
first — deriving what its rules derive (routing suggestions, major complaints, escalations;
SLA's alerts) — until everything is applied and published; then a rebuild is requested as
the operator's command does, and timed until the new generation is live. Beside it, the raw
floor: reading the same topic with aiokafka and COPYing one history row per event.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.common import (
    OFFICES,
    SUBJECTS,
    Bench,
    postgres_cpu,
    postgres_cpu_since,
    tree_cpu_seconds,
)
from contracts import (
    Channel,
    ComplaintReceived,
    Envelope,
    EventData,
    ServiceCategory,
    Validity,
    encode_event,
    new_envelope,
)
from contracts.envelope import FROM_LOG
from contracts.intake import Address, Submission, complaint_id_for, received_event_id
from contracts.lifecycle import (
    Actor,
    CauseAnalysed,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintReopened,
    ComplaintWithdrawn,
    DepartmentAssigned,
    OwnerReplied,
    PlanApproved,
    PlanImplemented,
    PlanRejected,
    PreventiveMeasureRecorded,
    ResolutionProposed,
    RevisitRecorded,
    Role,
    TimeCommitted,
)
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from contracts.timezone import CHINA
from services.runtime.generations import Generations
from services.runtime.kafka import end_offsets

TARGET_PER_S = 20_000
AGENT = Actor(staff_id="cs-001", role=Role.CS_AGENT)
HEAD = Actor(staff_id="cs-head-01", role=Role.CS_HEAD)
DEPT = Actor(staff_id="eng-007", role=Role.DEPARTMENT)
BOSS = Actor(staff_id="sup-01", role=Role.SUPERVISOR)
PM = Actor(staff_id="pm-01", role=Role.PROJECT_MANAGER)
DEPARTMENTS = ("工程部", "秩序维护部", "环境部", "客服中心")
CHANNELS = [Channel.HOTLINE, Channel.APP, Channel.SUPERVISION]
VALIDITIES = [Validity.VALID, Validity.ASSIST, Validity.INVALID]

Event = tuple[Envelope, EventData]


def histories(
    complaints: int,
    *,
    seed: int = 13,
    alerts: bool = True,
    start: datetime | None = None,
    days: float = 100,
) -> list[Event]:
    """The events of ``complaints`` complaint histories received over ``days`` days, in log
    order (by time; each complaint's own events in order). ``alerts``: with the SLA warnings
    and breaches a late first response leads to (as the SLA service would publish them)."""
    rng = random.Random(seed)
    start = start or (datetime.now(UTC) - timedelta(days=120))
    phones = [f"139{rng.randrange(10**8):08d}" for _ in range(max(complaints * 9 // 10, 1))]
    stories: list[list[tuple[datetime, Event]]] = []
    for n in range(complaints):
        stories.append(_story(n, rng, start, days, phones, alerts=alerts))
    merged = [item for story in stories for item in story]
    merged.sort(key=lambda item: item[0])  # stable: a complaint's events keep their order
    return [event for _, event in merged]


def _story(
    n: int,
    rng: random.Random,
    start: datetime,
    days: float,
    phones: list[str],
    *,
    alerts: bool,
) -> list[tuple[datetime, Event]]:
    """The life of complaint ``n``: received, acknowledged (late ones with their SLA alerts),
    then withdrawn, judged invalid and answered, or handled in one or two rounds; each event
    at its instant."""
    life = _Life(n, rng, start, days, phones)
    life.receive(alerts=alerts)
    if rng.random() < 0.03:
        life.add(ComplaintWithdrawn(actor=AGENT, reason="业主撤回投诉"), life.later(60, 600))
        return life.out
    validity = rng.choices(VALIDITIES, weights=[0.70, 0.12, 0.18])[0]
    if validity is Validity.INVALID:
        life.answer_invalid(validity)
        return life.out
    life.handle(validity)
    return life.out


class _Life:
    """One complaint's events as they are made (``_story``), in the order ``rng`` draws them."""

    def __init__(
        self, n: int, rng: random.Random, start: datetime, days: float, phones: list[str]
    ) -> None:
        self.rng = rng
        self.channel = rng.choices(CHANNELS, weights=[0.50, 0.44, 0.06])[0]
        self.t0 = (start + timedelta(minutes=rng.uniform(0, days * 24 * 60))).astimezone(CHINA)
        # FROM_LOG: the phone is in national form already; parsing it again is most of the cost.
        self.submission = Submission.model_validate(
            {
                "submission_id": f"hist-{n}",
                "office": OFFICES[n % len(OFFICES)],
                "unit": f"{n % 30 + 1}栋{n % 4 + 1}单元{n % 2000 + 101}",
                "complainant": {"name": "业主", "phone": rng.choice(phones)},
                "subject": SUBJECTS[n % len(SUBJECTS)],
                "description": "楼上经常有杂物坠下，请物业尽快处理并查明责任人",
                "demand": "查明责任人",
                "occurred_at": self.t0.isoformat(),
            },
            context=FROM_LOG,
        )
        self.cid = complaint_id_for(self.channel, self.submission.submission_id)
        self.out: list[tuple[datetime, Event]] = []
        self.at = self.t0

    def add(self, data: EventData, when: datetime, *, event_id: uuid.UUID | None = None) -> None:
        source = "sla/scheduler" if isinstance(data, SlaWarning | SlaBreached) else "bench"
        envelope = new_envelope(
            data,
            event_id=event_id or uuid.UUID(int=self.rng.getrandbits(128), version=4),
            complaint_id=self.cid,
            occurred_at=when,
            recorded_at=when,
            source=source,
            correlation_id=self.cid,
        )
        self.out.append((when, (envelope, data)))

    def later(self, low: float, high: float) -> datetime:
        """The next instant, ``low`` to ``high`` minutes after the last one."""
        self.at = self.at + timedelta(minutes=self.rng.uniform(low, high))
        return self.at

    def receive(self, *, alerts: bool) -> None:
        """Received, then acknowledged; when that took over 30 minutes (and ``alerts``), the
        first response's warning and breach in between."""
        t0, channel = self.t0, self.channel
        received = ComplaintReceived.model_validate(
            {
                **self.submission.model_dump(),
                "channel": channel,
                "address": Address.parse(self.submission.unit),
                "over_the_head": channel.is_over_the_head,
            },
            context=FROM_LOG,
        )
        self.add(received, t0, event_id=received_event_id(self.cid))
        ack = self.later(3, 50)
        if alerts and ack - t0 > timedelta(minutes=30):
            deadline = t0 + timedelta(minutes=30)
            warning = SlaWarning(
                timer="first_response", deadline=deadline, target="30分钟", share=0.8
            )
            breach = SlaBreached(timer="first_response", deadline=deadline, hard=False)
            kinds = ((warning, AlertKind.WARNING, 24), (breach, AlertKind.BREACHED, 30))
            for data, kind, minutes in kinds:
                self.add(
                    data,
                    t0 + timedelta(minutes=minutes),
                    event_id=sla_event_id(self.cid, "first_response", deadline, kind),
                )
        self.add(ComplaintAcknowledged(actor=AGENT), ack)

    def answer_invalid(self, validity: Validity) -> None:
        self.add(ComplaintJudged(actor=AGENT, validity=validity), self.later(10, 120))
        self.add(OwnerReplied(actor=AGENT, message="已向业主解释", final=True), self.later(30, 300))
        self.add(ComplaintClosed(actor=AGENT), self.later(10, 120))

    def handle(self, validity: Validity) -> None:
        """Judged, then one round of handling (two when the first revisit is unsatisfied:
        reopened), closed, sometimes a preventive measure after."""
        rng = self.rng
        category = rng.choice(list(ServiceCategory))
        judged = ComplaintJudged(actor=AGENT, validity=validity, category=category)
        self.add(judged, self.later(10, 120))
        plan = 0
        rounds = 2 if rng.random() < 0.08 else 1
        for round_no in range(rounds):
            if round_no:
                reopened = ComplaintReopened(actor=AGENT, reason="业主不满意，重新处理")
                self.add(reopened, self.later(10, 60))
            else:
                deadline = self.later(30, 240) + timedelta(days=3)
                department = rng.choice(DEPARTMENTS)
                self.add(
                    DepartmentAssigned(
                        actor=HEAD, department=department, deadline=deadline, reason="manual"
                    ),
                    self.at,
                )
            plan = self.carry_out(plan)
            satisfied = round_no == rounds - 1
            self.add(
                RevisitRecorded(actor=AGENT, visit_no=round_no + 1, satisfied=satisfied),
                self.later(60, 1440),
            )
        self.add(ComplaintClosed(actor=AGENT), self.later(10, 120))
        if rng.random() < 0.25:
            self.add(PreventiveMeasureRecorded(actor=PM, measure="定期巡检"), self.later(60, 2880))

    def carry_out(self, plan: int) -> int:
        """One round's work: the cause, plans proposed (some rejected) and approved, sometimes
        a time promised, the plan carried out and the owner answered; the last plan's id."""
        rng, later = self.rng, self.later
        analysed = CauseAnalysed(actor=DEPT, cause="设施老化", responsible_party="工程部")
        self.add(analysed, later(60, 900))
        for _ in range(2 if rng.random() < 0.2 else 1):
            plan += 1
            self.add(ResolutionProposed(actor=DEPT, plan_id=plan, plan="更换设备"), later(60, 600))
            if rng.random() < 0.2:
                rejected = PlanRejected(actor=BOSS, plan_id=plan, reason="方案不充分")
                self.add(rejected, later(30, 300))
                plan += 1
                proposed = ResolutionProposed(actor=DEPT, plan_id=plan, plan="改进方案")
                self.add(proposed, later(60, 600))
            self.add(PlanApproved(actor=BOSS, plan_id=plan), later(30, 480))
        if rng.random() < 0.3:
            promised = later(10, 60) + timedelta(days=2)
            self.add(
                TimeCommitted(actor=AGENT, promised_at=promised, message="两日内答复"), self.at
            )
        self.add(PlanImplemented(actor=DEPT, plan_id=plan, summary="已更换"), later(240, 2880))
        self.add(OwnerReplied(actor=AGENT, message="已处理完毕", final=True), later(10, 240))
        return plan


async def publish(bootstrap: str, topic: str, events: list[Event]) -> None:
    """Append the events to the topic, keyed by complaint (one partition per complaint)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    try:
        pending = []
        for envelope, _ in events:
            pending.append(
                await producer.send(
                    topic, encode_event(envelope), key=str(envelope.complaint_id).encode()
                )
            )
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def settled(
    bootstrap: str, topic: str, database_url: str, schema: str, *, timeout: float = 1800
) -> int:
    """Wait until the live generation has applied the whole log, the outbox is published and
    (SLA) no complaint awaits its check, twice in a row; the log's length then."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        calm = 0
        while calm < 2:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{schema} did not settle in {timeout} s")
            ends = await end_offsets(bootstrap, topic)
            rows = await conn.fetch(
                f"SELECT partition, next_offset FROM {schema}.live_consumer_offsets"
            )
            stored = {r["partition"]: r["next_offset"] for r in rows}
            busy = any(stored.get(p, 0) < end for p, end in ends.items())
            busy = busy or bool(
                await conn.fetchval(
                    f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
                )
            )
            if schema == "sla":
                busy = busy or bool(
                    await conn.fetchval(
                        "SELECT count(*) FROM sla.complaints WHERE next_check_at <= now()"
                    )
                )
            calm = 0 if busy else calm + 1
            await asyncio.sleep(1.0)
        return sum(ends.values())
    finally:
        await conn.close()


async def rebuild(
    database_url: str, schema: str, *, pid: int | None = None, timeout: float = 1800
) -> dict[str, Any]:
    """Ask for a rebuild as ``complaints rebuild`` does; time it until the swap (and the CPU
    time the service process ``pid`` used meanwhile)."""
    registry = Generations(schema=schema, version="", tables=[])
    conn = await asyncpg.connect(database_url)
    spy = profiler(pid, f"{schema}-rebuild")
    try:
        cpu = tree_cpu_seconds(pid) if pid else 0.0
        database_cpu = postgres_cpu()
        started = time.perf_counter()
        gen = await registry.request(conn, "bench rebuild_services")
        deadline = time.monotonic() + timeout
        while True:
            row = await conn.fetchrow(f"SELECT * FROM {schema}.generations WHERE gen = $1", gen.gen)
            if row["state"] == "live":
                break
            if row["state"] == "failed":
                raise RuntimeError(f"{schema} generation {gen.gen} failed: {row['error']}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{schema} rebuild did not finish in {timeout} s")
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "cpu_s": tree_cpu_seconds(pid) - cpu if pid else None,
            "postgres_cpu_s": postgres_cpu_since(database_cpu),
            "events": int(row["events_done"] or 0),
            "registry_s": (row["swapped_at"] - row["created_at"]).total_seconds(),
        }
    finally:
        await conn.close()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)


def profiler(pid: int | None, name: str) -> subprocess.Popen[bytes] | None:
    """With ``BENCH_PYSPY=<dir>``: py-spy samples the service ``pid`` and its lanes (200 Hz,
    collapsed stacks into ``<dir>/<name>.txt``) until the caller stops it with SIGINT."""
    folder = os.environ.get("BENCH_PYSPY")
    if not folder or pid is None:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    out = Path(folder) / f"{name}.txt"
    # --subprocesses: the rebuild's lanes are processes of their own (the fork server's)
    command = ["record", "-r", "200", "-f", "raw", "--nonblocking", "--subprocesses"]
    return subprocess.Popen(
        [str(spy), *command, "-p", str(pid), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def raw_rate(bootstrap: str, topic: str, database_url: str, schema: str, n: int) -> float:
    """The floor: read the topic from 0 with aiokafka, parse each record, COPY one history
    row per event (of ``n``) into a table made LIKE the service's history, indexes included."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(
        f"CREATE SCHEMA raw; CREATE TABLE raw.history (LIKE {schema}.history INCLUDING ALL)"
    )
    columns = (
        ["complaint_id", "seq", "event_id", "type", "envelope"]
        if schema == "workflow"
        else ["complaint_id", "seq", "event_id", "occurred_at", "envelope"]
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    seen, seqs = 0, dict[str, int]()
    started = time.perf_counter()
    try:
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            rows = []
            for records in batch.values():
                for r in records:
                    e = orjson.loads(r.value)
                    cid = e["complaint_id"]
                    seqs[cid] = seqs.get(cid, 0) + 1
                    fourth = e["type"] if schema == "workflow" else _ts(e["occurred_at"])
                    rows.append(
                        (
                            uuid.UUID(cid),
                            seqs[cid],
                            uuid.UUID(e["event_id"]),
                            fourth,
                            r.value.decode(),
                        )
                    )
            if rows:
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "history", schema_name="raw", records=rows, columns=columns
                    )
            seen += len(rows)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await conn.close()


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _measure(bench: Bench, service: str, complaints: int, alerts: bool) -> dict[str, Any]:
    events = histories(complaints, alerts=alerts)
    # The builder looks for a requested generation every rebuild_poll_s (1 s by default): a
    # latency knob, not a rate; 0.2 s keeps the wait for it out of the figure.
    poll = {"COMPLAINTS_REBUILD_POLL_S": "0.2"}
    async with bench.system(f"rebuild_{service}", [service], **poll) as system:
        topic = system.topics["events"]
        filled = time.perf_counter()
        await publish(bench.bootstrap, topic, events)
        fill_s = time.perf_counter() - filled
        settling = time.perf_counter()
        total = await settled(bench.bootstrap, topic, system.database_url, service)
        settle_s = time.perf_counter() - settling
        built = await rebuild(system.database_url, service, pid=system.procs[service].pid)
        system.stop(service)
        raw = await raw_rate(bench.bootstrap, topic, system.database_url, service, total)
    rate = built["events"] / built["seconds"]
    return {
        "complaints": complaints,
        "events": built["events"],
        "log_events": total,
        "fill_s": round(fill_s, 1),
        "live_settle_s": round(settle_s, 1),
        "rebuild_s": round(built["seconds"], 2),
        "rebuild_per_s": round(rate),
        "target_per_s": TARGET_PER_S,
        # The service's CPU time over the rebuild: the rate one dedicated core would give.
        "service_cpu_s": round(built["cpu_s"], 1),
        "per_service_cpu_s": round(built["events"] / built["cpu_s"]),
        # PostgreSQL's CPU time over the rebuild (every backend: the live consumers' too).
        "postgres_cpu_s": round(built["postgres_cpu_s"], 1),
        "raw_read_copy_per_s": round(raw),
        "ratio_to_raw": round(rate / raw, 3),
    }


def measure_for(service: str, complaints: int, alerts: bool) -> Callable[[Bench], Any]:
    async def measure(bench: Bench) -> dict[str, Any]:
        return await _measure(bench, service, complaints, alerts)

    return measure


# ~8,300 complaints make ≥100,000 events (the workflow's rules add their own).
measure_workflow = measure_for("workflow", 8_300, alerts=True)
# SLA publishes its own alerts: the log holds what intake and workflow would have written.
measure_sla = measure_for("sla", 8_300, alerts=False)

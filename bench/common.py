"""What every measurement needs: a sandboxed system, payloads, percentiles."""

from __future__ import annotations

import contextlib
import os
import statistics
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from contracts import Channel, Envelope, new_envelope
from contracts.intake import ComplaintReceivedV3, Submission, complaint_id_for, received_event_id
from deploy.local import infra, sandbox
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.settings import Settings

OFFICES = ["Y园", "G小城", "*湾花园", "金域华府", "翠湖山庄", "滨江一号", "锦绣园", "紫荆苑"]
SUBJECTS = ["高空抛物", "楼上漏水", "电梯故障", "垃圾清运", "停车收费", "夜间施工噪音", "宠物扰民"]


def reader_headers() -> dict[str, str]:
    """An analyst's bearer token (the benches run local systems: the development secret), for
    the SLA and reporting reads, which answer no one without a token."""
    staff = Staff(staff_id="bench-reader", role=StaffRole.ANALYST)
    return {"Authorization": f"Bearer {issue_token(Settings(), staff)}"}


def submission_body(n: int, run: str, *, minutes_ago: float = 1.0) -> dict[str, Any]:
    """The ``n``-th hotline submission of a run, as JSON."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "submission_id": f"bench-{run}-{n}",
        "office": OFFICES[n % len(OFFICES)],
        "unit": f"{n % 30 + 1}栋{n % 4 + 1}单元{n % 2000 + 101}",
        "complainant": {"name": "业主", "phone": f"139{n % 10**8:08d}"},
        "subject": SUBJECTS[n % len(SUBJECTS)],
        "description": "楼上经常有杂物坠下，请物业尽快处理并查明责任人",
        "demand": "查明责任人",
        "occurred_at": at.isoformat(),
    }


def received_event(body: dict[str, Any], channel: Channel = Channel.HOTLINE) -> Envelope:
    """The event intake makes of a submission body."""
    submission = Submission.model_validate(body)
    cid = complaint_id_for(channel, submission.submission_id)
    return new_envelope(
        ComplaintReceivedV3.from_submission(channel, submission),
        event_id=received_event_id(cid),
        complaint_id=cid,
        occurred_at=submission.occurred_at,
        recorded_at=datetime.now(UTC),
        source="bench",
    )


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


async def live_caught_up(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, ends: Mapping[int, int]
) -> bool:
    """Whether the live generation of ``schema``'s projections has stored offsets up to
    ``ends`` (partition → offset)."""
    rows = await conn.fetch(
        f"SELECT partition, next_offset FROM {schema}.live_consumer_offsets WHERE consumer LIKE $1",
        f"{schema}.%",
    )
    stored = {r["partition"]: r["next_offset"] for r in rows}
    return all(stored.get(p, 0) >= o for p, o in ends.items())


def summary_ms(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max of seconds, in milliseconds."""
    return {
        "p50_ms": round(percentile(values_s, 50) * 1000, 1),
        "p95_ms": round(percentile(values_s, 95) * 1000, 1),
        "p99_ms": round(percentile(values_s, 99) * 1000, 1),
        "max_ms": round(max(values_s, default=float("nan")) * 1000, 1),
        "mean_ms": round(statistics.fmean(values_s) * 1000, 1) if values_s else float("nan"),
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, every thread) a process has used so far, with that of its
    children that ended and were waited for (PostgreSQL's backends, a fork server's lanes)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """``cpu_seconds`` of a process and of every process descended from it (a service, its
    fork server and the rebuild's lane processes)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
    tree, found = {pid}, True
    while found:
        found = False
        for child, parent in parents.items():
            if parent in tree and child not in tree:
                tree.add(child)
                found = True
    used = 0.0
    for member in tree:
        with contextlib.suppress(OSError):
            used += cpu_seconds(member)
    return used


def named_cpu(name: str) -> dict[int, float]:
    """CPU time so far of every process of this machine whose command is ``name``
    (``postgres``, ``java``), by pid."""
    used = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if text.split(" (", 1)[1].startswith(f"{name})"):
                used[int(stat.parent.name)] = cpu_seconds(int(stat.parent.name))
        except (OSError, IndexError):  # ended meanwhile
            continue
    return used


def postgres_cpu() -> dict[int, float]:
    """CPU time so far of every PostgreSQL process of this machine, by pid."""
    return named_cpu("postgres")


def cpu_since(before: dict[int, float], now: dict[int, float]) -> float:
    """The CPU time processes used between two ``named_cpu`` readings (processes that ended
    in between are not counted: pooled connections live through a measurement)."""
    return sum(used - before.get(pid, 0.0) for pid, used in now.items())


def postgres_cpu_since(before: dict[int, float]) -> float:
    """The CPU time PostgreSQL's processes used since ``before``."""
    return cpu_since(before, postgres_cpu())


class Bench:
    """The real broker and database, and sandboxed systems on them, one per measurement."""

    def __init__(self, logs: Path) -> None:
        self.cfg = infra.InfraConfig.from_env()
        self.run = uuid.uuid4().hex[:6]
        self.logs = logs
        self.bootstrap = f"127.0.0.1:{self.cfg.kafka_port}"

    def ensure_infra(self) -> None:
        """Start Kafka and PostgreSQL if they are not running."""
        infra.ensure_kafka(self.cfg)
        infra.ensure_postgres(self.cfg)

    @asynccontextmanager
    async def system(
        self, phase: str, services: Sequence[str], **env: str
    ) -> AsyncIterator[sandbox.RunningSystem]:
        """A fresh database and topics for ``phase``, with ``services`` running."""
        name = f"complaints_bench_{phase}_{self.run}"
        url = await sandbox.create_database(self.cfg.database_url, name)
        topics = sandbox.topic_names(f"bench.{self.run}.{phase}")
        system = sandbox.RunningSystem(
            env=sandbox.environment(
                bootstrap=self.bootstrap,
                database_url=url,
                topics=topics,
                # BENCH_LOG_LEVEL=INFO: the services' own timings (a builder's phases) in
                # .local/logs/bench/<phase>/<service>.log
                **{"COMPLAINTS_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"), **env},
            ),
            database_url=url,
            topics=topics,
            logs=self.logs / phase,
        )
        try:
            for service in services:
                system.start_as_deployed(service)
            # load comes once every service is ready, as compose starts it: a service that
            # answers /healthz may still be warming up (``Builder.warm``)
            system.wait_ready()
            yield system
        finally:
            system.stop_all()
            await sandbox.delete_topics(self.bootstrap, topics.values())
            await sandbox.drop_database(self.cfg.database_url, name)

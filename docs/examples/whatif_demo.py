"""The README's what-if example, end to end, in a sandbox of its own (own database, own topics,
the services on free ports; everything removed afterwards):

1. the channel simulator sends January and February 2026 through intake (as ``make demo``);
2. each complaint is acknowledged and answered at a realistic time: this script appends the
   ``ComplaintAcknowledged``/``OwnerReplied`` events the workflow would have recorded then
   (the staff API stamps "now", and these complaints are months old); about half are answered
   within a few working hours, a fifth late in the first day, a sixth on the second day,
   the rest later or never;
3. the SLA service starts and judges them (publishing the warnings and breaches they owe);
4. ``complaints what-if sla --policy docs/examples/sla-reply-2-working-days.yaml
   --from 2026-01-01 --to 2026-02-28`` prints what a 2-working-day reply target would have
   changed.

Run from the repository root with the real broker and database up (``make up`` or
``deploy/local/infra``): ``.venv/bin/python docs/examples/whatif_demo.py [--json]``.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from contracts import ComplaintReceived, decode_event, encode_event, new_envelope
from contracts.lifecycle import Actor, ComplaintAcknowledged, OwnerReplied, Role
from deploy.local import infra, sandbox
from services.runtime.kafka import end_offsets, read_to_end
from services.sla.calendar import load_calendar

REPO = Path(__file__).resolve().parents[2]
POLICY = REPO / "docs" / "examples" / "sla-reply-2-working-days.yaml"
DEMO = uuid.UUID("0d1a3c53-7f7e-4d6c-9a0e-5b1f4f0c2a11")  # event ids of the staff's events


def answer_after(rng: random.Random) -> float | None:
    """Working hours from receipt to the reply (8 working hours = 1 working day)."""
    draw = rng.random()
    if draw < 0.50:
        return rng.uniform(0.5, 5.0)
    if draw < 0.70:
        return rng.uniform(5.0, 8.0)  # within the day, some after the 80% warning
    if draw < 0.87:
        return rng.uniform(8.0, 16.0)  # the second working day
    if draw < 0.97:
        return rng.uniform(16.0, 23.0)  # the third
    return None  # never answered


async def staff_events(bootstrap: str, topic: str) -> int:
    """Append an acknowledgement and (mostly) a reply for every complaint received."""
    calendar = load_calendar()
    agent = Actor(staff_id="demo-agent", role=Role.CS_AGENT)
    now = datetime.now(UTC)
    envelopes = []
    async for batch in read_to_end(bootstrap, topic):
        for record in batch:
            envelope, data = decode_event(record.value or b"")
            if not isinstance(data, ComplaintReceived):
                continue
            cid = envelope.complaint_id
            rng = random.Random(str(cid))
            received = data.occurred_at
            steps: list[tuple[str, object, datetime]] = [
                (
                    "ack",
                    ComplaintAcknowledged(actor=agent),
                    received + timedelta(minutes=rng.uniform(2, 25)),
                )
            ]
            hours = answer_after(rng)
            if hours is not None:
                at = calendar.add_working_time(data.office, received, timedelta(hours=hours))
                steps.append(("reply", OwnerReplied(actor=agent, message="已答复业主"), at))
            for name, body, at in steps:
                envelopes.append(
                    new_envelope(
                        body,  # type: ignore[arg-type]
                        event_id=uuid.uuid5(DEMO, f"{cid}:{name}"),
                        complaint_id=cid,
                        occurred_at=at,
                        recorded_at=now,
                        source="workflow",
                        correlation_id=cid,
                    )
                )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, encode_event(e), key=str(e.complaint_id).encode())
            for e in envelopes
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    return len(envelopes)


async def sla_caught_up(database_url: str, bootstrap: str, topic: str) -> None:
    """Until the SLA projection has applied the whole log and published what it owed."""
    ends = {p: o for p, o in (await end_offsets(bootstrap, topic)).items() if o}
    for _ in range(600):
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT partition, next_offset FROM sla.live_consumer_offsets WHERE topic = $1",
                topic,
            )
            unpublished = await conn.fetchval(
                "SELECT count(*) FROM sla.outbox WHERE published_at IS NULL"
            )
            due = await conn.fetchval(
                "SELECT count(*) FROM sla.complaints WHERE next_check_at <= now()"
            )
        except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
            rows, unpublished, due = [], 1, 1
        finally:
            await conn.close()
        stored = {r["partition"]: r["next_offset"] for r in rows}
        if all(stored.get(p, 0) >= o for p, o in ends.items()) and not unpublished and not due:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError("the SLA service did not catch up")


def main(argv: list[str]) -> int:
    cfg = infra.InfraConfig.from_env()
    bootstrap = f"127.0.0.1:{cfg.kafka_port}"
    run = uuid.uuid4().hex[:6]
    name = f"complaints_whatif_demo_{run}"
    topics = sandbox.topic_names(f"whatif-demo.{run}")
    database_url = asyncio.run(sandbox.create_database(cfg.database_url, name))
    env = sandbox.environment(bootstrap=bootstrap, database_url=database_url, topics=topics)
    system = sandbox.RunningSystem(
        env=env,
        database_url=database_url,
        topics=topics,
        logs=cfg.home / "logs" / f"whatif-demo-{run}",
    )
    try:
        for service in ("intake", "workflow", "reporting"):
            system.start(service)
        for month in ("2026-01", "2026-02"):
            subprocess.run(
                [sys.executable, "-m", "services.simulator", "--month", month, "--seed", "13"],
                env=env,
                cwd=REPO,
                check=True,
                capture_output=True,
            )
        added = asyncio.run(staff_events(bootstrap, topics["events"]))
        print(f"# {added} staff events appended", file=sys.stderr)
        system.start("sla")  # judges the whole history at once: what it publishes is final
        asyncio.run(sla_caught_up(database_url, bootstrap, topics["events"]))
        what_if = subprocess.run(
            [
                sys.executable,
                "-c",
                "from services.cli import app; app()",
                "what-if",
                "sla",
                "--policy",
                str(POLICY.relative_to(REPO)),
                "--from",
                "2026-01-01",
                "--to",
                "2026-02-28",
                *argv,
            ],
            env={**env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        sys.stdout.write(what_if.stdout)
        sys.stderr.write(what_if.stderr)
        return what_if.returncode
    finally:
        system.stop_all()
        asyncio.run(sandbox.drop_database(cfg.database_url, name))
        asyncio.run(sandbox.delete_topics(bootstrap, topics.values()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

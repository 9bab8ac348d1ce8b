"""Exactly-once effects through a live rebuild: a log holding duplicated events (the same
event id published again, as an outbox relay does after a crash between publishing and marking
the row published; a second receipt of a complaint) gives the figures of the log without them.

The builder loads a new generation in bulk, without claiming event ids one batch at a time,
and removes what the duplicates wrote once the load is done (``services.reporting.store``):
so the copies are put both next to the originals (one batch) and far after them (other
batches of a builder reading 50 records at a time), and every figure a double apply would
change is compared with a recount from the log.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from contracts import Envelope, new_envelope
from contracts.lifecycle import Actor, ComplaintAcknowledged, Role
from contracts.sla import AlertKind, SlaBreached
from deploy.local import stack
from tests.conftest import RunningSystem, free_port
from tests.e2e.helpers import READER, read_events
from tests.e2e.test_live_rebuild import caught_up, complaints, registry
from tests.e2e.test_reporting_dashboard import sla_envelope
from tests.faults.burst import complaint_event, publish, run_id

pytestmark = pytest.mark.infra

AGENT = Actor(staff_id="D001", role=Role.CS_AGENT)
COMPLAINTS = 120


def acknowledged(received: Envelope) -> Envelope:
    now = datetime.now(UTC)
    return new_envelope(
        ComplaintAcknowledged(actor=AGENT),
        event_id=uuid.uuid4(),
        complaint_id=received.complaint_id,
        occurred_at=now,
        recorded_at=now,
        source="tests/duplicates",
    )


def breached(received: Envelope) -> Envelope:
    deadline = datetime.now(UTC).replace(microsecond=0)
    return sla_envelope(
        str(received.complaint_id),
        SlaBreached(timer="first_response", deadline=deadline, hard=False),
        AlertKind.BREACHED,
    )


async def figures(http: httpx.AsyncClient, system: RunningSystem, office: str, as_of: str) -> Any:
    """What reporting answers for the office, and its rows a double apply would change."""
    base = system.urls["reporting"]
    stats = (await http.get(f"{base}/v1/stats", headers=READER)).json()
    report = await http.get(
        f"{base}/v1/reports/monthly", params={"office": office, "as_of": as_of}, headers=READER
    )
    assert report.status_code == 200, report.text
    conn = await asyncpg.connect(system.database_url)
    try:
        rows = await conn.fetchrow(
            """SELECT
                 (SELECT coalesce(sum(received), 0) FROM reporting.daily_intake
                  WHERE office = $1) AS intake,
                 (SELECT count(*) FROM reporting.complaints WHERE office = $1) AS complaints,
                 (SELECT count(*) FROM reporting.events e
                  JOIN reporting.complaints c USING (complaint_id) WHERE c.office = $1) AS facts,
                 (SELECT count(*) FROM reporting.timer_events t
                  JOIN reporting.complaints c USING (complaint_id) WHERE c.office = $1) AS timers,
                 (SELECT count(*) FROM reporting.live_processed_events p
                  JOIN reporting.events e USING (event_id)
                  JOIN reporting.complaints c USING (complaint_id) WHERE c.office = $1)
                 AS processed""",
            office,
        )
    finally:
        await conn.close()
    return {
        "by_office": stats["by_office"].get(office),
        "report": {k: v for k, v in report.json().items() if k != "generated_at"},
        **dict(rows),
    }


async def test_a_live_rebuild_of_a_log_with_duplicates_gives_the_figures_without_them(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    run = run_id()
    office = f"重复园{run}"
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    received = [complaint_event(office, n, run=run) for n in range(COMPLAINTS)]
    acks = [acknowledged(e) for e in received[::2]]
    breaches = [breached(e) for e in received[::5]]
    # Another receipt of an already received complaint, under another event id.
    again = [r.model_copy(update={"event_id": uuid.uuid4()}) for r in received[:3]]
    originals = received + acks + breaches
    # Copies next to the originals (the builder reads them in the same batch) ...
    near = [e for pair in zip(received[:10], received[:10], strict=True) for e in pair]
    await publish(bootstrap, topic, near + originals[10:] + acks[:5] + again)
    # ... and far after them: many builder batches later (other complaints, other owners).
    filler = [complaint_event(f"填充园{run}", 100_000 + n, run=run) for n in range(600)]
    await publish(bootstrap, topic, filler)
    await publish(bootstrap, topic, received[::7] + acks[::3] + breaches[::2] + again[:1])
    # The services answer some of these events with events of their own (an escalation after
    # a breach): wait until the log holds no more of them, and reporting has applied it all.
    live: Any = None
    while True:
        await asyncio.sleep(2.0)
        await caught_up(system, "reporting")
        as_of = datetime.now(UTC).isoformat()
        seen, live = live, await figures(http, system, office, as_of)
        if seen is not None and seen["facts"] == live["facts"]:
            break
    before = await registry(system, "reporting")
    # The builder is a copy reading small batches: the session's copy steps aside meanwhile.
    system.stop("reporting")
    port = free_port()
    builder: subprocess.Popen[bytes] = stack.start_service(
        "reporting",
        env={
            **system.env,
            "COMPLAINTS_REBUILD_BATCH": "50",
            "COMPLAINTS_REPORTING_PORT": str(port),
        },
        log_path=system.logs / "reporting-small-batches.log",
    )
    try:
        stack.wait_healthy({"reporting": port}, timeout=60, logs=system.logs)
        result = await complaints(system.env, "rebuild", "reporting")
    finally:
        builder.terminate()
        builder.wait(timeout=20)
        system.start("reporting")
    assert result.returncode == 0, result.stdout + result.stderr
    assert max(r["gen"] for r in await registry(system, "reporting")) > max(
        r["gen"] for r in before
    )
    await caught_up(system, "reporting")
    rebuilt = await figures(http, system, office, as_of)

    # The rebuilt generation answers what the live one (which claimed every event id) did ...
    assert rebuilt == live
    # ... and both are the log without its duplicates: each complaint counted once, one fact
    # per distinct event (the services' own answers to these events included, such as an
    # escalation after a breach; a second receipt adds none), two timers started per
    # complaint, per acknowledgement one stopped (first response) and one started (the
    # assignment's clock, SLA policy), one breach each.
    mine = {str(e.complaint_id) for e in received}
    distinct = {
        e["event_id"] for e in await read_events(bootstrap, topic) if e["complaint_id"] in mine
    } - {str(e.event_id) for e in again}
    assert {str(e.event_id) for e in originals} <= distinct
    assert rebuilt["by_office"] == rebuilt["intake"] == rebuilt["complaints"] == COMPLAINTS
    assert rebuilt["facts"] == rebuilt["processed"] == len(distinct)
    assert rebuilt["timers"] == 2 * COMPLAINTS + 2 * len(acks) + len(breaches)
    assert rebuilt["report"]["received"] == COMPLAINTS

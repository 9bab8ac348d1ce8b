"""What an operator sees of the running system: readiness, lag (command and metrics), two
copies of reporting sharing the partitions, JSON logs, and replaying a dead letter after a fix."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import Channel, complaint_id_for, received_event_id
from deploy.local import stack
from tests.conftest import RunningSystem, free_port
from tests.e2e.helpers import HOTLINE, READER, eventually, submission, wait_caught_up

pytestmark = pytest.mark.infra

COMPLAINTS = str(Path(sys.executable).parent / "complaints")
GROUPS = ("workflow.state.v1", "sla.clocks.v2", "reporting.complaints.v1")
# How long a rebalance (a copy joining or leaving) may take on a loaded machine.
REBALANCE_S = 90.0


async def complaints(system: RunningSystem, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the operator's command against this session's system."""
    return await asyncio.to_thread(
        subprocess.run,
        [COMPLAINTS, *args],
        env=system.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def metrics(http: httpx.AsyncClient, url: str) -> dict[tuple[str, frozenset[Any]], float]:
    """Every sample of a service's /metrics: (name, labels) → value."""
    text = (await http.get(f"{url}/metrics")).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[Any]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), float("nan"))


async def submitted(http: httpx.AsyncClient, system: RunningSystem) -> str:
    resp = await http.post(
        f"{system.urls['intake']}/v1/complaints", json=submission(), headers=HOTLINE
    )
    assert resp.status_code == 202, resp.text
    return str(resp.json()["complaint_id"])


async def caught_up(system: RunningSystem, *schemas: str) -> None:
    for schema in schemas:
        await wait_caught_up(
            system.database_url,
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
            system.topics["events"],
            schema,
            timeout=REBALANCE_S,
        )


def current_process_lines(path: Path) -> list[str]:
    """The complete lines the running process wrote to its log.

    Other tests kill services with SIGKILL and start them again on the same file: a line cut
    short by the kill runs into the next process's first line. Only the current process's
    lines say what it writes.
    """
    text = path.read_text(encoding="utf-8")
    started = text.rfind('"msg": "Started server process')
    begin = text.rfind('{"ts"', 0, started) if started >= 0 else 0
    return text[max(begin, 0) : text.rfind("\n") + 1].splitlines()


async def test_readiness_names_its_checks_and_every_log_line_is_json(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    await asyncio.to_thread(system.wait_ready)  # the copies' warm-up may still run
    for name in ("workflow", "sla", "reporting"):
        ready = (await http.get(f"{system.urls[name]}/readyz")).json()
        assert ready["checks"] == {
            "migrations": True,
            "database": True,
            "kafka": True,
            "consumers": True,
            "warm": True,
        }, name
    intake = (await http.get(f"{system.urls['intake']}/readyz")).json()["checks"]
    assert intake["kafka"] is True and all(intake.values())
    await submitted(http, system)
    for name in stack.SERVICES:
        lines = current_process_lines(system.logs / f"{name}.log")
        records = [json.loads(line) for line in lines if line.strip()]
        assert records, name
        assert all(r["service"] == name and "ts" in r and "level" in r for r in records), name

    async def request_logged() -> bool:  # written once the answer has gone out
        text = (system.logs / "intake.log").read_text(encoding="utf-8")
        return '"logger": "complaints.http"' in text  # one info line per request

    await eventually(request_logged, timeout=10)


async def test_lag_is_shown_by_the_command_and_by_every_consuming_service(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    await submitted(http, system)
    await caught_up(system, "workflow", "sla", "reporting")

    partitions = int(system.env.get("COMPLAINTS_EVENTS_PARTITIONS", "6"))

    async def lag_rows() -> list[dict[str, Any]] | None:
        result = await complaints(system, "lag", "--json")
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        # a rebalance (a copy joining or leaving) leaves partitions without an owner a while
        settled = all(r["lag"] == 0 and r["owner"] not in (None, "(rebalancing)") for r in rows)
        return rows if settled else None

    rows = await eventually(lag_rows, timeout=REBALANCE_S, interval=1.0)
    assert set(GROUPS) <= {r["consumer"] for r in rows}
    for group in GROUPS:
        mine = [r for r in rows if r["consumer"] == group]
        assert sorted(r["partition"] for r in mine) == list(range(partitions))
        assert all(r["topic"] == system.topics["events"] for r in mine)
        assert sum(r["end"] for r in mine) > 0 and sum(r["applied"] for r in mine) > 0

    table = await complaints(system, "lag", "reporting")
    assert table.returncode == 0, table.stderr
    assert "reporting.complaints.v1" in table.stdout and "workflow" not in table.stdout
    assert "100.0% applied" in table.stdout

    for service, group in zip(("workflow", "sla", "reporting"), GROUPS, strict=True):

        async def settled(
            url: str = system.urls[service], group: str = group, service: str = service
        ) -> bool:
            s = await metrics(http, url)
            lags = [
                value(
                    s,
                    "complaints_consumer_lag",
                    consumer=group,
                    topic=system.topics["events"],
                    partition=str(p),
                )
                for p in range(partitions)
            ]
            return (
                all(lag == 0 for lag in lags)
                and value(s, "complaints_consumer_progress_ratio", consumer=group) == 1
                and value(s, "complaints_projection_rebuilding", service=service) == 0
                and value(s, "complaints_dead_letters_recorded", consumer=group) >= 0
            )

        await eventually(settled, timeout=REBALANCE_S)

    async def timers_running() -> bool:
        sla = await metrics(http, system.urls["sla"])
        return (
            value(sla, "complaints_sla_timers_open", state="running") >= 1
            and value(sla, "complaints_sla_checks_due") >= 0
            and value(sla, "complaints_sla_timers_overdue") >= 0
        )

    await eventually(timers_running, timeout=REBALANCE_S)
    workflow = await metrics(http, system.urls["workflow"])
    assert value(workflow, "complaints_outbox_backlog", schema="workflow") >= 0


async def test_two_copies_of_reporting_share_the_partitions(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    port = free_port()
    env = {**system.env, "COMPLAINTS_REPORTING_PORT": str(port)}
    second = stack.start_service("reporting", env=env, log_path=system.logs / "reporting-2.log")
    urls = [system.urls["reporting"], f"http://127.0.0.1:{port}"]
    group = "reporting.complaints.v1"
    try:
        stack.wait_healthy({"reporting-2": port}, timeout=60, logs=system.logs)

        async def shared() -> list[float] | None:
            assigned = [
                value(
                    await metrics(http, u),
                    "complaints_consumer_assigned_partitions",
                    consumer=group,
                )
                for u in urls
            ]
            return assigned if all(a > 0 for a in assigned) and sum(assigned) == 6 else None

        await eventually(shared, timeout=REBALANCE_S, interval=1.0)
        complaint_id = await submitted(http, system)

        async def readable_from_both() -> bool:
            answers = [
                await http.get(f"{u}/v1/complaints/{complaint_id}", headers=READER) for u in urls
            ]
            return all(a.status_code == 200 for a in answers)

        await eventually(readable_from_both, timeout=REBALANCE_S)

        async def two_copies_shown() -> bool:
            result = await complaints(system, "lag", "reporting")
            assert result.returncode == 0, result.stderr
            return "2 copies running" in result.stdout

        await eventually(two_copies_shown, timeout=REBALANCE_S, interval=1.0)
    finally:
        second.terminate()
        second.wait(timeout=30)

    async def alone_again() -> bool:
        s = await metrics(http, urls[0])
        return value(s, "complaints_consumer_assigned_partitions", consumer=group) == 6

    await eventually(alone_again, timeout=REBALANCE_S, interval=1.0)


async def test_a_dead_letter_is_replayed_after_the_fix_and_applied_once(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = submission()
    complaint_id = complaint_id_for(Channel.HOTLINE, body["submission_id"])
    event_id = received_event_id(complaint_id)
    # The "bug": reporting's projection cannot record this one complaint (its apply raises).
    conn = await asyncpg.connect(system.database_url)
    trigger = f"ops_refuse_{uuid.uuid4().hex[:8]}"
    # The live generation's table (reporting.complaints is the stable view over it).
    live = await conn.fetchval(
        "SELECT 'reporting_g' || gen FROM reporting.generations WHERE state = 'live'"
    )
    try:
        await conn.execute(
            f"""CREATE FUNCTION reporting.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.complaint_id = '{complaint_id}' THEN
                    RAISE EXCEPTION 'ops test: refused';
                  END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER {trigger} BEFORE INSERT ON {live}.complaints
                  FOR EACH ROW EXECUTE FUNCTION reporting.{trigger}();"""
        )
        resp = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=HOTLINE)
        assert resp.status_code == 202, resp.text

        async def dead_lettered() -> dict[str, Any] | None:
            result = await complaints(system, "deadletters", "list", "--json")
            assert result.returncode == 0, result.stderr
            rows = [json.loads(line) for line in result.stdout.splitlines()]
            return next((r for r in rows if r["event_id"] == str(event_id)), None)

        letter = await eventually(dead_lettered, timeout=REBALANCE_S, interval=1.0)
        assert letter["consumer"] == "reporting.complaints.v1"
        assert letter["status"] == "pending" and "ops test: refused" in letter["error"]
        assert letter["topic"] == system.topics["events"]
        await caught_up(system, "workflow", "sla")
    finally:
        # The "fix".
        await conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {live}.complaints")
        await conn.execute(f"DROP FUNCTION IF EXISTS reporting.{trigger}() CASCADE")
        await conn.close()

    assert (
        await http.get(f"{system.urls['reporting']}/v1/complaints/{complaint_id}", headers=READER)
    ).status_code == 404
    offset = str(letter["dlq_offset"])
    dry = await complaints(system, "deadletters", "replay", "--offset", offset, "--dry-run")
    assert dry.returncode == 0 and "would replay" in dry.stdout, dry.stderr
    replay = await complaints(system, "deadletters", "replay", "--offset", offset)
    assert replay.returncode == 0, replay.stderr
    assert "replayed 1 record" in replay.stdout

    async def applied() -> bool:
        resp = await http.get(
            f"{system.urls['reporting']}/v1/complaints/{complaint_id}", headers=READER
        )
        return resp.status_code == 200

    await eventually(applied, timeout=REBALANCE_S)
    await caught_up(system, "workflow", "sla", "reporting")
    status = await dead_lettered()
    assert status is not None and status["status"] == "applied"
    again = await complaints(system, "deadletters", "replay", "--offset", offset)
    assert "nothing to replay" in again.stdout
    # Workflow and SLA had applied it the first time: the replayed copy changed nothing there.
    conn = await asyncpg.connect(system.database_url)
    try:
        for schema in ("workflow", "sla", "reporting"):
            count = await conn.fetchval(
                f"SELECT count(*) FROM {schema}.live_processed_events WHERE event_id = $1",
                event_id,
            )
            assert count == 1, schema
    finally:
        await conn.close()

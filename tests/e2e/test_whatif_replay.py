"""Issue 13, point 4 end to end: `complaints what-if sla` and `POST /v1/sla/what-if` on a running
system. Complaints whose reply deadline passed under the live policy (1 working day) are
replayed under a laxer one (2 working days): the counts per office and timer kind and the
complaint that changes sides are as computed by hand; no live SLA table changed, nothing was
published, and the scratch schema is gone afterwards."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.kafka import end_offsets
from services.runtime.settings import Settings
from services.sla.calendar import load_calendar
from tests.conftest import RUN, RunningSystem
from tests.e2e.helpers import CHINA, HOTLINE, eventually, read_events, submission

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]
COMPLAINTS = str(Path(sys.executable).parent / "complaints")
LAX = REPO / "docs" / "examples" / "sla-reply-2-working-days.yaml"
# An office of this test alone (the default calendar: statutory days, 08:30-12:00 and
# 13:30-18:00), so its rows count nothing but this test's complaints.
OFFICE = f"推演{RUN}园"


def bearer(role: StaffRole, office: str | None = None) -> dict[str, str]:
    staff = Staff(staff_id=f"{role.value}-whatif", role=role, office=office)
    return {"Authorization": f"Bearer {issue_token(Settings(), staff)}"}


AGENT = bearer(StaffRole.CS_AGENT, OFFICE)


def working_hours_ago(hours: float) -> datetime:
    """The instant ``hours`` of the office's working time before now (binary search)."""
    calendar, now = load_calendar(), datetime.now(UTC)
    target = timedelta(hours=hours)
    lo, hi = now - timedelta(days=60), now
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if calendar.working_time_between(OFFICE, mid, now) > target:
            lo = mid
        else:
            hi = mid
    return hi


async def submit(http: httpx.AsyncClient, system: RunningSystem, at: datetime) -> str:
    body = submission(
        office=OFFICE,
        unit=f"{uuid.uuid4().int % 90 + 10}栋{uuid.uuid4().int % 9000 + 1000}",
        complainant={"name": "推演", "phone": f"139{uuid.uuid4().int % 10**8:08d}"},
        occurred_at=at.astimezone(CHINA).isoformat(timespec="seconds"),
    )
    resp = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=HOTLINE)
    assert resp.status_code == 202, resp.text
    cid = str(resp.json()["complaint_id"])

    async def known() -> bool:
        got = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=AGENT)
        return got.status_code == 200

    await eventually(known)
    return cid


async def staff(http: httpx.AsyncClient, system: RunningSystem, cid: str, command: str) -> None:
    body = {"message": "已答复业主"} if command == "reply" else {}
    resp = await http.post(
        f"{system.urls['workflow']}/v1/complaints/{cid}/{command}", json=body, headers=AGENT
    )
    assert resp.status_code == 200, (command, resp.text)


async def sla_events(system: RunningSystem) -> list[dict[str, Any]]:
    events = await read_events(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"])
    return [e for e in events if e["type"] in ("SlaWarning", "SlaBreached")]


async def snapshot(system: RunningSystem) -> dict[str, Any]:
    """Every table of the SLA service (its schema and its generations) as a digest, the SLA
    events of the log, the dead-letter topic's end offsets, and any what-if scratch schema."""
    conn = await asyncpg.connect(system.database_url)
    try:
        tables = await conn.fetch(
            r"""SELECT schemaname, tablename FROM pg_tables
                WHERE schemaname = 'sla' OR schemaname LIKE 'sla\_g%'
                ORDER BY 1, 2"""
        )
        digests = {
            f"{t['schemaname']}.{t['tablename']}": await conn.fetchval(
                f"""SELECT count(*) || ':' || md5(coalesce(string_agg(x::text, '|'
                        ORDER BY x::text), ''))
                    FROM {t["schemaname"]}.{t["tablename"]} x"""
            )
            for t in tables
        }
        scratch = await conn.fetch(
            r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'sla\_whatif\_%'"
        )
    finally:
        await conn.close()
    bootstrap = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"]
    return {
        "tables": digests,
        "sla_events": sorted(e["event_id"] for e in await sla_events(system)),
        "deadletter_ends": await end_offsets(bootstrap, system.topics["deadletter"]),
        "scratch": [r["nspname"] for r in scratch],
    }


async def abandon_a_scratch_schema(system: RunningSystem) -> None:
    conn = await asyncpg.connect(system.database_url)
    try:
        await conn.execute(
            "CREATE SCHEMA sla_whatif_abandoned0; CREATE TABLE sla_whatif_abandoned0.t ()"
        )
    finally:
        await conn.close()


async def what_if_cli(system: RunningSystem, *args: str) -> subprocess.CompletedProcess[str]:
    # This checkout's code, whichever checkout the virtualenv was installed from.
    env = {**system.env, "PYTHONPATH": str(REPO)}
    return await asyncio.to_thread(
        subprocess.run,
        [COMPLAINTS, "what-if", "sla", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def my_rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["timer"]: r for r in report["rows"] if r["office"] == OFFICE}


async def test_what_if_replays_under_a_laxer_policy_without_touching_anything_live(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    # Working time since receipt, at the office: 1 working day = 8 hours.
    late = await submit(http, system, working_hours_ago(12))  # replied after 1.5 working days
    never = await submit(http, system, working_hours_ago(20))  # 2.5 working days, no reply
    timely = await submit(http, system, working_hours_ago(4))  # replied after half a day
    for cid in (late, timely):
        await staff(http, system, cid, "acknowledge")
        await staff(http, system, cid, "reply")
    await staff(http, system, never, "acknowledge")
    mine = {late, never, timely}

    # The live SLA service judged them: first response breached for all (acknowledged hours
    # later), the reply breached for `late` and `never` (8 working hours passed unanswered).
    async def live_breaches() -> set[tuple[str, str]] | None:
        found = {
            (e["complaint_id"], e["data"]["timer"])
            for e in await sla_events(system)
            if e["type"] == "SlaBreached" and e["complaint_id"] in mine
        }
        expected = {(c, "first_response") for c in mine} | {(late, "reply"), (never, "reply")}
        return found if found >= expected else None

    assert await eventually(live_breaches, timeout=30, interval=0.5) == {
        *((c, "first_response") for c in mine),
        (late, "reply"),
        (never, "reply"),
    }

    first_day = min(working_hours_ago(20), datetime.now(UTC) - timedelta(days=1))
    period = [
        "--from",
        first_day.astimezone(CHINA).date().isoformat(),
        "--to",
        datetime.now(CHINA).date().isoformat(),
    ]
    # The live service stands still meanwhile, so any change would be the what-if's.
    system.stop("sla")
    try:
        before = await snapshot(system)
        assert before["tables"] and before["scratch"] == []
        await abandon_a_scratch_schema(system)  # as a what-if killed half-way leaves one
        done = await what_if_cli(system, "--policy", str(LAX), *period, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        text = await what_if_cli(system, "--policy", str(LAX), *period)
        assert text.returncode == 0, text.stdout + text.stderr
        after = await snapshot(system)
    finally:
        system.start("sla")

    assert after["tables"] == before["tables"]  # no live SLA table changed
    assert after["sla_events"] == before["sla_events"]  # no SlaWarning/SlaBreached published
    assert after["deadletter_ends"] == before["deadletter_ends"]  # nor dead-lettered
    assert after["scratch"] == []  # the scratch schemas are gone, and the abandoned one

    report = json.loads(done.stdout)
    rows = my_rows(report)
    assert set(rows) == {"first_response", "reply"}
    # First response: 30 minutes under both policies, breached by all three either way.
    assert rows["first_response"]["breaches"] == {"was": 3, "would_be": 3}
    assert rows["first_response"]["warnings"] == {"was": 3, "would_be": 3}
    assert rows["first_response"]["no_longer_breached"] == []
    assert rows["first_response"]["newly_breached"] == []
    # Reply: 1 working day → 2. `late` (answered at 1.5 days) no longer breaches and is not
    # even warned (80% of 2 days = 1.6); `never` (2.5 days) breaches both ways; `timely` neither.
    assert rows["reply"]["warnings"] == {"was": 2, "would_be": 1}
    assert rows["reply"]["breaches"] == {"was": 2, "would_be": 1}
    assert rows["reply"]["hard_breaches"] == {"was": 0, "would_be": 0}  # 3 days: not yet
    assert rows["reply"]["no_longer_breached"] == [late]
    assert rows["reply"]["newly_breached"] == []
    # "As they were" agrees with what the live service really published for these complaints.
    assert [d for d in report["published"]["disagreements"] if d["complaint_id"] in mine] == []
    assert report["rules"]["would_be"].startswith(f"docs/examples/{LAX.name} + ")
    # The text says the same, with the complaint that changed sides.
    assert any(
        OFFICE in line and "reply" in line and "2 → 1" in line and "1 no longer breached" in line
        for line in text.stdout.splitlines()
    ), text.stdout
    assert any(late in line and "no longer breached" in line for line in text.stdout.splitlines())

    # The same over HTTP, for the company role; the policy travels as YAML text.
    url = f"{system.urls['sla']}/v1/sla/what-if"
    body = {
        "from": period[1],
        "to": period[3],
        "policy_yaml": LAX.read_text(encoding="utf-8"),
    }
    resp = await http.post(url, json=body, headers=bearer(StaffRole.COMPANY), timeout=300)
    assert resp.status_code == 200, resp.text
    assert {k: v for k, v in my_rows(resp.json()).items()} == rows
    assert (await snapshot(system))["scratch"] == []


async def test_what_if_over_http_is_for_company_and_analyst_and_names_bad_input(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    url = f"{system.urls['sla']}/v1/sla/what-if"
    good = {"from": "2026-01-01", "to": "2026-02-28", "policy_yaml": LAX.read_text("utf-8")}
    assert (await http.post(url, json=good)).status_code == 401
    for role, office in ((StaffRole.CS_AGENT, "Y园"), (StaffRole.PROJECT_MANAGER, "Y园")):
        resp = await http.post(url, json=good, headers=bearer(role, office))
        assert resp.status_code == 403, resp.text
        assert resp.json()["detail"].startswith("role:")
    # The analyst passes the door: its bad period is judged (422), not its role (403).
    analyst = bearer(StaffRole.ANALYST)
    backwards = {**good, "from": "2026-03-01"}
    resp = await http.post(url, json=backwards, headers=analyst)
    assert resp.status_code == 422, resp.text
    assert resp.json()["errors"][0]["field"] == "from"
    company = bearer(StaffRole.COMPANY)
    for text, reason in (
        ("timers: [unclosed", "not valid YAML"),
        (good["policy_yaml"].replace("target: 2 working days", "target: soon"), "span of time"),
    ):
        resp = await http.post(url, json={**good, "policy_yaml": text}, headers=company)
        assert resp.status_code == 422, resp.text
        (error,) = resp.json()["errors"]
        assert error["field"] == "policy_yaml" and reason in error["reason"], error
    resp = await http.post(url, json={"from": "2026-01-01", "to": "2026-01-31"}, headers=company)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "policy_yaml"
    bad_calendar = {**good, "calendar_yaml": "default: {hours: ['18:00-08:00']}"}
    resp = await http.post(url, json=bad_calendar, headers=company)
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "calendar_yaml"

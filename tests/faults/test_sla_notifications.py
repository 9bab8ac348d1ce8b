"""Issue 17 point 4: alerts delivered to group robots exactly once per alert × target across a
SIGTERM restart of the SLA service; at least once (the same delivery id again) across a
SIGKILL in the middle of a POST; retried on 500s; dead after ``max_attempts``; a dead one sent
once more by ``complaints notifications retry``.

A system of its own (intake, workflow, SLA) and a local HTTP receiver in the test process
standing in for the robots: every request it gets is recorded (path, delivery id header,
signature, body, what it answered), so the counts are of raw requests, not of ids.

Robots (``notifications.yaml`` written here):
- ``head`` (WeCom shape, role cs_head): answers 200 — or holds requests unanswered (phase 2),
- ``pm`` (DingTalk shape and signature, role project_manager): answers 500 to the first two
  requests of each delivery id, then 200 (max_attempts is 3: the third attempt delivers),
- ``quality`` (WeCom, role company): always 500 until told otherwise, so its deliveries die.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from contracts.lifecycle import Role
from services.runtime.auth import Staff, issue_token
from services.runtime.settings import Settings
from tests.conftest import RUN, Infra, RunningSystem, free_port
from tests.e2e.helpers import (
    READER,
    SUPERVISION,
    complaints,
    eventually,
    minutes_ago,
    own_system,
    read_events,
    wait_caught_up,
)
from tests.e2e.test_workflow_lifecycle import bearer, received, unique_phone

pytestmark = pytest.mark.infra

OFFICE = "Y园"
SECRETS = {
    "ROBOT_SECRET_HEAD": "head-" + uuid.uuid4().hex,
    "ROBOT_SECRET_PM": "SEC" + uuid.uuid4().hex,
    "ROBOT_SECRET_QUALITY": "q-" + uuid.uuid4().hex,
}
TARGET_SECRET = {
    "head": "ROBOT_SECRET_HEAD",
    "pm": "ROBOT_SECRET_PM",
    "quality": "ROBOT_SECRET_QUALITY",
}
# Who gets what, as the file below says (written out again here, not read from the code).
EXPECTED_TARGETS = {
    "SlaWarning": {"head"},
    "SlaBreached": {"head", "pm"},
    "ComplaintEscalated": {"head", "quality"},
    "MajorComplaintFlagged": {"pm", "quality"},
}
MAX_ATTEMPTS = 3
COMPANY = bearer(Role.COMPANY, office=None)


@dataclass
class Hit:
    target: str
    delivery: str
    signature: str
    query: dict[str, str]
    body: bytes
    answered: int | None = None  # None: never answered (held when the sender died)


@dataclass
class Receiver:
    """The robots: records every request, answers per target mode."""

    port: int
    hits: list[Hit] = field(default_factory=list)
    modes: dict[str, str] = field(
        default_factory=lambda: {"head": "ok", "pm": "flaky", "quality": "fail"}
    )
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, target: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{target}{query}"

    async def handle(self, request: web.Request) -> web.Response:
        target = request.match_info["target"]
        hit = Hit(
            target=target,
            delivery=request.headers.get("X-Complaints-Delivery", ""),
            signature=request.headers.get("X-Complaints-Signature", ""),
            query=dict(request.query),
            body=await request.read(),
        )
        self.hits.append(hit)
        mode = self.modes[target]
        if mode == "hold":
            await self.release.wait()
            return web.json_response({"errcode": 0}, status=200)  # to nobody: the sender died
        failed_before = sum(
            1 for h in self.hits if h.delivery == hit.delivery and h.answered == 500
        )
        ok = mode == "ok" or (mode == "flaky" and failed_before >= 2)
        hit.answered = 200 if ok else 500
        if ok:
            return web.json_response({"errcode": 0, "errmsg": "ok"})
        return web.Response(status=500, text="robot down")

    def of(self, target: str, deliveries: set[str] | None = None) -> list[Hit]:
        return [
            h
            for h in self.hits
            if h.target == target and (deliveries is None or h.delivery in deliveries)
        ]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver(port=free_port())
    app = web.Application()
    app.router.add_post("/{target}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", rec.port)
    await site.start()
    try:
        yield rec
    finally:
        rec.release.set()
        await runner.cleanup()


def notifications_file(folder: Path, rec: Receiver) -> Path:
    path = folder / "notifications.yaml"
    path.write_text(
        f"""
delivery: {{max_attempts: {MAX_ATTEMPTS}, backoff_base_s: 0.2, backoff_max_s: 1, timeout_s: 20}}
rules:
  - {{alert: warning, roles: [cs_head]}}
  - {{alert: breach, roles: [cs_head, project_manager]}}
  - {{alert: escalation, roles: [cs_head, company]}}
  - {{alert: major, roles: [project_manager, company]}}
targets:
  - {{name: head, office: {OFFICE}, role: cs_head, kind: wecom,
     url: "{rec.url("head", "?key=k-head")}", secret_env: ROBOT_SECRET_HEAD}}
  - {{name: pm, office: {OFFICE}, role: project_manager, kind: dingtalk,
     url: "{rec.url("pm", "?access_token=t-pm")}", secret_env: ROBOT_SECRET_PM}}
  - {{name: other-office-pm, office: 别处, role: project_manager, kind: dingtalk,
     url: "{rec.url("other")}", secret_env: ROBOT_SECRET_PM}}
  - {{name: quality, role: company, kind: wecom,
     url: "{rec.url("quality")}", secret_env: ROBOT_SECRET_QUALITY}}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
async def system(real_infra: Infra, receiver: Receiver) -> AsyncIterator[RunningSystem]:
    logs = real_infra.home / "logs" / f"test-{RUN}nt"
    logs.mkdir(parents=True, exist_ok=True)
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        logs,
        f"{RUN}nt",
        services=["intake", "workflow", "sla"],
        COMPLAINTS_NOTIFICATIONS_FILE=str(notifications_file(logs, receiver)),
        COMPLAINTS_SLA_NOTIFY_POLL_S="0.1",
        **SECRETS,
    ) as own:
        yield own


async def notifications(
    http: httpx.AsyncClient, system: RunningSystem, cid: str, headers: dict[str, str] = READER
) -> httpx.Response:
    return await http.get(
        f"{system.urls['sla']}/v1/complaints/{cid}/notifications", headers=headers
    )


async def alerts_in_log(
    system: RunningSystem, cids: set[str], *, having: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """The alerts of ``cids`` in the log once the SLA service has read all of it, and once the
    log holds an alert of each type in ``having``: an alert another service decides (the
    workflow's MajorComplaintFlagged) reaches the log through that service's outbox, after
    the barrier may already have been taken."""

    async def probe() -> list[dict[str, Any]] | None:
        await wait_caught_up(
            system.database_url,
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
            system.topics["events"],
            "sla",
            timeout=60,
        )
        events = await read_events(
            system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
        )
        alerts = [e for e in events if e["type"] in EXPECTED_TARGETS and e["complaint_id"] in cids]
        return alerts if having <= {a["type"] for a in alerts} else None

    if not having:
        alerts = await probe()
        assert alerts is not None
        return alerts
    return await eventually(probe, timeout=60, interval=0.25)


async def settled(
    http: httpx.AsyncClient, system: RunningSystem, cids: set[str], expected: int
) -> list[dict[str, Any]]:
    """Every delivery of ``cids`` once ``expected`` of them are delivered or dead."""

    async def done() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = []
        for cid in cids:
            resp = await notifications(http, system, cid)
            if resp.status_code == 404:
                return None
            rows += resp.json()["deliveries"]
        final = [r for r in rows if r["state"] in ("delivered", "dead")]
        return rows if len(rows) == expected and len(final) == expected else None

    return await eventually(done, timeout=90, interval=0.25)


async def until(condition: Callable[[], bool], *, timeout: float) -> None:
    """Wait until ``condition()`` (about the receiver's requests) holds."""

    async def probe() -> bool:
        return condition()

    await eventually(probe, timeout=timeout, interval=0.02)


def verify_signature(hit: Hit) -> None:
    """Both signatures, computed here from their documented formulas."""
    secret = SECRETS[TARGET_SECRET[hit.target]]
    parts = dict(p.split("=", 1) for p in hit.signature.split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + hit.body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], mac.hexdigest()), hit
    if hit.target == "pm":  # DingTalk: timestamp (ms) and sign in the query
        stamp = hit.query["timestamp"]
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256)
        assert hit.query["sign"] == base64.b64encode(digest.digest()).decode(), hit
        assert hit.query["access_token"] == "t-pm"
        assert int(stamp) // 1000 == int(parts["t"])


def expected_pairs(alerts: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """(alert event id, target) → 1 for every delivery the file asks for."""
    return Counter(
        (a["event_id"], target) for a in alerts for target in EXPECTED_TARGETS[a["type"]]
    )


async def test_one_delivery_per_alert_and_target_across_a_sigterm_restart(
    http: httpx.AsyncClient, system: RunningSystem, receiver: Receiver
) -> None:
    # 20 days old: breaches and three escalations at once; over the supervision line: major.
    personal = {  # what must never reach a chat group: names, phones, units
        "林先生",
        "何先生",
        old_phone := unique_phone(),
        major_phone := unique_phone(),
        old_unit := f"{uuid.uuid4().int % 90 + 10}栋{uuid.uuid4().int % 9000 + 1000}室",
        major_unit := f"{uuid.uuid4().int % 90 + 10}栋{uuid.uuid4().int % 9000 + 1000}室",
    }
    old = await received(
        http,
        system,
        office=OFFICE,
        occurred_at=minutes_ago(20 * 24 * 60),
        unit=old_unit,
        complainant={"name": "林先生", "phone": old_phone},
    )
    major = await received(
        http,
        system,
        SUPERVISION,
        office=OFFICE,
        unit=major_unit,
        complainant={"name": "何先生", "phone": major_phone},
    )
    cids = {old.id, major.id}

    # SIGTERM the SLA service once the first deliveries went out, while others are retrying
    # (pm's first answers are 500s) or not yet decided; start it again.
    await until(lambda: len(receiver.of("head")) >= 1, timeout=60)
    await asyncio.to_thread(system.stop, "sla")
    before_restart = len(receiver.hits)
    await asyncio.to_thread(system.start, "sla")

    async def escalated_to_company() -> bool:
        return bool((await old.get())["escalation_level"] == "company")

    await eventually(escalated_to_company, timeout=60)
    # Each kind of alert is in the log (else this fails at its timeout).
    alerts = await alerts_in_log(
        system,
        cids,
        having=frozenset({"SlaBreached", "ComplaintEscalated", "MajorComplaintFlagged"}),
    )
    wanted = expected_pairs(alerts)
    rows = await settled(http, system, cids, sum(wanted.values()))
    assert len(receiver.hits) > before_restart, "the restarted service went on delivering"

    by_id = {r["delivery_id"]: r for r in rows}
    # The deliveries are the ones the file asks for (a second row for one alert and target
    # cannot exist: the table's key forbids it; a second *send* would show in the receiver's
    # raw counts below, which are the evidence of "once").
    assert {(r["alert_event_id"], r["target"]) for r in rows} == set(wanted)
    ids = {
        t: {r["delivery_id"] for r in rows if r["target"] == t} for t in ("head", "pm", "quality")
    }

    # head answers 200 at once: exactly one request per delivery, raw.
    head = receiver.of("head", ids["head"])
    assert len(head) == len(ids["head"]) == sum(1 for _, t in wanted if t == "head")
    assert Counter(h.delivery for h in head) == Counter(ids["head"])
    # pm fails twice per delivery, then takes it: three raw requests per delivery, one 200.
    pm = receiver.of("pm", ids["pm"])
    assert len(pm) == MAX_ATTEMPTS * len(ids["pm"])
    assert Counter(h.delivery for h in pm if h.answered == 200) == Counter(ids["pm"])
    assert all(by_id[d]["state"] == "delivered" and by_id[d]["attempts"] == 3 for d in ids["pm"])
    # quality always fails: dead after exactly max_attempts raw requests each.
    quality = receiver.of("quality", ids["quality"])
    assert len(quality) == MAX_ATTEMPTS * len(ids["quality"])
    for d in ids["quality"]:
        assert by_id[d]["state"] == "dead" and by_id[d]["attempts"] == MAX_ATTEMPTS
        assert by_id[d]["last_error"] == "HTTP 500: robot down"
    assert not receiver.of("other"), "another office's robot hears nothing of ours"

    async def dead_on_metrics() -> bool:
        text = (await http.get(f"{system.urls['sla']}/metrics")).text
        line = f'complaints_notification_deliveries{{state="dead"}} {len(ids["quality"])}.0'
        return line in text.splitlines()

    await eventually(dead_on_metrics, timeout=30, interval=0.5)
    for hit in head + pm + quality:
        verify_signature(hit)

    # The shapes, and no personal data in them.
    for hit in head:
        body = orjson.loads(hit.body)
        assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
        assert old.id in body["markdown"]["content"] or major.id in body["markdown"]["content"]
    for hit in pm:
        body = orjson.loads(hit.body)
        assert set(body["markdown"]) == {"title", "text"}
    mine = [h for h in receiver.hits if old.id.encode() in h.body or major.id.encode() in h.body]
    assert len(mine) == len(head + pm + quality)
    for value in personal:
        assert not any(value.encode() in h.body for h in receiver.hits), value
    # Timers by their zh-CN names (the SLA policy's labels), each message linking the
    # complaint on the workbench (the sandbox sets COMPLAINTS_WORKBENCH_URL).
    workbench = system.env["COMPLAINTS_WORKBENCH_URL"].rstrip("/")
    for hit in mine:
        text = (
            orjson.loads(hit.body)["markdown"].get("content")
            or orjson.loads(hit.body)["markdown"]["text"]
        )
        cid = old.id if old.id in text else major.id
        assert text.endswith(f"[打开投诉]({workbench}/complaints/{cid})"), text
        for key in ("first_response", "reply", "assignment"):
            assert key not in text, text
    assert any("首问响应" in orjson.loads(h.body)["markdown"]["title"] for h in pm)

    # The endpoint is scoped like the other SLA reads.
    other = Staff(staff_id="head-elsewhere", role=Role.CS_HEAD, office="别处")
    denied = await notifications(
        http, system, old.id, {"Authorization": f"Bearer {issue_token(Settings(), other)}"}
    )
    assert denied.status_code == 403
    assert (await notifications(http, system, str(uuid.uuid4()))).status_code == 404


async def test_a_dead_delivery_is_listed_and_a_cli_retry_delivers_it_once(
    http: httpx.AsyncClient, system: RunningSystem, receiver: Receiver
) -> None:
    listed = await complaints(system.env, "notifications", "list", "--state", "dead", "--json")
    assert listed.returncode == 0, listed.stderr
    dead = [orjson.loads(line) for line in listed.stdout.splitlines()]
    assert dead and {d["target"] for d in dead} == {"quality"}
    assert all(d["state"] == "dead" for d in dead)
    table = await complaints(system.env, "notifications", "list", "--state", "dead")
    assert dead[0]["delivery_id"] in table.stdout and "HTTP 500: robot down" in table.stdout

    receiver.modes["quality"] = "ok"
    chosen = dead[0]["delivery_id"]
    retried = await complaints(system.env, "notifications", "retry", chosen)
    assert retried.returncode == 0, retried.stderr

    async def delivered() -> dict[str, Any] | None:
        resp = await notifications(http, system, dead[0]["complaint_id"])
        row = next(r for r in resp.json()["deliveries"] if r["delivery_id"] == chosen)
        return row if row["state"] == "delivered" else None

    row = await delivered_row(delivered)
    assert row["attempts"] == 1 and row["delivered_at"] is not None
    hits = receiver.of("quality", {chosen})
    assert [h.answered for h in hits] == [500] * MAX_ATTEMPTS + [200]
    verify_signature(hits[-1])
    # The others stay dead (nothing retried them), and a delivered one cannot be retried.
    others = {d["delivery_id"] for d in dead} - {chosen}
    assert all(h.answered == 500 for h in receiver.of("quality", others))
    again = await complaints(system.env, "notifications", "retry", chosen)
    assert again.returncode == 1 and "is delivered, not dead" in again.stderr

    # The rest at once, after an outage: --all-dead, for this robot, of alerts since then.
    naive = await complaints(
        system.env, "notifications", "retry", "--all-dead", "--since", "2026-12-04T08:00"
    )
    assert naive.returncode == 2 and "--since" in naive.stderr and "offset" in naive.stderr
    both = await complaints(system.env, "notifications", "retry", chosen, "--all-dead")
    assert both.returncode == 2 and "not both" in both.stderr
    none = await complaints(
        system.env, "notifications", "retry", "--all-dead", "--target", "nobody"
    )
    assert none.returncode == 0 and "0 dead deliveries pending again" in none.stdout
    assert len(others) >= 2  # the escalations and the major flag each died for quality
    since = min(d["alert_at"] for d in dead)
    bulk = await complaints(
        system.env, "notifications", "retry", "--all-dead", "--target", "quality", "--since", since
    )
    assert bulk.returncode == 0, bulk.stderr
    assert "dead deliveries pending again" in bulk.stdout
    assert all(d in bulk.stdout for d in others)  # (and any that died since the listing)

    async def all_delivered() -> bool:
        resp = await complaints(system.env, "notifications", "list", "--state", "dead", "--json")
        still = {orjson.loads(line)["delivery_id"] for line in resp.stdout.splitlines()}
        return not (still & others) and all(
            [h.answered for h in receiver.of("quality", {d})][-1] == 200 for d in others
        )

    await eventually(all_delivered, timeout=30, interval=0.5)
    for d in others:  # dead after max_attempts, then sent once more and taken
        assert [h.answered for h in receiver.of("quality", {d})] == [500] * MAX_ATTEMPTS + [200]


async def delivered_row(probe: Any) -> dict[str, Any]:
    row: dict[str, Any] = await eventually(probe, timeout=30, interval=0.2)
    return row


async def test_a_sigkill_during_a_post_sends_that_delivery_again_with_the_same_id(
    http: httpx.AsyncClient, system: RunningSystem, receiver: Receiver
) -> None:
    """The at-least-once window, shown rather than hidden: head holds its requests unanswered,
    the SLA service is killed while they are in flight (the worker's round, and whatever else
    it sent in that round, is not recorded), and the restarted service sends each of them
    again — with the same delivery id and body, so a receiver can drop the repeat. Whatever
    was not sent before the kill is sent exactly once."""
    receiver.modes["head"] = "hold"
    receiver.modes["pm"] = "ok"
    receiver.modes["quality"] = "ok"
    late = await received(
        http,
        system,
        office=OFFICE,
        occurred_at=minutes_ago(20 * 24 * 60),
        complainant={"name": "曹女士", "phone": unique_phone()},
    )
    await until(lambda: any(late.id.encode() in h.body for h in receiver.of("head")), timeout=60)
    await asyncio.to_thread(system.kill, "sla")
    seen_before_kill = Counter(h.delivery for h in receiver.hits)
    held = {h.delivery for h in receiver.of("head") if h.answered is None}
    assert held, "some requests were in flight when the service died"
    receiver.modes["head"] = "ok"
    receiver.release.set()
    await asyncio.to_thread(system.start, "sla")

    async def escalated_to_company() -> bool:
        return bool((await late.get())["escalation_level"] == "company")

    await eventually(escalated_to_company, timeout=60)
    alerts = await alerts_in_log(system, {late.id})
    wanted = expected_pairs(alerts)
    rows = await settled(http, system, {late.id}, sum(wanted.values()))
    assert {(r["alert_event_id"], r["target"]) for r in rows} == set(wanted)
    assert {r["state"] for r in rows} == {"delivered"}
    mine = {r["delivery_id"] for r in rows}
    assert held <= mine
    hits = [h for h in receiver.hits if h.delivery in mine]
    per_id = Counter(h.delivery for h in hits)
    for d in mine:
        if d in held:  # in flight at the kill, unanswered: sent again after the restart
            assert per_id[d] == 2, d
        elif seen_before_kill[d]:  # answered, but maybe in the round the kill rolled back
            assert per_id[d] in (1, 2), d
        else:  # decided or sent after the restart only: once
            assert per_id[d] == 1, d
        copies = [h for h in hits if h.delivery == d]
        assert len({h.body for h in copies}) == 1, "a resend is the same message"
        assert [h.answered for h in copies][-1] == 200
    for hit in hits:
        verify_signature(hit)
    conn = await asyncpg.connect(system.database_url)
    try:
        states = await conn.fetch(
            "SELECT state, count(*) FROM sla.notification_deliveries WHERE complaint_id = $1 "
            "GROUP BY state",
            uuid.UUID(late.id),
        )
    finally:
        await conn.close()
    assert {r["state"] for r in states} <= {"delivered", "dead"}


async def test_a_rebuild_of_the_clocks_sends_no_old_alert_again(
    http: httpx.AsyncClient, system: RunningSystem, receiver: Receiver
) -> None:
    """The deliveries are durable, not a projection: rebuilding the SLA projection from offset
    0 (every alert of the log read again by the new generation) creates no delivery and sends
    nothing. The barrier: a new major complaint's deliveries, sent after the rebuild."""
    receiver.modes.update(head="ok", pm="ok", quality="ok")
    conn = await asyncpg.connect(system.database_url)
    try:
        rows_before = await conn.fetchval("SELECT count(*) FROM sla.notification_deliveries")
    finally:
        await conn.close()
    hits_before = len(receiver.hits)
    rebuilt = await complaints(system.env, "rebuild", "sla")
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = await received(
        http,
        system,
        SUPERVISION,
        office=OFFICE,
        complainant={"name": "蒋女士", "phone": unique_phone()},
    )
    alerts = await alerts_in_log(system, {after.id}, having=frozenset({"MajorComplaintFlagged"}))
    wanted = expected_pairs(alerts)
    assert sum(wanted.values()) == 2  # the major flag: pm and quality
    await settled(http, system, {after.id}, 2)
    new = receiver.hits[hits_before:]
    assert all(after.id.encode() in h.body for h in new), "only the new complaint's alert"
    assert len(new) == 2
    conn = await asyncpg.connect(system.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM sla.notification_deliveries") == (
            rows_before + 2
        )
    finally:
        await conn.close()


async def test_the_workbench_page_of_a_complaint_shows_each_delivery_and_its_state(
    http: httpx.AsyncClient, system: RunningSystem, receiver: Receiver, browser_page: Page
) -> None:
    """Issue 17.4: delivery state visible on the complaint's page. A complaint over the
    supervision line is major at once: the project manager's robot answers 500 twice then 200
    (delivered on the 3rd POST), the company's always 500 (dead after 3)."""
    receiver.modes.update(pm="flaky", quality="fail")
    desk = await received(
        http,
        system,
        SUPERVISION,
        office=OFFICE,
        occurred_at=minutes_ago(1),
        complainant={"name": "页面先生", "phone": unique_phone()},
    )
    rows = await settled(http, system, {desk.id}, expected=2)
    assert {(r["target"], r["state"]) for r in rows} == {("pm", "delivered"), ("quality", "dead")}

    workflow = system.urls["workflow"]
    head = bearer(Role.CS_HEAD, office=OFFICE, staff_id="head-page")["Authorization"][7:]
    await browser_page.goto(f"{workflow}/login")
    await browser_page.locator("textarea[name=token]").fill(head)
    await browser_page.get_by_role("button", name="Log in").click()
    await browser_page.goto(f"{workflow}/complaints/{desk.id}")
    table = browser_page.locator("#deliveries tbody tr")
    await expect(table).to_have_count(2)
    shown = sorted([await row.locator("td").all_inner_texts() for row in await table.all()])
    assert [(r[2], r[3], r[4]) for r in shown] == [
        ("pm（钉钉）", "已送达", "3"),
        ("quality（企业微信）", "已放弃（可用 complaints notifications retry 重发）", "3"),
    ]
    assert all(r[0].startswith("重大投诉") for r in shown)
    assert shown[1][5]  # the dead one says why (the robot's last answer)


async def test_after_an_office_transfer_its_staff_see_only_their_offices_deliveries(
    http: httpx.AsyncClient, system: RunningSystem, receiver: Receiver
) -> None:
    """After a transfer (跨项目转办) the new office's staff do not see the old office's
    deliveries (its robots' names, their errors); the company still sees every one. Last in
    the module: the moved complaint may raise alerts of its own afterwards."""
    receiver.modes.update(head="ok", pm="ok", quality="ok")
    moving = await received(
        http,
        system,
        SUPERVISION,
        office=OFFICE,
        complainant={"name": "韩女士", "phone": unique_phone()},
    )
    listed = await settled(http, system, {moving.id}, 2)  # the major flag: pm and quality
    before = {d["delivery_id"] for d in listed}
    assert {d["office"] for d in listed} == {OFFICE}
    elsewhere = f"丙园{uuid.uuid4().hex[:6]}"
    await moving.do("transfer-office", COMPANY, to_office=elsewhere, reason="该楼栋归丙园管理")

    async def moved() -> dict[str, Any] | None:
        body: dict[str, Any] = (await notifications(http, system, moving.id)).json()
        return body if body["office"] == elsewhere else None

    everything = await eventually(moved, timeout=30, interval=0.2)
    assert {d["delivery_id"] for d in everything["deliveries"]} >= before  # the company's view
    new_head = bearer(Role.CS_HEAD, office=elsewhere)
    seen = await notifications(http, system, moving.id, new_head)
    assert seen.status_code == 200, seen.text
    assert seen.json()["office"] == elsewhere
    assert not {d["delivery_id"] for d in seen.json()["deliveries"]} & before
    assert all(d["office"] == elsewhere for d in seen.json()["deliveries"])
    old_head = bearer(Role.CS_HEAD, office=OFFICE)
    assert (await notifications(http, system, moving.id, old_head)).status_code == 403

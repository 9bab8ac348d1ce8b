"""Two copies of the deciding services under load through intake, and the checks that say the
result is exact: every projection equals a recount of the log, and no rule or alert was
decided twice.

The checks read the log itself (every copy of every record), never a table's primary key,
which would swallow a second decision. The SLA policy of these systems has wall-clock targets
of seconds, so that the deadlines fall due while the test runs (and while a copy is killed).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import orjson
import yaml

from contracts import Envelope, EventData, decode_event
from contracts.sla import SlaBreached, SlaWarning
from services.runtime.kafka import end_offsets
from services.sla.calendar import load_calendar
from services.sla.policy import DEFAULT_POLICY_FILE, TimerState, load_policy
from services.sla.settings import SlaSettings
from services.sla.timers import fold, owed
from services.workflow import store as workflow_store
from services.workflow.domain import replay
from tests.conftest import RUN, Infra, RunningSystem
from tests.e2e.helpers import HOTLINE, SUPERVISION, minutes_ago, own_system, read_topic, submission
from tests.e2e.test_workflow_lifecycle import AGENT, unique_phone
from tests.faults.burst import run_id

# Seconds, on the wall clock: a complaint not acknowledged is warned at 12 s and breaches at
# 15 s; its reply breaches at 30 s and its hard limit at 45 s; once acknowledged, it must be
# given a department within 24 s. Nothing else falls due during a test.
SHORT_TARGETS = {
    "first_response": {"target": "0.25 minutes"},
    "reply": {"target": "0.5 minutes", "hard_limit": "0.75 minutes"},
    "assignment": {"target": "0.4 minutes"},
}


def short_policy(folder: Path) -> Path:
    """The shipped SLA policy with ``SHORT_TARGETS``, written into ``folder``."""
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    for kind, change in SHORT_TARGETS.items():
        doc["timers"][kind].update(change)
        for changes in doc.get("priorities", {}).values():  # urgent ones too (judged major)
            if kind in changes:
                changes[kind] = dict(change)
    path = folder / "sla-policy-short.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    load_policy(path)  # refuses a policy the service would refuse
    return path


async def copies_system(
    real_infra: Infra, folder: Path, copies: dict[str, int]
) -> AsyncIterator[RunningSystem]:
    """A system of its own (database, topics, the short SLA policy) with ``copies`` of each
    service, the copies started side by side."""
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        folder,
        f"{RUN}_copies{run_id()}",
        services=list(copies),  # the first copies first: they create the schemas and topics
        COMPLAINTS_SLA_POLICY_FILE=str(short_policy(folder)),
    ) as system:
        await asyncio.gather(
            *(
                asyncio.to_thread(system.start, n, c)
                for n, count in copies.items()
                for c in range(2, count + 1)
            )
        )
        yield system


# ------------------------------------------------------------------------------------------
# load: complaints through intake, staff working them through both workflow copies
# ------------------------------------------------------------------------------------------


@dataclass
class Load:
    """What the load did: the complaints intake accepted (and which came over the head)."""

    accepted: list[str]
    supervision: set[str]
    judged: set[str]


async def load(
    http: httpx.AsyncClient,
    intake: str,
    workflows: list[str],
    *,
    n: int,
    seconds: float,
) -> Load:
    """Submit ``n`` complaints through intake over about ``seconds`` (1 in 5 by the
    supervision line: major by rule), and have staff acknowledge about half of them and judge
    half of those (routing proposes a department), the commands spread over the workflow
    copies in ``workflows`` (a copy that dies is skipped). Every call is awaited on the event
    loop: nothing blocks it."""
    done = Load(accepted=[], supervision=set(), judged=set())
    gate = asyncio.Semaphore(8)
    urls = itertools.cycle(range(len(workflows)))

    async def command(cid: str, name: str, body: dict[str, Any]) -> bool:
        for _ in range(len(workflows) * 3):
            url = workflows[next(urls)]
            try:
                resp = await http.post(
                    f"{url}/v1/complaints/{cid}/{name}", json=body, headers=AGENT, timeout=10
                )
            except httpx.TransportError:
                continue  # that copy is gone: the next one
            if resp.status_code == 404:  # not read from the log yet by the workflow
                await asyncio.sleep(0.5)
                continue
            if resp.status_code == 503:  # a copy between assignments
                await asyncio.sleep(0.5)
                continue
            assert resp.status_code in (200, 409), (name, resp.status_code, resp.text)
            return resp.status_code == 200
        return False

    async def one(i: int) -> None:
        over_the_head = i % 5 == 0
        body = submission(
            complainant={"name": "葛女士", "phone": unique_phone()},
            unit=f"{i % 30 + 1}栋{i:04d}",
            occurred_at=minutes_ago(0),  # its clocks start now
        )
        async with gate:
            resp = await http.post(
                f"{intake}/v1/complaints",
                json=body,
                headers=SUPERVISION if over_the_head else HOTLINE,
                timeout=15,
            )
        assert resp.status_code == 202, resp.text
        cid = resp.json()["complaint_id"]
        done.accepted.append(cid)
        if over_the_head:
            done.supervision.add(cid)
        if i % 2:
            return  # nobody answers: first response and reply breach, and escalate
        await asyncio.sleep(3 + i % 7)  # 3–9 s: within the first response's 15 s
        async with gate:
            acknowledged = await command(cid, "acknowledge", {})
        if acknowledged and i % 4 == 0:
            async with gate:
                if await command(cid, "classify", {"validity": "valid", "category": "environment"}):
                    done.judged.add(cid)

    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(seconds / n)
    await asyncio.gather(*tasks)
    return done


# ------------------------------------------------------------------------------------------
# the log, read whole
# ------------------------------------------------------------------------------------------


@dataclass
class Logged:
    """Every copy of every event of some complaints in the log, in log order."""

    records: list[tuple[Envelope, EventData, bytes]]

    def of(self, cid: str) -> list[tuple[Envelope, EventData]]:
        """One complaint's distinct events, first copies, in log order."""
        seen: set[UUID] = set()
        out = []
        for env, data, _ in self.records:
            if str(env.complaint_id) == cid and env.event_id not in seen:
                seen.add(env.event_id)
                out.append((env, data))
        return out


async def read_log(system: RunningSystem, ours: Iterable[str]) -> Logged:
    wanted = set(ours)
    records = []
    for record in await read_topic(
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    ):
        env, data = decode_event(record.value or b"")
        if str(env.complaint_id) in wanted:
            records.append((env, data, record.value or b""))
    return Logged(records)


def copies_differ(logged: Logged, *, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Event ids in the log more than once whose copies are not the same event: a second,
    different decision under one id (an outbox republishing a row is the same bytes). Fields
    in ``ignore`` (``recorded_at``: when a decision was made again) are not compared; the
    answer names the type and the fields that differ."""
    by_id: dict[UUID, list[dict[str, Any]]] = defaultdict(list)
    for _, _, raw in logged.records:
        doc = orjson.loads(raw)
        by_id[UUID(doc["event_id"])].append(doc)
    differ: dict[str, Any] = {}
    for event_id, docs in by_id.items():
        keys = {k for d in docs for k in d if k not in ignore and d.get(k) != docs[0].get(k)}
        if keys:
            differ[str(event_id)] = (docs[0]["type"], sorted(keys))
    return differ


# ------------------------------------------------------------------------------------------
# waiting for the system to go quiet
# ------------------------------------------------------------------------------------------


class NotQuiet(str):
    """Why the system is not quiet yet: falsy, so ``eventually`` goes on and shows it."""

    def __bool__(self) -> bool:
        return False


async def quiet(system: RunningSystem, ours: list[str]) -> bool | NotQuiet:
    """Every outbox published, every consumer at the log's end, and no clock of ours that
    can still owe an alert (the short targets have all run out). The end offsets are read
    after the outboxes are found empty and again at the end: an event published meanwhile
    (a breach the workflow has yet to escalate) is not missed."""
    bootstrap, topic = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
    conn = await asyncpg.connect(system.database_url)
    try:
        for schema in ("workflow", "sla"):
            if n := await conn.fetchval(
                f"SELECT count(*) FROM {schema}.outbox WHERE published_at IS NULL"
            ):
                return NotQuiet(f"{schema}: {n} in the outbox")
        ends = await end_offsets(bootstrap, topic)
        for schema in ("workflow", "sla"):
            rows = await conn.fetch(
                f"SELECT consumer, partition, next_offset FROM {schema}.live_consumer_offsets "
                "WHERE topic = $1",
                topic,
            )
            behind = [
                (r["consumer"], r["partition"], r["next_offset"], ends.get(r["partition"]))
                for r in rows
                if r["next_offset"] < ends.get(r["partition"], 0)
            ]
            if behind or not rows:
                return NotQuiet(f"{schema}: behind {behind}")
        pending = await conn.fetch(
            "SELECT c.complaint_id, c.next_check_at, k.timer, k.state, k.deadline "
            "FROM sla.complaints c LEFT JOIN sla.clocks k USING (complaint_id) "
            "WHERE c.complaint_id = ANY($1::uuid[]) AND c.next_check_at IS NOT NULL "
            "AND k.ended_at IS NULL LIMIT 3",
            ours,
        )
        known = await conn.fetchval(
            "SELECT count(*) FROM sla.complaints WHERE complaint_id = ANY($1::uuid[])", ours
        )
        unpublished = await conn.fetchval(
            "SELECT (SELECT count(*) FROM workflow.outbox WHERE published_at IS NULL)"
            " + (SELECT count(*) FROM sla.outbox WHERE published_at IS NULL)"
        )
    finally:
        await conn.close()
    if pending:
        return NotQuiet(f"checks due: {[tuple(r.values()) for r in pending]}")
    if known != len(ours):
        return NotQuiet(f"sla knows {known} of {len(ours)}")
    if unpublished or await end_offsets(bootstrap, topic) != ends:
        return NotQuiet("events decided meanwhile")
    return True


# ------------------------------------------------------------------------------------------
# the workflow: states equal a fold of the log; each rule decided once
# ------------------------------------------------------------------------------------------

RULE_SOURCE = "workflow/rules"


async def workflow_states(database_url: str, ours: list[str]) -> dict[str, Any]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT complaint_id, state FROM workflow.complaints "
            "WHERE complaint_id = ANY($1::uuid[])",
            ours,
        )
    finally:
        await conn.close()
    return {str(r["complaint_id"]): workflow_store.decode_state(r["state"]) for r in rows}


def workflow_mismatches(logged: Logged, states: dict[str, Any], ours: list[str]) -> dict[str, Any]:
    """The complaints whose stored state differs from the fold of their events in the log."""
    wrong: dict[str, Any] = {}
    for cid in ours:
        folded = replay(data for _, data in logged.of(cid))
        stored = states.get(cid)
        if stored is None:
            wrong[cid] = "no state"
        elif stored != folded:  # the fields that differ: (stored, folded from the log)
            wrong[cid] = {
                f.name: (getattr(stored, f.name), getattr(folded, f.name))
                for f in fields(folded)
                if getattr(stored, f.name) != getattr(folded, f.name)
            }
    return wrong


def rule_decisions(logged: Logged) -> Counter[tuple[str, str, str]]:
    """How many distinct events each rule decided per (complaint, causing event, type),
    counted over every record in the log (a second decision has its own record)."""
    ids: dict[tuple[str, str, str], set[UUID]] = defaultdict(set)
    for env, _, _ in logged.records:
        if env.source == RULE_SOURCE:
            ids[(str(env.complaint_id), str(env.causation_id), env.type)].add(env.event_id)
    return Counter({key: len(found) for key, found in ids.items()})


def escalation_levels(logged: Logged) -> Counter[tuple[str, str]]:
    """Distinct escalations per (complaint, level): a level is reached once."""
    ids: dict[tuple[str, str], set[UUID]] = defaultdict(set)
    for env, data, _ in logged.records:
        if env.type == "ComplaintEscalated":
            ids[(str(env.complaint_id), str(data.level))].add(env.event_id)  # type: ignore[attr-defined]
    return Counter({key: len(found) for key, found in ids.items()})


def check_workflow(logged: Logged, states: dict[str, Any], done: Load) -> None:
    """Assert the workflow's projection and its rules' decisions against the log."""
    ours = done.accepted
    assert workflow_mismatches(logged, states, ours) == {}
    decisions = rule_decisions(logged)
    assert {k: n for k, n in decisions.items() if n != 1} == {}, "a rule decided twice"
    assert {k: n for k, n in escalation_levels(logged).items() if n != 1} == {}
    # each rule that had to decide did: major on every supervision-line receipt, routing on
    # every judgment, an escalation on the first breach of every complaint nobody answered
    flagged = {c for c, _, t in decisions if t == "MajorComplaintFlagged"}
    assert flagged == done.supervision
    judgments = {
        str(env.event_id): str(env.complaint_id)
        for env, _, _ in logged.records
        if env.type == "ComplaintJudged"
    }
    proposed = {cause for _, cause, t in decisions if t == "DepartmentProposed"}
    # (a judgment whose answer a killed copy never sent may be in the log too)
    assert set(judgments) == proposed and done.judged <= set(judgments.values())
    breached = {str(env.complaint_id) for env, _, _ in logged.records if env.type == "SlaBreached"}
    escalated = {c for c, _, t in decisions if t == "ComplaintEscalated"}
    assert breached and escalated == breached


# ------------------------------------------------------------------------------------------
# the SLA service: each alert decided once, every due one there, clocks a recount
# ------------------------------------------------------------------------------------------


@dataclass
class SlaRecount:
    required: set[UUID]  # alerts owed by the instant the system was quiet
    allowed: set[UUID]  # and those that may be in the log besides (a warning judged late)
    clocks: dict[tuple[str, str], tuple[Any, ...]]


def sla_recount(logged: Logged, ours: list[str], policy_file: Path, at: datetime) -> SlaRecount:
    """What the SLA service owes and its clocks, folded from the log by the same policy."""
    policy = load_policy(policy_file)
    calendar = load_calendar(SlaSettings().sla_calendar_file)
    required: set[UUID] = set()
    allowed: set[UUID] = set()
    clocks: dict[tuple[str, str], tuple[Any, ...]] = {}
    for cid in ours:
        events = [(env, data) for env, data in logged.of(cid) if env.type in policy.events]
        office = next(d.office for e, d in events if e.type == "ComplaintReceived")  # type: ignore[attr-defined]
        folded = fold(
            [(data, env.occurred_at) for env, data in events],
            complaint_id=UUID(cid),
            office=office,
            policy=policy,
            calendar=calendar,
        )
        alerts = owed(folded, UUID(cid), at)
        required |= {a.event_id for a in alerts}
        allowed |= {a.event_id for a in alerts}
        for kind, timer in folded.timers.items():
            # a warning the scheduler could not judge before the deadline is owed no more
            if timer.state_at(at) is TimerState.BREACHED and timer.warning_at is not None:
                allowed |= {
                    a.event_id
                    for a in timer.alerts_due(UUID(cid), timer.warning_at)
                    if isinstance(a.data, SlaWarning)
                }
            clocks[(cid, kind)] = (
                folded.office_at(at),
                timer.started_at,
                timer.warning_at,
                timer.deadline,
                timer.hard_deadline,
                timer.stopped_at or timer.cancelled_at,
                timer.state_at(at).value,
            )
    return SlaRecount(required=required, allowed=allowed, clocks=clocks)


async def sla_clocks(database_url: str, ours: list[str]) -> dict[tuple[str, str], tuple[Any, ...]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT complaint_id, timer, office, started_at, warning_at, deadline, "
            "hard_deadline, ended_at, state FROM sla.clocks WHERE complaint_id = ANY($1::uuid[])",
            ours,
        )
    finally:
        await conn.close()
    return {(str(r["complaint_id"]), r["timer"]): tuple(r.values())[2:] for r in rows}


def alert_decisions(logged: Logged) -> Counter[tuple[str, str, str, bool]]:
    """Distinct alerts per (complaint, timer, type, hard), over every record in the log.
    Without a pause no deadline moves, so each is decided at most once: a second decision
    (another deadline, another id) shows as 2."""
    ids: dict[tuple[str, str, str, bool], set[UUID]] = defaultdict(set)
    for env, data, _ in logged.records:
        if isinstance(data, SlaWarning | SlaBreached):
            hard = isinstance(data, SlaBreached) and data.hard
            ids[(str(env.complaint_id), data.timer, env.type, hard)].add(env.event_id)
    return Counter({key: len(found) for key, found in ids.items()})


def check_sla(
    logged: Logged, clocks: dict[tuple[str, str], tuple[Any, ...]], recount: SlaRecount
) -> None:
    """Assert the SLA service's alerts and clocks against the log."""
    assert {k: n for k, n in alert_decisions(logged).items() if n != 1} == {}, "alert twice"
    in_log = {
        env.event_id
        for env, data, _ in logged.records
        if isinstance(data, SlaWarning | SlaBreached)
    }
    assert recount.required - in_log == set(), "an alert that fell due is missing"
    assert in_log - recount.allowed == set(), "an alert the log does not owe"
    assert any(isinstance(data, SlaBreached) and data.hard for _, data, _ in logged.records), (
        "no hard limit fell due: the test did not test it"
    )
    assert clocks == recount.clocks


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------------------------------
# the whole exercise: load, a copy killed mid-stream, quiet, every check
# ------------------------------------------------------------------------------------------


async def outbox_rows(database_url: str, schema: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox"))
    finally:
        await conn.close()


async def ready(http: httpx.AsyncClient, url: str) -> bool:
    return (await http.get(f"{url}/readyz")).status_code == 200


async def kill_one_copy_under_load(
    http: httpx.AsyncClient,
    system: RunningSystem,
    *,
    kill: str,
    once_outbox: tuple[str, int],
    n: int = 200,
    seconds: float = 25.0,
) -> None:
    """Load the system, SIGKILL the copy ``kill`` once ``once_outbox`` = (schema, rows) says
    it has decided things and while the load still runs, let the other copy take over, wait
    until it is quiet and check everything against the log."""
    from tests.e2e.helpers import eventually
    from tests.faults.burst import counting_applications, doubled_or_missing

    for url in system.urls.values():  # every copy holds partitions of the group
        await eventually(lambda u=url: ready(http, u), timeout=60)
    workflows = [u for k, u in system.urls.items() if k.startswith("workflow")]
    schema, rows = once_outbox
    async with counting_applications(
        system.database_url, "workflow.history", "event_id"
    ) as applied:
        loading = asyncio.create_task(
            load(http, system.urls["intake"], workflows, n=n, seconds=seconds)
        )

        async def decided() -> bool:
            return await outbox_rows(system.database_url, schema) >= rows

        await eventually(decided, timeout=60, interval=0.2)
        assert not loading.done(), "the load ended before the kill: not mid-stream"
        await asyncio.to_thread(system.kill, kill)
        done = await loading
        ours = done.accepted
        assert len(ours) == n
        await eventually(lambda: quiet(system, ours), timeout=150, interval=1.0)
        at = now()
        logged = await read_log(system, ours)
        counts = await applied()
    assert copies_differ(logged) == {}, "one event id, two different events"
    # the workflow: every event of ours applied to its history exactly once (a trigger
    # counts every row proposed, which the history's unique event id would hide)
    distinct = {str(env.event_id) for env, _, _ in logged.records}
    assert doubled_or_missing(counts, distinct) == {}
    check_workflow(logged, await workflow_states(system.database_url, ours), done)
    # the SLA service
    recount = sla_recount(logged, ours, Path(system.env["COMPLAINTS_SLA_POLICY_FILE"]), at)
    check_sla(logged, await sla_clocks(system.database_url, ours), recount)

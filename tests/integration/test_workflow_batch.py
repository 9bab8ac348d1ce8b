"""The workflow projection's batch path (a fold in memory from the stored states) leaves
exactly what its per-event path (the whole history replayed for every event) leaves: the same
states, history, rule journal, outbox and processed events — with the rules deciding afresh
(the live path) and with the journal full (a rebuild), whole lives in one batch or split."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.common import received_event, submission_body
from bench.rebuild_services import histories
from contracts import (
    Channel,
    ComplaintReceived,
    Envelope,
    EventData,
    ServiceCategory,
    Validity,
    decode_event,
    encode_event,
    new_envelope,
)
from contracts.lifecycle import (
    Actor,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintSentBack,
    ComplaintTransferred,
    DepartmentAssigned,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OfficeTransferRequested,
    Role,
)
from deploy.local import sandbox
from services.runtime import vault
from services.runtime.store import consumer_tables_sql, outbox_table_sql
from services.workflow import store
from services.workflow.domain import MajorPolicy, load_routing_rules, replay
from services.workflow.handlers import AutomaticRules, Context, Rules
from services.workflow.handlers.rules import BatchJournal
from services.workflow.projection import StateProjection
from tests.conftest import RUN, Infra

pytestmark = pytest.mark.infra

HERE = Path(store.__file__).parent
GEN = "workflow_g1"
CTX = Context(
    consumer="workflow.state.v1",
    topic="test.events",
    rules=Rules(routing=load_routing_rules(), major=MajorPolicy(window=timedelta(days=7))),
    pepper=b"pepper-of-this-test",
)
Event = tuple[Envelope, EventData]
HEAD = Actor(staff_id="cs-head", role=Role.CS_HEAD)
DEPT = Actor(staff_id="dept-1", role=Role.DEPARTMENT)
PM = Actor(staff_id="pm-1", role=Role.PROJECT_MANAGER)


@pytest.fixture
async def pool(real_infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    name = f"complaints_test_{RUN}_wfbatch"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=2, server_settings={"search_path": f"{GEN}, workflow"}
    )
    async with pool.acquire() as conn:
        await conn.execute(consumer_tables_sql("workflow"))
        await conn.execute(outbox_table_sql("workflow"))
        await conn.execute((HERE / "durable.sql").read_text(encoding="utf-8"))
        await conn.execute(consumer_tables_sql(GEN))
        await conn.execute((HERE / "schema.sql").read_text(encoding="utf-8"))
    yield pool
    await pool.close()
    await sandbox.drop_database(real_infra.admin_database_url, name)


def log_of_life() -> list[Event]:
    """Complaints received within a few days (repeats by owner and unit: major ones), from
    every channel (over the head), late first responses (SLA breaches: escalations)."""
    return histories(40, seed=5, alerts=True, days=4)


async def clear(conn: asyncpg.Connection, *, journal: bool) -> None:
    """Drop the projection's rows (a new generation); with ``journal``, the durable
    decisions too (a system that never saw these events)."""
    await conn.execute(f"TRUNCATE {GEN}.complaints, {GEN}.history, {GEN}.processed_events")
    if journal:
        await conn.execute("TRUNCATE workflow.rule_runs, workflow.outbox")


async def one_at_a_time(conn: asyncpg.Connection, events: Sequence[Event]) -> None:
    projection = StateProjection(CTX)
    projection.react_with(AutomaticRules(CTX))
    for envelope, data in events:
        async with conn.transaction():
            await projection.apply(conn, envelope, data)


async def in_batches(conn: asyncpg.Connection, events: Sequence[Event], size: int) -> None:
    projection = StateProjection(CTX)
    projection.react_with(AutomaticRules(CTX))
    for at in range(0, len(events), size):
        async with conn.transaction():
            await projection.apply_batch(conn, events[at : at + size])


async def snapshot(conn: asyncpg.Connection) -> dict[str, Any]:
    complaints = await conn.fetch(f"SELECT * FROM {GEN}.complaints ORDER BY complaint_id")
    states = {}
    for row in complaints:
        raw = await store.history(conn, row["complaint_id"])
        # The stored state is what the history folds to.
        assert store.decode_state(row["state"]) == replay(decode_event(e)[1] for e in raw)
        states[row["complaint_id"]] = store.decode_state(row["state"])
    return {
        "complaints": [
            {k: v for k, v in r.items() if k not in ("updated_at", "state")} for r in complaints
        ],
        "states": states,
        "history": [
            tuple(r.values())
            for r in await conn.fetch(
                f"SELECT complaint_id, seq, event_id, type, envelope FROM {GEN}.history "
                "ORDER BY complaint_id, seq"
            )
        ],
        "rule_runs": sorted(
            (r["cause_event_id"], r["rule"])
            for r in await conn.fetch("SELECT * FROM workflow.rule_runs")
        ),
        "outbox": sorted(
            (r["event_id"], r["complaint_id"], r["payload"])
            for r in await conn.fetch("SELECT * FROM workflow.outbox")
        ),
        "processed": sorted(
            r["event_id"] for r in await conn.fetch(f"SELECT event_id FROM {GEN}.processed_events")
        ),
    }


async def test_batches_decide_the_rules_as_one_event_at_a_time_would(pool: asyncpg.Pool) -> None:
    events = log_of_life()
    async with pool.acquire() as conn:
        await one_at_a_time(conn, events)
        reference = await snapshot(conn)
        for size in (len(events), 7, 1):  # whole lives in one batch; lives split; singles
            await clear(conn, journal=True)
            await in_batches(conn, events, size)
            assert await snapshot(conn) == reference, f"batches of {size}"
    # The rules did decide: majors (over the head, repeats), routing, escalations.
    outbox = [decode_event(p)[0].type for _, _, p in reference["outbox"]]
    assert {"MajorComplaintFlagged", "DepartmentProposed", "ComplaintEscalated"} <= set(outbox)
    rules = {rule for _, rule in reference["rule_runs"]}
    assert rules == {"major", "routing", "escalation"}
    assert len(reference["states"]) == 40


async def test_a_rebuild_in_batches_restores_the_states_and_decides_nothing_again(
    pool: asyncpg.Pool,
) -> None:
    events = log_of_life()
    async with pool.acquire() as conn:
        await one_at_a_time(conn, events)
        lived = await snapshot(conn)
        # The log as the relay left it: each derived event after the event that caused it.
        derived: dict[uuid.UUID, list[Event]] = {}
        for _, _, payload in lived["outbox"]:
            envelope, data = decode_event(payload)
            assert envelope.causation_id is not None
            derived.setdefault(envelope.causation_id, []).append((envelope, data))
        log = [e for event in events for e in [event, *derived.get(event[0].event_id, [])]]

        await clear(conn, journal=False)
        await one_at_a_time(conn, log)
        replayed = await snapshot(conn)
        for size in (len(log), 5000, 13):
            await clear(conn, journal=False)
            await in_batches(conn, log, size)
            rebuilt = await snapshot(conn)
            assert rebuilt == replayed, f"batches of {size}"
    # Nothing decided again; the states are the ones lived through.
    assert replayed["rule_runs"] == lived["rule_runs"]
    assert replayed["outbox"] == lived["outbox"]
    assert replayed["states"] == lived["states"]
    assert [r[:4] for r in replayed["history"]] == [r[:4] for r in lived["history"]]


async def test_an_event_of_a_complaint_not_received_before_it_fails_the_batch(
    pool: asyncpg.Pool,
) -> None:
    events = log_of_life()
    received = events[0]
    cid = received[0].complaint_id
    following = next(e for e in events[1:] if e[0].complaint_id == cid)
    ack = ComplaintAcknowledged.model_validate({"actor": {"staff_id": "a", "role": "cs_agent"}})
    stray = received[0].model_copy(
        update={"event_id": uuid.uuid4(), "complaint_id": uuid.uuid4(), "type": ack.event_type}
    )
    projection = StateProjection(CTX)
    projection.react_with(AutomaticRules(CTX))
    async with pool.acquire() as conn:
        # unknown altogether; known only from a receipt later in the batch
        for batch in ([*events[:5], (stray, ack)], [following, received]):
            with pytest.raises(LookupError):
                async with conn.transaction():
                    await projection.apply_batch(conn, batch)
            with pytest.raises(LookupError):  # as one event at a time would
                async with conn.transaction():
                    for envelope, data in batch:
                        await projection.apply(conn, envelope, data)


def log_with_exceptions() -> list[Event]:
    """``log_of_life`` and then, for its complaints, the facts of issue 15: transfers (转派)
    and send-backs (退单), a helping department, office transfers asked and accepted, major
    flags and unflags by hand, re-judgments (supervision-line complaints judged invalid and
    valid again: the rules unflag and flag them), closing summaries."""
    events = log_of_life()
    rng = random.Random(15)
    at = max(env.occurred_at for env, _ in events)
    extra: list[Event] = []

    def add(envelope: Envelope, data: EventData) -> None:
        nonlocal at
        at = at + timedelta(minutes=rng.uniform(1, 30))
        extra.append(
            (
                new_envelope(
                    data,
                    event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                    complaint_id=envelope.complaint_id,
                    occurred_at=at,
                    recorded_at=at,
                    source="test",
                    correlation_id=envelope.complaint_id,
                ),
                data,
            )
        )

    receipts = [(env, data) for env, data in events if isinstance(data, ComplaintReceived)]
    supervision = [r for r in receipts if r[1].channel is Channel.SUPERVISION]
    assert supervision, "the log has supervision-line complaints to re-judge"
    for n, (envelope, received) in enumerate(receipts[:12]):
        if n % 2:
            add(
                envelope,
                ComplaintTransferred(
                    actor=HEAD,
                    from_department="工程部",
                    to_department="秩序维护部",
                    reason="转派",
                    deadline=at + timedelta(days=2),
                    helper_department="工程部",
                ),
            )
            add(envelope, ComplaintSentBack(actor=DEPT, department="秩序维护部", reason="退单"))
            add(
                envelope,
                DepartmentAssigned(
                    actor=HEAD,
                    department="环境部",
                    deadline=at + timedelta(days=3),
                    reason="manual",
                    helper_department="工程部",
                ),
            )
            add(envelope, OfficeTransferRequested(actor=PM, to_office="G小城", reason="转办"))
            add(
                envelope,
                ComplaintOfficeTransferred(
                    actor=PM, from_office=received.office, to_office="G小城", reason="转办"
                ),
            )
        else:
            add(envelope, MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="影响较大", actor=PM))
            add(envelope, MajorComplaintUnflagged(actor=PM, reason="经核实非重大"))
            add(envelope, ComplaintClosed(actor=HEAD, summary="处理及时"))
    for envelope, _ in supervision:
        for validity, previous in (
            (Validity.INVALID, Validity.VALID),
            (Validity.VALID, Validity.INVALID),
        ):
            category = None if validity is Validity.INVALID else ServiceCategory.SECURITY
            add(
                envelope,
                ComplaintRejudged(
                    actor=HEAD,
                    validity=validity,
                    category=category,
                    previous_validity=previous,
                    reason="复核",
                ),
            )
    return events + extra


async def test_batches_fold_transfers_office_moves_and_major_judgments_as_one_at_a_time(
    pool: asyncpg.Pool,
) -> None:
    events = log_with_exceptions()
    async with pool.acquire() as conn:
        await one_at_a_time(conn, events)
        reference = await snapshot(conn)
        for size in (len(events), 7, 1):
            await clear(conn, journal=True)
            await in_batches(conn, events, size)
            assert await snapshot(conn) == reference, f"batches of {size}"
        # The rebuild of that log (derived events where the relay put them) decides nothing
        # again and restores the same states.
        derived: dict[uuid.UUID, list[Event]] = {}
        for _, _, payload in reference["outbox"]:
            envelope, data = decode_event(payload)
            assert envelope.causation_id is not None
            derived.setdefault(envelope.causation_id, []).append((envelope, data))
        log = [e for event in events for e in [event, *derived.get(event[0].event_id, [])]]
        for size in (len(log), 13):
            await clear(conn, journal=False)
            await in_batches(conn, log, size)
            rebuilt = await snapshot(conn)
            assert rebuilt["states"] == reference["states"], f"rebuilt in batches of {size}"
            assert rebuilt["outbox"] == reference["outbox"]
            assert rebuilt["rule_runs"] == reference["rule_runs"]
            assert rebuilt["complaints"] == reference["complaints"]
    # The new facts were there: the rules unflagged and flagged again on re-judgment, offices
    # moved (the row's office is the new one), steps' clocks ran from their own instants.
    outbox = [decode_event(p)[0].type for _, _, p in reference["outbox"]]
    assert {"MajorComplaintUnflagged", "MajorComplaintFlagged"} <= set(outbox)
    assert "major_judgment" in {rule for _, rule in reference["rule_runs"]}
    moved = [c for c in reference["complaints"] if c["office"] == "G小城"]
    assert len(moved) >= 6 and all(c["clock_since"] is not None for c in moved)
    assert any(s.summary == "处理及时" for s in reference["states"].values())


async def test_a_batch_finds_the_prior_complaints_of_its_owners_and_of_its_units(
    pool: asyncpg.Pool,
) -> None:
    """``prior_candidates``: for a receipt, every complaint of the same owner (in any unit)
    and of the same unit of the same office (of any owner) within the window, each once —
    not the same unit name in another office, nor anything outside the window."""
    body = submission_body(0, "prior")
    body["complainant"] = {"name": "业主", "phone": "13900000001"}
    envelope, receipt = decode_event(encode_event(received_event(body)))  # as the log has it
    assert isinstance(receipt, ComplaintReceived)
    owner = vault.ref_of(CTX.pepper, receipt)
    other = vault.complainant_ref(CTX.pepper, "13900000002")
    at, office, unit = receipt.occurred_at, receipt.office, receipt.unit
    rows = {
        "both": (owner, office, unit, at),
        "same unit, other owner": (other, office, unit, at + timedelta(days=1)),
        "same owner, other unit": (owner, "另一个项目", "9栋901", at - timedelta(days=2)),
        "same unit name, other office": (other, "另一个项目", unit, at),
        "same owner, too early": (owner, office, unit, at - timedelta(days=40)),
        "nothing in common": (other, "另一个项目", "9栋901", at),
    }
    ids = {name: uuid.uuid4() for name in rows}
    async with pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {GEN}.complaints")
        for name, (ref, where, flat, when) in rows.items():
            await conn.execute(
                f"""INSERT INTO {GEN}.complaints (complaint_id, office, unit, channel,
                        owner_ref, occurred_at, status, escalation_level, version)
                    VALUES ($1, $2, $3, 'hotline', $4, $5, 'received', 'none', 1)""",
                ids[name],
                where,
                flat,
                ref,
                when,
            )
        found = await store.prior_candidates(conn, [receipt], timedelta(days=7), CTX.pepper)
        every = await conn.fetch(
            f"SELECT complaint_id, occurred_at, owner_ref, unit, office FROM {GEN}.complaints"
        )
    expected = sorted(ids[n] for n in ("both", "same unit, other owner", "same owner, other unit"))
    assert sorted(r["complaint_id"] for r in found) == expected
    # The batch's journal picks a receipt's own from candidates read for other receipts too.
    by_id = {r["complaint_id"]: r for r in every}
    journal = BatchJournal(CTX, set(), set(), set(), set(), every, {})
    prior = await journal.prior(None, CTX, envelope, receipt)  # type: ignore[arg-type]
    assert sorted(prior) == sorted(
        (by_id[i]["occurred_at"], by_id[i]["owner_ref"], by_id[i]["unit"], by_id[i]["office"])
        for i in expected
    )

"""The workflow's service layer: apply events, decide commands, run the automatic rules.

Both doors lead through ``append``: a staff command (decided here, published through the
outbox) and an event read from the log (decided elsewhere, or by this service before). Each
appended event may trigger automatic rules, whose events get ids derived from the event that
caused them, so a replay of the log re-derives the same ids instead of deciding anew.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData, Validity, new_envelope
from contracts.envelope import envelope_json
from contracts.intake import ID_NAMESPACE
from contracts.lifecycle import (
    ComplaintEscalated,
    ComplaintJudged,
    ComplaintRejudged,
    DepartmentProposed,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
)
from contracts.sla import SlaBreached
from services.runtime import outbox, vault
from services.runtime import store as runtime_store
from services.runtime.outbox import enqueue
from services.runtime.store import mark_applied, mark_applied_many
from services.workflow import store
from services.workflow.commands import Command, Merge
from services.workflow.domain import (
    MajorPolicy,
    MergeTarget,
    OfficePolicy,
    RoutingRules,
    State,
    Status,
    check_merge_target,
    clock_stage,
    decide,
    detect_major,
    escalate,
    evolve,
    judge_major,
    next_deadline,
    route,
)


@dataclass(frozen=True)
class Rules:
    """The data the automatic rules read (routing table, major-complaint policy: the office
    policy's ``major`` section, as the service passes it) and the office policy."""

    routing: RoutingRules
    major: MajorPolicy = field(default_factory=MajorPolicy)
    office: OfficePolicy = field(default_factory=OfficePolicy)


def _since(before: State, after: State, since: datetime | None, at: datetime) -> datetime | None:
    """When the clock of the complaint's step began, after an event at ``at`` took it from
    ``before`` to ``after``: that event's instant when it changed the step, else as it was."""
    return at if clock_stage(after) != clock_stage(before) else since


def _deadline(
    ctx: Context, state: State, occurred_at: datetime, since: datetime | None
) -> tuple[str, datetime] | None:
    return next_deadline(state, occurred_at, since, ctx.rules.office.clocks)


@dataclass(frozen=True)
class Context:
    """Where appended events come from and go to."""

    consumer: str  # the projection consumer whose processed_events the decided events join
    topic: str
    rules: Rules
    pepper: bytes  # of complainant references (services.runtime.vault), for older receipts


def derived_id(kind: str, cause: UUID) -> UUID:
    """The id of the event a rule derives from ``cause``: the same on every replay."""
    return uuid.uuid5(ID_NAMESPACE, f"{kind}:{cause}")


async def apply_logged(
    conn: asyncpg.Connection, ctx: Context, envelope: Envelope, data: EventData
) -> None:
    """Apply an event read from the log, one at a time (the consumer's ``apply``).

    The reference path: the state is folded from the whole history, as it always was; the row
    then stores it for the batch path and the commands (``apply_logged_batch``).
    """
    if isinstance(data, ComplaintReceived):
        await store.insert_complaint(conn, envelope, data, ctx.pepper)
    row = await store.lock_complaint(conn, envelope.complaint_id)
    if row is None:
        raise LookupError(f"{envelope.type} for unknown complaint {envelope.complaint_id}")
    state = await store.load_state(conn, envelope.complaint_id)
    state, since = await _append(
        conn, ctx, row["occurred_at"], state, row["clock_since"], [(envelope, data)]
    )
    await store.save_summary(
        conn,
        envelope.complaint_id,
        state,
        _deadline(ctx, state, row["occurred_at"], since),
        since,
    )


async def apply_logged_batch(
    conn: asyncpg.Connection, ctx: Context, events: Sequence[tuple[Envelope, EventData]]
) -> None:
    """Apply a batch of events read from the log: the same rows as ``apply_logged`` for each
    in turn, with a handful of statements for the whole batch instead of several per event.

    The batch's receipts create their complaints with one statement; its complaints are locked
    and their stored states read with one more (no history replay); every event is folded in
    memory, in log order, each followed by the events the rules derive from it; then the
    history rows go in with one COPY and each complaint's summary and state with one UPDATE.
    The rules' statements are batched too (``_BatchJournal``), their decisions unchanged.
    An event for a complaint not received before it raises ``LookupError``, as one at a time
    would: the consumer then applies the batch event by event to park that one.
    """
    received = [(env, data) for env, data in events if isinstance(data, ComplaintReceived)]
    created = await store.insert_complaints(conn, received, ctx.pepper)
    created_by = _created_by(events, created)
    ids = list(dict.fromkeys(env.complaint_id for env, _ in events))
    rows = await store.lock_complaints(conn, ids)
    states = await store.load_states(conn, rows.values())
    since = {cid: row["clock_since"] for cid, row in rows.items()}
    journal = await _BatchJournal.prepare(conn, ctx, events, created_by)
    history: list[store.HistoryRow] = []
    for n, (envelope, data) in enumerate(events):
        cid = envelope.complaint_id
        if cid not in rows or created_by.get(cid, n) > n:
            raise LookupError(f"{envelope.type} for unknown complaint {cid}")
        if not isinstance(data, _CAUSES):  # no rule can run: the fold of ``_fold``, inline
            state = evolve(states[cid], data)
            since[cid] = _since(states[cid], state, since[cid], envelope.occurred_at)
            states[cid] = state
            history.append(
                (
                    cid,
                    state.version,
                    envelope.event_id,
                    envelope.type,
                    envelope_json(envelope),
                )
            )
            continue
        journal.position = n
        states[cid], since[cid] = await _fold(
            conn, ctx, states[cid], since[cid], [(envelope, data)], history, journal
        )
    await journal.finish(conn)
    await store.add_history_rows(conn, history)
    await store.save_summaries(
        conn,
        [
            (
                cid,
                states[cid],
                _deadline(ctx, states[cid], rows[cid]["occurred_at"], since[cid]),
                since[cid],
            )
            for cid in ids
        ],
    )


def _created_by(
    events: Sequence[tuple[Envelope, EventData]], created: Collection[UUID]
) -> dict[UUID, int]:
    """Each complaint the batch created (``created``) → the position of its receipt."""
    created_by: dict[UUID, int] = {}
    for n, (env, data) in enumerate(events):
        if isinstance(data, ComplaintReceived) and env.complaint_id in created:
            created_by.setdefault(env.complaint_id, n)
    return created_by


class _Journal:
    """What the automatic rules read and write, one statement at a time: whether a rule runs
    for a causing event (at most once ever: ``workflow.rule_runs``), the complaints the repeat
    rule counts, and the outbox the derived events go to (marked applied: the consumer skips
    them when they come back from the log)."""

    async def first(self, conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
        """Record that ``rule`` runs for ``cause``; ``False`` if it ran before (a replay)."""
        return await _first_evaluation(conn, cause, rule)

    async def prior(
        self, conn: asyncpg.Connection, ctx: Context, envelope: Envelope, data: ComplaintReceived
    ) -> list[tuple[datetime, str, str, str]]:
        """The other complaints the repeat rule sees for this receipt."""
        return await store.prior_complaints(
            conn,
            data,
            envelope.complaint_id,
            ctx.rules.major.window,
            vault.ref_of(ctx.pepper, data),
        )

    async def enqueue(self, conn: asyncpg.Connection, ctx: Context, envelope: Envelope) -> bool:
        """Put a derived event into the outbox; ``False`` if it is there already (decided
        before this replay; its logged copy will come)."""
        if await enqueue(conn, store.SCHEMA, ctx.topic, envelope):
            await mark_applied(conn, ctx.consumer, envelope.event_id)
            return True
        return False


# The causing events a rule may run for, and the events each rule may derive.
_CAUSES = (ComplaintReceived, ComplaintJudged, ComplaintRejudged, SlaBreached)
_DERIVES = {
    "major": (MajorComplaintFlagged.event_type,),
    "routing": (DepartmentProposed.event_type,),
    "escalation": (ComplaintEscalated.event_type,),
    # a judgment makes a complaint major by rule, or no longer (``judge_major``)
    "major_judgment": (MajorComplaintFlagged.event_type, MajorComplaintUnflagged.event_type),
}


def _candidate_rules(data: EventData) -> list[str]:
    """The rules an event may cause, judged from the event alone (``_rules`` also needs the
    complaint's state, known only once the event is folded)."""
    match data:
        case ComplaintReceived():
            return ["major"]
        case ComplaintJudged():
            routed = data.validity is not Validity.INVALID and data.category is not None
            return ["routing", "major_judgment"] if routed else ["major_judgment"]
        case ComplaintRejudged():
            return ["major_judgment"]
        case SlaBreached():
            return ["escalation"]
    return []


def _derived_ids(cause: UUID, rule: str) -> list[UUID]:
    return [derived_id(kind, cause) for kind in _DERIVES[rule]]


class _BatchJournal(_Journal):
    """The rules' statements for a whole batch, decisions unchanged.

    Before the fold, every rule the batch's events may cause is journalled with one statement
    (the journal ends as one event at a time would leave it: a rule journalled for an event
    the fold then finds it does not apply to is taken out again); the pairs it returns are the
    rules never run before, the only ones decided. The outbox is asked once which of their
    derived events it holds already, and the repeat rule's candidates are read once
    (``position``: complaints the batch created for receipts after the event folded now do
    not count, as they did not exist yet one event at a time). After the fold the derived
    events go to the outbox, in the order decided, and to ``processed_events`` together. A
    cause or a derived event not foreseen here takes the one-statement path (``_Journal``).
    """

    def __init__(
        self,
        ctx: Context,
        tried: set[tuple[UUID, str]],
        fresh: set[tuple[UUID, str]],
        in_outbox: set[UUID],
        candidates: list[asyncpg.Record],
        created_by: dict[UUID, int],
    ) -> None:
        self.ctx = ctx
        self.tried = tried  # the pairs journalled before the fold (``fresh``: newly)
        self.fresh = fresh
        self.asked: set[tuple[UUID, str]] = set()
        self.checked = {i for cause, rule in fresh for i in _derived_ids(cause, rule)}
        self.in_outbox = in_outbox
        self.candidates = candidates
        self.created_by = created_by
        self.position = 0
        self.outbox: list[Envelope] = []

    @classmethod
    async def prepare(
        cls,
        conn: asyncpg.Connection,
        ctx: Context,
        events: Sequence[tuple[Envelope, EventData]],
        created_by: dict[UUID, int],
    ) -> _BatchJournal:
        pairs = [(env.event_id, rule) for env, data in events for rule in _candidate_rules(data)]
        fresh = await store.journal_rules(conn, pairs)
        in_outbox = await runtime_store.in_outbox(
            conn, store.SCHEMA, [i for cause, rule in fresh for i in _derived_ids(cause, rule)]
        )
        receipts = [
            data
            for env, data in events
            if isinstance(data, ComplaintReceived) and (env.event_id, "major") in fresh
        ]
        candidates = await store.prior_candidates(
            conn, receipts, ctx.rules.major.window, ctx.pepper
        )
        return cls(ctx, set(pairs), fresh, in_outbox, candidates, created_by)

    async def first(self, conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
        if (cause, rule) not in self.tried:  # a cause not foreseen: one statement, as ever
            return await super().first(conn, cause, rule)
        self.asked.add((cause, rule))
        return (cause, rule) in self.fresh

    async def prior(
        self, conn: asyncpg.Connection, ctx: Context, envelope: Envelope, data: ComplaintReceived
    ) -> list[tuple[datetime, str, str, str]]:
        window = ctx.rules.major.window
        low, high = data.occurred_at - window, data.occurred_at + window
        owner = vault.ref_of(ctx.pepper, data)
        return [
            (r["occurred_at"], r["owner_ref"], r["unit"], r["office"])
            for r in self.candidates
            if r["complaint_id"] != envelope.complaint_id
            and (r["owner_ref"] == owner or (r["office"] == data.office and r["unit"] == data.unit))
            and low <= r["occurred_at"] <= high
            and self.created_by.get(r["complaint_id"], -1) <= self.position
        ]

    async def enqueue(self, conn: asyncpg.Connection, ctx: Context, envelope: Envelope) -> bool:
        if envelope.event_id not in self.checked:  # not foreseen: one statement, as ever
            return await super().enqueue(conn, ctx, envelope)
        if envelope.event_id in self.in_outbox:
            return False
        self.in_outbox.add(envelope.event_id)
        self.outbox.append(envelope)
        return True

    async def finish(self, conn: asyncpg.Connection) -> None:
        """Write what the fold decided: outbox, processed events, the journal set right."""
        await store.journal_unrun(conn, self.fresh - self.asked)
        await outbox.enqueue_many(conn, store.SCHEMA, self.ctx.topic, self.outbox)
        await mark_applied_many(conn, self.ctx.consumer, [env.event_id for env in self.outbox])


@dataclass(frozen=True)
class Decided:
    """What a command did: the complaint's new state and the events it appended."""

    state: State
    events: list[Envelope]
    replayed: bool = False  # the same idempotency key was used before: nothing new happened


async def handle_command(
    conn: asyncpg.Connection,
    ctx: Context,
    complaint_id: UUID,
    command: Command,
    *,
    now: datetime,
    idempotency_key: str | None = None,
    authorize: Callable[[State], None] | None = None,
) -> Decided | None:
    """Decide a command against the complaint's current state, in the caller's transaction.

    The complaint's row is locked first, so two commands on one complaint are decided one after
    the other, the second against the state the first left. ``authorize`` sees that state
    first (the caller's office check: the office is the state's, transfers included) and
    raises to refuse. Returns ``None`` for an unknown complaint; raises ``CommandRejected``
    when the procedure forbids the command (``InvalidCommand`` when it names what cannot be,
    such as a complaint to merge into that does not exist).
    """
    row = await store.lock_complaint(conn, complaint_id)
    if row is None:
        return None
    state = await store.current_state(conn, row)
    if authorize is not None:
        authorize(state)
    if idempotency_key and await store.has_event(
        conn, command_event_id(complaint_id, idempotency_key, 0)
    ):
        return Decided(state=state, events=[], replayed=True)
    decided = decide(command, state, now=now, policy=ctx.rules.office)
    if isinstance(command, Merge):
        await _check_merge(conn, complaint_id, command, state)
    envelopes = _command_envelopes(complaint_id, command, decided, now, idempotency_key)
    for env in envelopes:
        await enqueue(conn, store.SCHEMA, ctx.topic, env)
        await mark_applied(conn, ctx.consumer, env.event_id)
    state, since = await _append(
        conn,
        ctx,
        row["occurred_at"],
        state,
        row["clock_since"],
        list(zip(envelopes, decided, strict=True)),
    )
    await store.save_summary(
        conn, complaint_id, state, _deadline(ctx, state, row["occurred_at"], since), since
    )
    return Decided(state=state, events=envelopes)


async def _check_merge(
    conn: asyncpg.Connection, complaint_id: UUID, command: Merge, state: State
) -> None:
    """Refuse a merge into a complaint that is missing, ended or another office's."""
    target = await store.summary(conn, command.into_complaint_id)
    check_merge_target(
        complaint_id,
        command,
        state,
        MergeTarget(Status(target["status"]), target["office"]) if target else None,
    )


def _command_envelopes(
    complaint_id: UUID,
    command: Command,
    decided: list[EventData],
    now: datetime,
    idempotency_key: str | None,
) -> list[Envelope]:
    """The decided events as they go to the log: ids from the idempotency key (a retried
    command gets the same ones), decided and recorded now, caused by the command."""
    return [
        new_envelope(
            data,
            event_id=command_event_id(complaint_id, idempotency_key, n),
            complaint_id=complaint_id,
            occurred_at=now,
            recorded_at=now,
            source=f"workflow/{command.name}",
            correlation_id=complaint_id,
        )
        for n, data in enumerate(decided)
    ]


def command_event_id(complaint_id: UUID, idempotency_key: str | None, n: int) -> UUID:
    """The id of a command's ``n``-th event: random, or derived from the client's key."""
    if idempotency_key is None:
        return uuid.uuid4()
    return uuid.uuid5(ID_NAMESPACE, f"command:{complaint_id}:{idempotency_key}:{n}")


async def _append(
    conn: asyncpg.Connection,
    ctx: Context,
    occurred_at: datetime,
    state: State,
    since: datetime | None,
    events: list[tuple[Envelope, EventData]],
) -> tuple[State, datetime | None]:
    """Fold events into the history, then the events the automatic rules derive from them;
    the state after them, and since when its step's clock runs."""
    history: list[store.HistoryRow] = []
    state, since = await _fold(conn, ctx, state, since, events, history, _Journal())
    for complaint_id, seq, event_id, kind, envelope in history:
        await store.add_history(conn, complaint_id, seq, event_id, kind, envelope)
    return state, since


async def _fold(
    conn: asyncpg.Connection,
    ctx: Context,
    state: State,
    since: datetime | None,
    events: list[tuple[Envelope, EventData]],
    history: list[store.HistoryRow],
    journal: _Journal,
) -> tuple[State, datetime | None]:
    """Evolve ``state`` by events, each followed by the events the rules derive from it;
    add their history rows to ``history``. ``since``: when the clock of the complaint's step
    began (``_since``), kept along."""
    queue = list(events)
    while queue:
        envelope, data = queue.pop(0)
        before, state = state, evolve(state, data)
        since = _since(before, state, since, envelope.occurred_at)
        history.append(
            (
                envelope.complaint_id,
                state.version,
                envelope.event_id,
                envelope.type,
                envelope_json(envelope),
            )
        )
        for derived_env, derived in await _rules(conn, ctx, envelope, data, state, journal):
            if await journal.enqueue(conn, ctx, derived_env):
                queue.append((derived_env, derived))
    return state, since


async def _first_evaluation(conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
    """Record that ``rule`` runs for ``cause``; ``False`` if it ran before (a replay)."""
    return await store.first_evaluation(conn, cause, rule)


async def _rules(
    conn: asyncpg.Connection,
    ctx: Context,
    envelope: Envelope,
    data: EventData,
    state: State,
    journal: _Journal,
) -> list[tuple[Envelope, EventData]]:
    """The automatic rules: major on receipt, routing on judgement, major again on a
    judgment or re-judgment (``judge_major``: flag, or unflag when the rule no longer holds),
    escalation on a breach.

    Each rule is evaluated once per causing event, ever: on a replay its decision is already
    in the log, and deciding again (against another arrival order) could differ.
    """
    derived: list[EventData] = []
    if isinstance(data, ComplaintReceived):
        if await journal.first(conn, envelope.event_id, "major"):
            prior = await journal.prior(conn, ctx, envelope, data)
            owner = vault.ref_of(ctx.pepper, data)
            flagged = detect_major(data, prior, ctx.rules.major, owner=owner)
            if flagged is not None:
                derived.append(flagged)
    elif isinstance(data, ComplaintJudged | ComplaintRejudged):
        if (
            isinstance(data, ComplaintJudged)
            and data.validity is not Validity.INVALID
            and data.category is not None
            and state.office is not None
            and await journal.first(conn, envelope.event_id, "routing")
        ):
            derived.append(route(data.category, state.office, ctx.rules.routing))
        verdict = judge_major(state, ctx.rules.major)
        if verdict is not None and await journal.first(conn, envelope.event_id, "major_judgment"):
            derived.append(verdict)
    elif isinstance(data, SlaBreached) and await journal.first(
        conn, envelope.event_id, "escalation"
    ):
        # The breach happened at its deadline: judge the escalation at that instant.
        escalation = escalate(
            state, timer=data.timer, deadline=data.deadline, now=envelope.occurred_at
        )
        if escalation is not None:
            derived.append(escalation)
    return [
        (
            new_envelope(
                event,
                event_id=derived_id(event.event_type, envelope.event_id),
                complaint_id=envelope.complaint_id,
                occurred_at=envelope.recorded_at,
                recorded_at=envelope.recorded_at,
                source="workflow/rules",
                correlation_id=envelope.correlation_id,
                causation_id=envelope.event_id,
            ),
            event,
        )
        for event in derived
    ]

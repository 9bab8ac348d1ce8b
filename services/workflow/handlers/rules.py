"""The automatic rules (routing, major complaints, escalation) and their journal: the workflow's
reactor (``services.runtime.consumer.reactor``), run inside its state projection and after each
staff command; each rule runs at most once for its causing event, one event at a time or for a
whole batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import asyncpg

from contracts import ComplaintReceived, Envelope, EventData, Validity
from contracts.lifecycle import (
    ComplaintEscalated,
    ComplaintJudged,
    ComplaintRejudged,
    DepartmentProposed,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
)
from contracts.sla import SlaBreached
from services.runtime import store as runtime_store
from services.runtime import vault
from services.runtime.consumer.reactor import Event, derived_envelope, derived_id
from services.runtime.outbox import emit
from services.workflow import store
from services.workflow.domain import (
    State,
    detect_major,
    escalate,
    judge_major,
    route,
)
from services.workflow.handlers.context import Context


class Journal:
    """What the automatic rules read and write, one statement at a time: whether a rule runs
    for a causing event (at most once ever: ``workflow.rule_runs``), the complaints the repeat
    rule counts, and the outbox the derived events go to (marked applied: the consumer skips
    them when they come back from the log)."""

    async def first(self, conn: asyncpg.Connection, cause: UUID, rule: str) -> bool:
        """Record that ``rule`` runs for ``cause``; ``False`` if it ran before (a replay)."""
        return await store.first_evaluation(conn, cause, rule)

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
        """Emit a derived event (``outbox.emit``); ``False`` if it is in the outbox already
        (decided before this replay; its logged copy will come)."""
        return envelope.event_id in await emit(
            conn, store.SCHEMA, ctx.topic, ctx.consumer, [envelope]
        )


# The causing events a rule may run for, and the events each rule may derive.
CAUSES = (ComplaintReceived, ComplaintJudged, ComplaintRejudged, SlaBreached)


_DERIVES = {
    "major": (MajorComplaintFlagged.event_type,),
    "routing": (DepartmentProposed.event_type,),
    "escalation": (ComplaintEscalated.event_type,),
    # a judgment makes a complaint major by rule, or no longer (``judge_major``)
    "major_judgment": (MajorComplaintFlagged.event_type, MajorComplaintUnflagged.event_type),
}


def _candidate_rules(data: EventData) -> list[str]:
    """The rules an event may cause, judged from the event alone (``run_rules`` also needs the
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


class BatchJournal(Journal):
    """The rules' statements for a whole batch, decisions unchanged.

    Before the fold, every rule the batch's events may cause is journalled with one statement
    (the journal ends as one event at a time would leave it: a rule journalled for an event
    the fold then finds it does not apply to is taken out again); the pairs it returns are the
    rules never run before, the only ones decided. The outbox is asked once which of their
    derived events it holds already, and the repeat rule's candidates are read once
    (``position``: complaints the batch created for receipts after the event folded now do
    not count, as they did not exist yet one event at a time). After the fold the derived
    events go to the outbox, in the order decided, and to ``processed_events`` together. A
    cause or a derived event not foreseen here takes the one-statement path (``Journal``).
    """

    def __init__(
        self,
        ctx: Context,
        tried: set[tuple[UUID, str]],
        fresh: set[tuple[UUID, str]],
        checked: set[UUID],
        in_outbox: set[UUID],
        candidates: list[asyncpg.Record],
        created_by: Mapping[UUID, int],
    ) -> None:
        self.ctx = ctx
        self.tried = tried  # the pairs journalled before the fold (``fresh``: newly)
        self.fresh = fresh
        self.asked: set[tuple[UUID, str]] = set()
        self.checked = checked  # the ids of every event the fresh pairs may derive
        self.in_outbox = in_outbox
        # Each candidate's position, by owner and by (office, unit): a receipt looks at its own
        # two groups, not at every candidate of the batch.
        self.candidates = candidates
        self.by_owner: dict[str, list[int]] = {}
        self.by_unit: dict[tuple[str, str], list[int]] = {}
        for at, r in enumerate(candidates):
            self.by_owner.setdefault(r["owner_ref"], []).append(at)
            self.by_unit.setdefault((r["office"], r["unit"]), []).append(at)
        self.created_by = created_by
        self.position = 0
        self.outbox: list[Envelope] = []

    @classmethod
    async def prepare(
        cls,
        conn: asyncpg.Connection,
        ctx: Context,
        events: Sequence[Event],
        created_by: Mapping[UUID, int],
    ) -> BatchJournal:
        pairs = [(env.event_id, rule) for env, data in events for rule in _candidate_rules(data)]
        fresh = await store.journal_rules(conn, pairs)
        checked = [i for cause, rule in fresh for i in _derived_ids(cause, rule)]
        in_outbox = await runtime_store.in_outbox(conn, store.SCHEMA, checked)
        receipts = [
            data
            for env, data in events
            if isinstance(data, ComplaintReceived) and (env.event_id, "major") in fresh
        ]
        candidates = await store.prior_candidates(
            conn, receipts, ctx.rules.major.window, ctx.pepper
        )
        return cls(ctx, set(pairs), fresh, set(checked), in_outbox, candidates, created_by)

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
        mine = self.by_owner.get(owner, []) + self.by_unit.get((data.office, data.unit), [])
        return [
            (r["occurred_at"], r["owner_ref"], r["unit"], r["office"])
            for r in (self.candidates[at] for at in sorted(set(mine)))  # in the read's order
            if r["complaint_id"] != envelope.complaint_id
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
        await emit(conn, store.SCHEMA, self.ctx.topic, self.ctx.consumer, self.outbox)


class AutomaticRules:
    """The workflow's reactor: the automatic rules, their journal, and the outbox their events
    go to (``Reactor``; one at a time, or ``for_batch``)."""

    causes = CAUSES

    def __init__(self, ctx: Context, journal: Journal | None = None) -> None:
        self.ctx = ctx
        self.journal = journal or Journal()

    async def react(
        self, conn: asyncpg.Connection, cause: Envelope, data: EventData, state: State
    ) -> list[Event]:
        """The events the rules derive from ``cause`` now, in the outbox; none if decided
        before (their logged copies will come)."""
        emitted = []
        for derived_env, derived in await run_rules(
            conn, self.ctx, cause, data, state, self.journal
        ):
            if await self.journal.enqueue(conn, self.ctx, derived_env):
                emitted.append((derived_env, derived))
        return emitted

    async def for_batch(
        self, conn: asyncpg.Connection, events: Sequence[Event], created_by: Mapping[UUID, int]
    ) -> BatchRules:
        return BatchRules(self.ctx, await BatchJournal.prepare(conn, self.ctx, events, created_by))


class BatchRules(AutomaticRules):
    """The rules for one batch (``BatchJournal``)."""

    journal: BatchJournal

    def __init__(self, ctx: Context, journal: BatchJournal) -> None:
        super().__init__(ctx, journal)

    @property
    def position(self) -> int:
        return self.journal.position

    @position.setter
    def position(self, at: int) -> None:
        self.journal.position = at

    async def finish(self, conn: asyncpg.Connection) -> None:
        await self.journal.finish(conn)


async def run_rules(
    conn: asyncpg.Connection,
    ctx: Context,
    envelope: Envelope,
    data: EventData,
    state: State,
    journal: Journal,
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
        (derived_envelope(envelope, event, source="workflow/rules"), event) for event in derived
    ]

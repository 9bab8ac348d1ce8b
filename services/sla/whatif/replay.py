"""The scratch replay of a period under both rules, and the report it makes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.runtime.builder import replay_to_end
from services.runtime.consumer import ProjectionConsumer
from services.runtime.settings import Settings
from services.runtime.spec import Now
from services.sla.policy import SlaPolicy
from services.sla.scheduler import SlaRules
from services.sla.whatif.inputs import Period
from services.sla.whatif.judging import Outcome, compare, judged_in_offices, published_check
from services.sla.whatif.projection import EitherRules, WhatIfProjection
from services.sla.whatif.report import WhatIfReport
from services.sla.whatif.store import (
    SCRATCH_PREFIX,
    Replayed,
    create_scratch,
    drop_abandoned,
    leased,
    read_scratch,
)

CONSUMER = "sla.whatif"


def scratch_name() -> str:
    """A fresh scratch schema name: ``sla_whatif_<12 hex digits>``."""
    return f"{SCRATCH_PREFIX}{uuid.uuid4().hex[:12]}"


async def replay(
    settings: Settings,
    pool: asyncpg.Pool,
    rules: SlaRules,
    period: Period,
    *,
    scratch: str | None = None,
    now: Now = lambda: datetime.now(UTC),
) -> Replayed:
    """Replay the log into a scratch schema, read the period's complaints, drop the schema.

    The scratch schema is leased meanwhile (``store.leased``); those of what-ifs that died
    are dropped first.
    """
    scratch = scratch or scratch_name()
    async with pool.acquire() as lease, leased(lease, scratch):
        await drop_abandoned(lease)
        return await _replay_into(settings, pool, rules, period, scratch, now)


async def _replay_into(
    settings: Settings,
    pool: asyncpg.Pool,
    rules: SlaRules,
    period: Period,
    scratch: str,
    now: Now,
) -> Replayed:
    async with pool.acquire() as conn, conn.transaction():
        await create_scratch(conn, scratch)
    # The builder's machinery, aimed at the scratch schema: the consumer's bookkeeping and its
    # writes go there (search_path = the scratch schema only), and it has no broker.
    base = ProjectionConsumer(
        name=CONSUMER,
        schema=scratch,
        projection=WhatIfProjection(rules, period),
        topic=settings.topic_events,
        deadletter_topic=settings.topic_deadletter,
        pool=lambda: pool,
    )
    consumer = base.builder_copy(0, scratch)
    read_at = now()
    events = await replay_to_end(settings, [consumer])
    async with pool.acquire() as conn:
        return await read_scratch(conn, scratch, events, read_at)


def outcomes(replayed: Replayed, live: SlaRules, other: SlaRules, until: datetime) -> list[Outcome]:
    """Each replayed complaint judged at ``until`` under both rules. Pure."""
    out = []
    for cid, office, occurred_at, history in replayed.complaints:
        args: dict[str, Any] = {"complaint_id": cid, "office": office, "until": until}
        was = judged_in_offices(history, rules=live, **args)
        would = judged_in_offices(history, rules=other, **args)
        out.append(
            Outcome(
                complaint_id=cid,
                office=office,
                occurred_at=occurred_at,
                was=frozenset(was),
                would=frozenset(would),
                published=frozenset(
                    alert for alert, due in replayed.published.get(cid, []) if due <= until
                ),
                was_offices={a: o for a, o in was.items() if o != office},
                would_offices={a: o for a, o in would.items() if o != office},
            )
        )
    return out


def timer_labels(*policies: SlaPolicy) -> tuple[list[str], dict[str, str]]:
    """The timer kinds of the policies, in order, and their labels (the first policy's)."""
    order: list[str] = []
    labels: dict[str, str] = {}
    for policy in policies:
        for kind in policy.kinds:
            if kind not in labels:
                order.append(kind)
                labels[kind] = policy.timer(kind, "").label
    return order, labels


async def what_if(
    settings: Settings,
    pool: asyncpg.Pool,
    *,
    live: SlaRules,
    other: SlaRules,
    period: Period,
    live_name: str,
    other_name: str,
    now: Now = lambda: datetime.now(UTC),
) -> WhatIfReport:
    """Replay ``period`` under ``other`` beside ``live`` and compare (see the module)."""
    replayed = await replay(
        settings, pool, EitherRules(live.policy, live.calendar, other), period, now=now
    )
    # As the live scheduler: a deadline is judged a grace after the log was read, so that a
    # stop decided just before (still in another service's outbox) is not missed.
    grace = timedelta(seconds=float(getattr(settings, "sla_grace_s", 0.0)))
    until = min(period.end, replayed.read_at - grace)
    # The folds are CPU work (calendar arithmetic): off the event loop, so a service that
    # runs a what-if goes on answering.
    found = await asyncio.to_thread(outcomes, replayed, live, other, until)
    order, labels = timer_labels(live.policy, other.policy)
    return WhatIfReport(
        period=period,
        until=until,
        log_read_at=replayed.read_at,
        live=live_name,
        other=other_name,
        comparison=compare(found, order),
        events_replayed=replayed.events,
        dead_letters=replayed.dead_letters,
        published=published_check(found),
        labels=labels,
    )

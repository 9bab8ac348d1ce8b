"""What if the SLA policy or the business calendar had been another? (issue 13, point 4)

``complaints what-if sla --policy other.yaml --from 2026-01-01 --to 2026-02-28`` and
``POST /v1/sla/what-if`` replay a period's history under other rules and compare, per office
and timer kind, the warnings and breaches as they were with those there would have been, and
name the complaints that change sides (breached before and not now, or the reverse).

How
    The log is replayed into a **scratch projection**, ``sla_whatif_<id>``, with the builder's
    own machinery: a ``ProjectionConsumer`` copy (``builder_copy``) writing only that schema,
    fed by ``replay_to_end`` up to where the log ends at the start, outside any consumer group.
    The consumer has no broker, so it can publish nothing (a record it cannot apply is only
    recorded); the projection (``WhatIfProjection``: SLA's own ``ClockProjection``, kept to the
    period's complaints) writes nothing but the scratch tables; the folds are pure. The
    scratch schema is dropped afterwards, whatever happens. Live tables are never written and
    not even read: everything comes from the log.

Which complaints, judged when
    The complaints *received in the period* (``ComplaintReceived.occurred_at``, days in China
    time, both ends inclusive, as in the monthly report). Each is folded (``timers.fold``) over
    its events up to ``until`` = the end of the period or the moment the log was read,
    whichever is earlier, and judged at ``until`` (``timers.owed``): a deadline falling after
    the period is not counted on either side.

"As they were" is the same fold under the live policy and calendar
    (the SLA service's, from ``COMPLAINTS_SLA_POLICY_FILE``/``..._CALENDAR_FILE``), over the same
    replayed history and judged at the same instant. So every difference shown comes from the
    rules alone, never from when the live scheduler happened to run, a policy in force earlier,
    or a deadline after the period. What the live service *really published* (the
    ``SlaWarning``/``SlaBreached`` of these complaints in the log, due by ``until``) is read by
    the same replay and set beside it as a check: ``published`` says how many breaches the log
    holds and lists every (complaint, timer) where it disagrees with the fold under the live
    rules — normally none; a disagreement means the live rules changed since, or the live
    scheduler has not judged that deadline yet.

Counts are complaints, not events: a complaint whose reply timer breached twice (reopened)
counts once for ``reply``; its hard breach counts in ``hard`` as well as in ``breached``.
A complaint moved to another office (``ComplaintOfficeTransferred``) counts each alert for the
office it belonged to at the alert's instant: its breaches before the transfer stay with the
old office, those after go to the new one (the company totals count it once).
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import yaml
from pydantic import ValidationError

from contracts import ComplaintReceived, Envelope, EventData, decode_event
from contracts.sla import AlertKind, SlaBreached, SlaWarning
from contracts.timezone import CHINA
from services.runtime.builder import replay_to_end
from services.runtime.consumer import ProjectionConsumer
from services.runtime.settings import Settings
from services.runtime.spec import Now
from services.runtime.store import consumer_tables_sql
from services.sla.calendar import BusinessCalendar, parse_calendar
from services.sla.policy import SlaPolicy, parse_policy
from services.sla.projection import ClockProjection
from services.sla.scheduler import SlaRules
from services.sla.timers import fold, owed

log = logging.getLogger(__name__)

SCHEMA_SQL = Path(__file__).with_name("schema.sql")
SCRATCH_PREFIX = "sla_whatif_"
CONSUMER = "sla.whatif"
MAX_YAML_CHARS = 200_000
EARLIEST_YEAR, LATEST_YEAR = 2000, 9998

Alert = tuple[str, AlertKind]
"""(timer kind, what happened to it): ``("reply", AlertKind.BREACHED)``."""


class WhatIfInputError(ValueError):
    """Bad input to a what-if: ``field`` names the option or body field, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --------------------------------------------------------------------------------------------
# The input: a period and the other rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Days in China time, both inclusive."""

    first: date
    last: date

    @classmethod
    def checked(cls, first: date, last: date, *, names: tuple[str, str] = ("from", "to")) -> Period:
        """The period, or ``WhatIfInputError`` naming the bad end."""
        for name, day in zip(names, (first, last), strict=True):
            if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                raise WhatIfInputError(name, f"must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}")
        if first > last:
            raise WhatIfInputError(
                names[0], f"the period starts ({first}) after it ends ({names[1]} {last})"
            )
        return cls(first, last)

    @property
    def start(self) -> datetime:
        """Midnight at the start of the first day, China time."""
        return datetime.combine(self.first, time.min, CHINA)

    @property
    def end(self) -> datetime:
        """Midnight after the last day, China time (exclusive)."""
        return datetime.combine(self.last + timedelta(days=1), time.min, CHINA)

    def holds(self, at: datetime) -> bool:
        """Whether ``at`` falls in the period."""
        return self.start <= at < self.end


def _reason(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return "; ".join(problems)
    return str(exc)


def _mapping(text: str, *, field: str, what: str) -> None:
    """Refuse text that is too long, not YAML, or not a mapping at the top."""
    if len(text) > MAX_YAML_CHARS:
        raise WhatIfInputError(field, f"longer than {MAX_YAML_CHARS} characters")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WhatIfInputError(field, "not valid YAML: " + " ".join(str(exc).split())) from None
    if not isinstance(doc, dict):
        raise WhatIfInputError(field, f"not {what} (a YAML mapping is expected)")


def parse_other_policy(text: str, *, field: str = "policy_yaml") -> SlaPolicy:
    """An SLA policy from YAML text, or ``WhatIfInputError`` naming ``field`` and the reason."""
    _mapping(text, field=field, what="an SLA policy")
    try:
        return parse_policy(text)
    except ValueError as exc:  # pydantic's ValidationError is one
        raise WhatIfInputError(field, _reason(exc)) from None


def parse_other_calendar(text: str, *, field: str = "calendar_yaml") -> BusinessCalendar:
    """A business calendar from YAML text, or ``WhatIfInputError`` naming ``field``."""
    _mapping(text, field=field, what="a business calendar")
    try:
        return parse_calendar(text)
    except ValueError as exc:
        raise WhatIfInputError(field, _reason(exc)) from None


# --------------------------------------------------------------------------------------------
# Pure: judging one complaint, and the comparison
# --------------------------------------------------------------------------------------------


def judged(
    history: Sequence[tuple[EventData, datetime]],
    *,
    complaint_id: UUID,
    office: str,
    rules: SlaRules,
    until: datetime,
) -> frozenset[Alert]:
    """The warnings and breaches a complaint owed by ``until`` under ``rules``.

    Only the events that happened by ``until`` are folded: the complaint as it stood then.
    Breaches are what ``timers.owed`` says at ``until``. A warning is owed while its timer
    runs past the warning share; judged only at ``until``, a timer that went on to breach
    would owe none, so each timer is also judged at its own warning instant — as the live
    scheduler, which looks at every complaint when its next alert falls due, does. (One case
    stays uncounted: the warning of a timer replaced — a re-assignment, a reopening — after
    it had already breached; its breach is counted.)
    """
    return frozenset(
        judged_in_offices(
            history, complaint_id=complaint_id, office=office, rules=rules, until=until
        )
    )


def judged_in_offices(
    history: Sequence[tuple[EventData, datetime]],
    *,
    complaint_id: UUID,
    office: str,
    rules: SlaRules,
    until: datetime,
) -> dict[Alert, str]:
    """``judged``, each alert with the office it counts for: the complaint's office at the
    alert's instant (a complaint moved to another office, 跨项目转办, counts for the new one
    from the transfer on; ``office`` is the office it was received at)."""
    known = [(event, at) for event, at in history if at <= until]
    if not known:
        return {}
    folded = fold(
        known,
        complaint_id=complaint_id,
        office=office,
        policy=rules.policy,
        calendar=rules.calendar,
    )
    due = owed(folded, complaint_id, until)
    for timer in folded.timers.values():
        warn = timer.warning_at
        if warn is not None and timer.started_at <= warn <= until:
            due += timer.alerts_due(complaint_id, warn)
    alerts: dict[Alert, str] = {}
    for alert in sorted(due, key=lambda a: a.due_at):
        data = alert.data
        where = folded.office_at(alert.due_at)
        if isinstance(data, SlaWarning):
            alerts[(data.timer, AlertKind.WARNING)] = where
        elif isinstance(data, SlaBreached):
            kind = AlertKind.HARD_BREACHED if data.hard else AlertKind.BREACHED
            alerts[(data.timer, kind)] = where
    return alerts


@dataclass(frozen=True)
class Outcome:
    """One complaint of the period: its alerts as they were, as they would have been, and
    (when known) as the live service published them.

    ``office`` is where it was received; ``was_offices``/``would_offices`` name the office
    an alert counts for where it is another (the complaint had moved office by then).
    """

    complaint_id: UUID
    office: str
    occurred_at: datetime
    was: frozenset[Alert]
    would: frozenset[Alert]
    published: frozenset[Alert] | None = None
    was_offices: Mapping[Alert, str] = field(default_factory=dict)
    would_offices: Mapping[Alert, str] = field(default_factory=dict)


def _breached(alerts: frozenset[Alert], timer: str) -> bool:
    return (timer, AlertKind.BREACHED) in alerts or (timer, AlertKind.HARD_BREACHED) in alerts


@dataclass(frozen=True)
class Change:
    """A complaint that changes sides for one timer."""

    complaint_id: UUID
    occurred_at: datetime
    breached_was: bool

    @property
    def direction(self) -> str:
        """``no_longer_breached`` or ``newly_breached``."""
        return "no_longer_breached" if self.breached_was else "newly_breached"


@dataclass
class Row:
    """One office (or the company, ``office`` = ``None``) and one timer kind."""

    office: str | None
    timer: str
    warned: list[int] = field(default_factory=lambda: [0, 0])  # [was, would]
    breached: list[int] = field(default_factory=lambda: [0, 0])
    hard: list[int] = field(default_factory=lambda: [0, 0])
    changes: list[Change] = field(default_factory=list)

    @property
    def newly_breached(self) -> list[UUID]:
        """Complaints not breached as they were, breached as they would have been."""
        return [c.complaint_id for c in self.changes if not c.breached_was]

    @property
    def no_longer_breached(self) -> list[UUID]:
        """Complaints breached as they were, not as they would have been."""
        return [c.complaint_id for c in self.changes if c.breached_was]

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON."""
        return {
            "office": self.office,
            "timer": self.timer,
            "warnings": {"was": self.warned[0], "would_be": self.warned[1]},
            "breaches": {"was": self.breached[0], "would_be": self.breached[1]},
            "hard_breaches": {"was": self.hard[0], "would_be": self.hard[1]},
            "no_longer_breached": [str(c) for c in self.no_longer_breached],
            "newly_breached": [str(c) for c in self.newly_breached],
        }


@dataclass(frozen=True)
class Comparison:
    """Per office and timer kind (rows with something on either side), and company totals."""

    rows: list[Row]
    totals: list[Row]
    complaints: int


def compare(outcomes: Iterable[Outcome], timer_order: Sequence[str] = ()) -> Comparison:
    """Count, per office and timer kind, the complaints warned, breached and hard-breached as
    they were and as they would have been, and list those whose breach changes sides.

    Pure. Offices are sorted by name; timer kinds follow ``timer_order`` (the policies' order),
    then any other kind by name. Only (office, kind) pairs with a warning or breach on either
    side get a row; ``totals`` has one row per such kind for the whole company.
    """
    rows: dict[tuple[str | None, str], Row] = {}
    count = 0
    for outcome in outcomes:
        count += 1
        # Per side: (office, timer) → what happened; office None is the company total. An
        # alert counts for the office the complaint belonged to at its instant.
        sides: list[dict[tuple[str | None, str], set[AlertKind]]] = []
        for alerts, moved in (
            (outcome.was, outcome.was_offices),
            (outcome.would, outcome.would_offices),
        ):
            found: dict[tuple[str | None, str], set[AlertKind]] = defaultdict(set)
            for timer, kind in alerts:
                found[(moved.get((timer, kind), outcome.office), timer)].add(kind)
                found[(None, timer)].add(kind)
            sides.append(found)
        for cell in {*sides[0], *sides[1]}:
            row = rows.setdefault(cell, Row(*cell))
            breached = [False, False]
            for side, found in enumerate(sides):
                kinds = found.get(cell, set())
                breached[side] = bool(kinds & {AlertKind.BREACHED, AlertKind.HARD_BREACHED})
                row.warned[side] += AlertKind.WARNING in kinds
                row.breached[side] += breached[side]
                row.hard[side] += AlertKind.HARD_BREACHED in kinds
            if breached[0] != breached[1]:
                row.changes.append(Change(outcome.complaint_id, outcome.occurred_at, breached[0]))
    order = {t: i for i, t in enumerate(timer_order)}

    def key(row: Row) -> tuple[str, int, str]:
        return (row.office or "", order.get(row.timer, len(order)), row.timer)

    for row in rows.values():
        row.changes.sort(key=lambda c: (c.occurred_at, str(c.complaint_id)))
    offices = sorted((r for r in rows.values() if r.office is not None), key=key)
    totals = sorted((r for r in rows.values() if r.office is None), key=key)
    return Comparison(rows=offices, totals=totals, complaints=count)


@dataclass(frozen=True)
class Disagreement:
    """A complaint's timer where the log's published alerts differ from the fold under the
    live rules."""

    complaint_id: UUID
    office: str
    timer: str
    published: list[str]
    folded: list[str]


def published_check(outcomes: Iterable[Outcome]) -> tuple[int, int, list[Disagreement]]:
    """(warnings, breaches published in the log for these complaints, the (complaint, timer)
    pairs whose published breaches differ from the fold under the live rules). Pure.

    Breaches only: a breach is a fact whenever it is judged, but whether a warning was
    published depends on when the live scheduler looked (a complaint recorded days after it
    happened is judged once, already breached, and never warned).
    """
    warnings = breaches = 0
    differ: list[Disagreement] = []
    for o in outcomes:
        if o.published is None:
            continue
        warnings += sum(1 for _, k in o.published if k is AlertKind.WARNING)
        breaches += sum(1 for _, k in o.published if k is not AlertKind.WARNING)
        for timer in sorted({t for t, _ in o.published | o.was}):
            mine = sorted(k.value for t, k in o.was if t == timer and k is not AlertKind.WARNING)
            theirs = sorted(
                k.value for t, k in o.published if t == timer and k is not AlertKind.WARNING
            )
            if mine != theirs:
                office = o.was_offices.get((timer, AlertKind.BREACHED), o.office)
                differ.append(Disagreement(o.complaint_id, office, timer, theirs, mine))
    return warnings, breaches, differ


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfReport:
    """Everything a what-if found, as the CLI prints it and the API returns it."""

    period: Period
    until: datetime
    log_read_at: datetime
    live: str  # where the live rules came from
    other: str  # where the other rules came from
    comparison: Comparison
    events_replayed: int
    dead_letters: int
    published: tuple[int, int, list[Disagreement]]
    labels: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON (``--json``, the API's answer)."""
        warnings, breaches, differ = self.published
        return {
            "period": {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()},
            "judged_until": self.until.isoformat(),
            "log_read_at": self.log_read_at.isoformat(),
            "rules": {"was": self.live, "would_be": self.other},
            "as_was": "the same fold under the live policy and calendar (see `published`)",
            "complaints": self.comparison.complaints,
            "events_replayed": self.events_replayed,
            "dead_letters": self.dead_letters,
            "rows": [r.as_dict() for r in self.comparison.rows],
            "totals": [r.as_dict() for r in self.comparison.totals],
            "published": {
                "warnings": warnings,
                "breaches": breaches,
                "agrees": not differ,
                "disagreements": [
                    {
                        "complaint_id": str(d.complaint_id),
                        "office": d.office,
                        "timer": d.timer,
                        "published": d.published,
                        "folded_under_live_rules": d.folded,
                    }
                    for d in differ
                ],
            },
        }

    def lines(self) -> list[str]:
        """The report as text (the CLI's default)."""
        p, c = self.period, self.comparison
        judged = "the end of the period" if self.until == p.end else "the moment the log was read"
        out = [
            f"what-if SLA: complaints received {p.first} … {p.last} (China time), "
            f"judged at {_local(self.until)} ({judged})",
            f"  as they were:            {self.live}",
            f"  as they would have been: {self.other}",
            f"  {c.complaints} complaint(s) of the period; {self.events_replayed} log records "
            "replayed into a scratch projection (dropped; nothing published)",
        ]
        out += self._check_lines()
        if self.dead_letters:
            out.append(f"  {self.dead_letters} record(s) could not be applied in the replay")
        out.append("")
        if not c.rows:
            out.append("no warnings or breaches either way")
            return out
        head = [
            _pad("OFFICE", 12),
            _pad("TIMER", 24),
            _pad("WARNINGS", 10),
            _pad("BREACHES", 10),
            _pad("HARD", 10),  # breaches of the hard limit, counted in BREACHES too
            "CHANGED SIDES",
        ]
        out.append(" ".join(head))
        out += [self._table_line(row) for row in [*c.rows, *c.totals]]
        changed = [(row, ch) for row in c.rows for ch in row.changes]
        if changed:
            out += ["", "complaints that change sides:"]
            for row, ch in changed:
                what = "no longer breached" if ch.breached_was else "newly breached"
                out.append(
                    f"  {_pad(row.office or '', 10)} {_pad(row.timer, 15)} {_pad(what, 19)} "
                    f"{ch.complaint_id}  received {_local(ch.occurred_at)}"
                )
        return out

    def _check_lines(self) -> list[str]:
        """How the fold under the live rules compares with what the live service published."""
        warnings, breaches, differ = self.published
        check = (
            f"  the live service published {breaches} breach(es) and {warnings} warning(s) of "
            "these complaints due by then; its breaches and the fold under the live rules: "
        )
        out = [
            check
            + (
                "the same"
                if not differ
                else f"{len(differ)} difference(s) (the live rules changed since, or a deadline "
                "is not judged yet)"
            )
        ]
        for d in differ:
            out.append(
                f"    {d.office} {d.timer} {d.complaint_id}: published {d.published or '-'}, "
                f"folded {d.folded or '-'}"
            )
        return out

    def _table_line(self, row: Row) -> str:
        """One office and timer kind: warnings, breaches and hard breaches as they were →
        as they would have been, and how many complaints change sides."""
        label = self.labels.get(row.timer)
        timer = f"{row.timer} {label}" if label else row.timer
        gone, new = len(row.no_longer_breached), len(row.newly_breached)
        moved = ", ".join(
            part
            for part in (
                f"{gone} no longer breached" if gone else "",
                f"{new} newly breached" if new else "",
            )
            if part
        )
        return " ".join(
            [
                _pad(row.office or "合计 (all)", 12),
                _pad(timer, 24),
                _pad(f"{row.warned[0]} → {row.warned[1]}", 10),
                _pad(f"{row.breached[0]} → {row.breached[1]}", 10),
                _pad(f"{row.hard[0]} → {row.hard[1]}", 10),
                moved or "-",
            ]
        )


def _local(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` columns of a terminal (CJK characters take two)."""
    return text + " " * max(width - _width(text), 0)


# --------------------------------------------------------------------------------------------
# The scratch replay
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EitherRules(SlaRules):
    """Records an event when the live rules *or* the other rules look at it."""

    other: SlaRules | None = None

    def relevant(self, event_type: str) -> bool:
        return super().relevant(event_type) or (
            self.other is not None and self.other.relevant(event_type)
        )


PUBLISHED_SQL = """
CREATE TABLE IF NOT EXISTS published_alerts (
    event_id     uuid PRIMARY KEY,
    complaint_id uuid NOT NULL,
    timer        text NOT NULL,
    kind         text NOT NULL,
    due_at       timestamptz NOT NULL
);
"""


class WhatIfProjection:
    """SLA's ``ClockProjection``, kept to the complaints received in the period, plus the SLA
    alerts the live service published for them (the ``published`` check)."""

    def __init__(self, rules: SlaRules, period: Period) -> None:
        self.clocks = ClockProjection(rules)
        self.rules = rules
        self.period = period
        # Complaints received in the period, as seen (a superset of the table's: a batch may
        # roll back): most events are another period's and need no query at all.
        self.candidates: set[UUID] = set()

    async def apply(self, conn: asyncpg.Connection, envelope: Envelope, data: EventData) -> None:
        """Record what the folds need; ignore everything else."""
        if isinstance(data, SlaWarning | SlaBreached):
            if await self._followed(conn, envelope.complaint_id):
                kind = AlertKind.WARNING
                if isinstance(data, SlaBreached):
                    kind = AlertKind.HARD_BREACHED if data.hard else AlertKind.BREACHED
                await conn.execute(
                    """INSERT INTO published_alerts (event_id, complaint_id, timer, kind, due_at)
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                    envelope.event_id,
                    envelope.complaint_id,
                    data.timer,
                    kind.value,
                    envelope.occurred_at,
                )
            return
        if not self.rules.relevant(envelope.type):
            return
        if isinstance(data, ComplaintReceived):
            if not self.period.holds(data.occurred_at):
                return  # another period's complaint: not replayed
            self.candidates.add(envelope.complaint_id)
        elif not await self._followed(conn, envelope.complaint_id):
            return
        await self.clocks.apply(conn, envelope, data)

    async def _followed(self, conn: asyncpg.Connection, complaint_id: UUID) -> bool:
        if complaint_id not in self.candidates:
            return False
        return bool(
            await conn.fetchval("SELECT 1 FROM complaints WHERE complaint_id = $1", complaint_id)
        )


@dataclass(frozen=True)
class Replayed:
    """What the scratch projection held, read before it was dropped."""

    complaints: list[tuple[UUID, str, datetime, list[tuple[EventData, datetime]]]]
    published: dict[UUID, list[tuple[Alert, datetime]]]
    events: int
    dead_letters: int
    read_at: datetime


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

    A session advisory lock on the scratch schema's name is held meanwhile (a lease, as the
    builder's): the schema of a what-if whose process died (SIGKILL, a lost connection) has a
    free lock, and the next what-if drops it.
    """
    scratch = scratch or scratch_name()
    async with pool.acquire() as lease:
        await lease.execute("SELECT pg_advisory_lock(hashtext($1))", scratch)
        try:
            await _drop_abandoned(lease)
            return await _replay_into(settings, pool, rules, period, scratch, now)
        finally:
            await lease.execute(f"DROP SCHEMA IF EXISTS {scratch} CASCADE")
            await lease.execute("SELECT pg_advisory_unlock(hashtext($1))", scratch)


async def _drop_abandoned(lease: asyncpg.Connection) -> None:
    """Drop the scratch schemas nobody holds the lease of (their what-if died)."""
    rows = await lease.fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
        SCRATCH_PREFIX.replace("_", "\\_") + "%",
    )
    for row in rows:
        name = row["nspname"]
        if not await lease.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", name):
            continue  # a what-if is running in it
        try:
            log.warning("dropping %s, left by a what-if that did not finish", name)
            await lease.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await lease.execute("SELECT pg_advisory_unlock(hashtext($1))", name)


async def _replay_into(
    settings: Settings,
    pool: asyncpg.Pool,
    rules: SlaRules,
    period: Period,
    scratch: str,
    now: Now,
) -> Replayed:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(consumer_tables_sql(scratch))  # creates the schema too
        await conn.execute(f"SET LOCAL search_path TO {scratch}")
        await conn.execute(SCHEMA_SQL.read_text(encoding="utf-8"))
        await conn.execute(PUBLISHED_SQL)
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
        return await _read_scratch(conn, scratch, events, read_at)


async def _read_scratch(
    conn: asyncpg.Connection, scratch: str, events: int, read_at: datetime
) -> Replayed:
    rows = await conn.fetch(
        f"""SELECT c.complaint_id, c.office, c.occurred_at, h.envelope
            FROM {scratch}.complaints c JOIN {scratch}.history h USING (complaint_id)
            ORDER BY c.occurred_at, c.complaint_id, h.seq"""
    )
    complaints: dict[UUID, tuple[UUID, str, datetime, list[tuple[EventData, datetime]]]] = {}
    for row in rows:
        cid = row["complaint_id"]
        entry = complaints.setdefault(cid, (cid, row["office"], row["occurred_at"], []))
        envelope, data = decode_event(row["envelope"])
        entry[3].append((data, envelope.occurred_at))
    published: dict[UUID, list[tuple[Alert, datetime]]] = defaultdict(list)
    for row in await conn.fetch(
        f"SELECT complaint_id, timer, kind, due_at FROM {scratch}.published_alerts"
    ):
        published[row["complaint_id"]].append(
            ((row["timer"], AlertKind(row["kind"])), row["due_at"])
        )
    dead = await conn.fetchval(f"SELECT count(*) FROM {scratch}.dead_letters")
    return Replayed(list(complaints.values()), dict(published), events, int(dead), read_at)


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
        settings, pool, _EitherRules(live.policy, live.calendar, other), period, now=now
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

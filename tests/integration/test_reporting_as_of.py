"""Reporting's projection and its as-of SQL against the real PostgreSQL (no Kafka).

Events are fed straight into ``ComplaintsProjection.apply`` in a database of this module's own,
with the times each test chooses, then read back through the use cases the HTTP API calls.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from contracts import Channel, EventData, ServiceCategory, Validity, new_envelope
from contracts.enums import Priority
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.lifecycle import (
    Actor,
    Awaiting,
    CloseOutcome,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintMerged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintReopened,
    ComplaintResumed,
    ComplaintSuspended,
    ComplaintWithdrawn,
    DepartmentAssigned,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OwnerReplied,
    PlanImplemented,
    RevisitRecorded,
    Role,
    TimeCommitted,
)
from contracts.sla import AlertKind, SlaBreached, SlaWarning, sla_event_id
from deploy.local.sandbox import create_database, drop_database
from services.reporting import reports, store
from services.reporting.dashboard import BOARD_FIGURES
from services.reporting.monthly import build_from_parts, build_monthly_report, headline_figures
from services.reporting.projection import ComplaintsProjection
from services.reporting.reports.rows import ReportPeriod, period_parts, period_rows
from tests.conftest import RUN, Infra
from tests.integration.reporting_db import assert_current_is_the_fold, install_reporting

pytestmark = pytest.mark.infra

CHINA = ZoneInfo("Asia/Shanghai")
AGENT = Actor(staff_id="A001", role=Role.CS_AGENT)
T0 = datetime(2025, 7, 10, 9, 0, tzinfo=CHINA)


def at(minutes: float) -> datetime:
    """``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
async def pool(real_infra: Infra) -> AsyncIterator[asyncpg.Pool]:
    """A database of this module's own with the reporting schema migrated."""
    name = f"complaints_test_{RUN}_reporting"
    url = await create_database(real_infra.admin_database_url, name)
    live = await install_reporting(url)
    # The projection writes the live generation; the reports read the stable names over it.
    pool = await asyncpg.create_pool(
        url, min_size=1, max_size=4, server_settings={"search_path": f"{live}, reporting"}
    )
    yield pool
    await pool.close()
    # An autovacuum worker runs as the superuser and cannot be forced off: drop_database waits.
    await drop_database(real_infra.admin_database_url, name)


@dataclass
class Story:
    """One complaint's events, fed to the projection in the order they are told."""

    pool: asyncpg.Pool
    office: str
    unit: str = "3栋1单元502"
    subject: str = "垃圾桶破损"
    channel: Channel = Channel.HOTLINE
    occurred_at: datetime = T0
    complaint_id: uuid.UUID = field(default_factory=uuid.uuid4)
    description: str = ""

    async def received(self, recorded: datetime | None = None) -> Story:
        data = ComplaintReceivedV3.from_submission(
            self.channel,
            Submission.model_validate(
                {
                    "submission_id": f"s-{self.complaint_id.hex[:12]}",
                    "office": self.office,
                    "unit": self.unit,
                    "complainant": {"name": "何先生", "phone": "13812345678"},
                    "subject": self.subject,
                    "description": self.description or f"{self.subject}，多次反映未解决",
                    "occurred_at": self.occurred_at.isoformat(),
                }
            ),
        )
        await self.tell(data, self.occurred_at, recorded or self.occurred_at)
        return self

    async def tell(
        self, data: EventData, occurred: datetime, recorded: datetime | None = None
    ) -> uuid.UUID:
        event_id = uuid.uuid4()
        if isinstance(data, SlaBreached | SlaWarning):
            kind = AlertKind.WARNING if isinstance(data, SlaWarning) else AlertKind.BREACHED
            event_id = sla_event_id(self.complaint_id, data.timer, data.deadline, kind)
        envelope = new_envelope(
            data,
            event_id=event_id,
            complaint_id=self.complaint_id,
            occurred_at=occurred,
            recorded_at=recorded or occurred,
            source="test",
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await ComplaintsProjection(b"pepper-of-this-test").apply(conn, envelope, data)
        return event_id


def office() -> str:
    return f"集成{uuid.uuid4().hex[:6]}园"


async def state(pool: asyncpg.Pool, story: Story, as_of: datetime) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        return await reports.complaint(conn, story.complaint_id, as_of)


def breach(timer: str, deadline: datetime, *, hard: bool = False) -> SlaBreached:
    return SlaBreached(timer=timer, deadline=deadline, hard=hard)


async def test_state_as_of_an_instant_between_two_steps_is_the_earlier_state(
    pool: asyncpg.Pool,
) -> None:
    story = await Story(pool, office()).received()
    await story.tell(ComplaintAcknowledged(actor=AGENT), at(5))
    await story.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES),
        at(10),
    )
    await story.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.ASSIST, category=ServiceCategory.SECURITY),
        at(20),
    )

    assert await state(pool, story, at(-1)) is None  # not recorded yet
    received = await state(pool, story, at(1))
    assert received is not None and received["state"]["status"] == "received"
    acknowledged = await state(pool, story, at(7))
    assert acknowledged is not None
    assert acknowledged["state"]["status"] == "acknowledged"
    assert acknowledged["state"]["validity"] is None
    assert acknowledged["state"]["steps"]["acknowledged_at"] == at(5)
    judged = await state(pool, story, at(15))
    assert judged is not None
    assert (judged["state"]["validity"], judged["state"]["category"]) == ("valid", "fees")
    now = await state(pool, story, at(60))
    assert now is not None
    assert (now["state"]["validity"], now["state"]["category"]) == ("assist", "security")
    assert now["state"]["steps"]["judged_at"] == at(10)  # the first judgement
    assert now["state"]["events"] == 4
    assert now["complainant"] == {"name": "何**", "phone": "138****5678"}


async def test_breach_is_overdue_until_its_timer_stops(pool: asyncpg.Pool) -> None:
    story = await Story(pool, office()).received()
    await story.tell(ComplaintAcknowledged(actor=AGENT), at(5))
    deadline = at(60)
    await story.tell(
        DepartmentAssigned(actor=AGENT, department="环境部", deadline=deadline, reason="manual"),
        at(10),
    )
    await story.tell(breach("department", deadline), at(61))
    await story.tell(PlanImplemented(actor=AGENT, plan_id=1, summary="已完成"), at(90))

    before = await state(pool, story, at(30))
    assert before is not None and before["state"]["alerts"] == []
    during = await state(pool, story, at(70))
    assert during is not None
    assert during["state"]["service_levels"]["overdue"] is True
    [alert] = during["state"]["alerts"]
    assert (alert["timer"], alert["kind"], alert["deadline"]) == ("department", "overdue", deadline)
    after = await state(pool, story, at(95))
    assert after is not None
    assert after["state"]["service_levels"]["overdue"] is False
    assert after["state"]["alerts"] == []


async def test_breach_published_after_the_stop_counts_as_missed_but_not_overdue(
    pool: asyncpg.Pool,
) -> None:
    story = await Story(pool, office()).received()
    await story.tell(ComplaintAcknowledged(actor=AGENT), at(45))
    # The SLA service saw the history late: the breach arrives after the acknowledgement.
    await story.tell(breach("first_response", at(30)), at(30), recorded=at(46))

    found = await state(pool, story, at(50))
    assert found is not None
    levels = found["state"]["service_levels"]
    assert levels["first_response_within_30min"] is False
    assert levels["overdue"] is False


async def test_late_breach_of_an_earlier_run_does_not_make_the_restarted_timer_overdue(
    pool: asyncpg.Pool,
) -> None:
    story = await Story(pool, office()).received()
    await story.tell(OwnerReplied(actor=AGENT, message="已处理", final=True), at(10))
    await story.tell(RevisitRecorded(actor=AGENT, visit_no=1, satisfied=False), at(20))
    await story.tell(ComplaintReopened(actor=AGENT, reason="业主不满意"), at(30))
    # A breach of the first run's deadline, published only now: that run had stopped.
    await story.tell(breach("reply", at(5)), at(5), recorded=at(31))
    stale = await state(pool, story, at(40))
    assert stale is not None and stale["state"]["alerts"] == []
    assert stale["state"]["service_levels"]["replied_within_1_day"] is False
    assert stale["state"]["revisit_satisfied"] is False

    # The restarted run misses its own deadline: now it is overdue.
    await story.tell(breach("reply", at(50)), at(50))
    late = await state(pool, story, at(55))
    assert late is not None
    assert [a["timer"] for a in late["state"]["alerts"]] == ["reply"]


async def test_warning_is_due_soon_until_the_stop_and_closing_ends_every_timer(
    pool: asyncpg.Pool,
) -> None:
    story = await Story(pool, office()).received()
    await story.tell(
        SlaWarning(timer="first_response", deadline=at(30), target="首问响应：30分钟", share=0.8),
        at(24),
    )
    await story.tell(ComplaintAcknowledged(actor=AGENT), at(26))
    await story.tell(breach("reply", at(100)), at(100))
    await story.tell(ComplaintClosed(actor=AGENT), at(120))

    warned = await state(pool, story, at(25))
    assert warned is not None
    [alert] = warned["state"]["alerts"]
    assert (alert["timer"], alert["kind"]) == ("first_response", "due_soon")
    assert warned["state"]["service_levels"]["overdue"] is False
    acknowledged = await state(pool, story, at(27))
    assert acknowledged is not None and acknowledged["state"]["alerts"] == []
    overdue = await state(pool, story, at(110))
    assert overdue is not None and [a["kind"] for a in overdue["state"]["alerts"]] == ["overdue"]
    closed = await state(pool, story, at(121))
    assert closed is not None
    assert closed["state"]["alerts"] == [] and closed["state"]["open"] is False


async def test_an_event_applied_twice_and_a_second_receipt_change_nothing(
    pool: asyncpg.Pool,
) -> None:
    story = await Story(pool, office()).received()
    data = ComplaintAcknowledged(actor=AGENT)
    envelope = new_envelope(
        data,
        event_id=uuid.uuid4(),
        complaint_id=story.complaint_id,
        occurred_at=at(5),
        recorded_at=at(5),
        source="test",
    )
    for _ in range(2):
        async with pool.acquire() as conn, conn.transaction():
            await ComplaintsProjection(b"pepper-of-this-test").apply(conn, envelope, data)
    story.unit = "9栋"  # a second, different ComplaintReceived for the same complaint
    await story.received(recorded=at(6))

    found = await state(pool, story, at(10))
    assert found is not None
    assert found["state"]["events"] == 2 and found["unit"] == "3栋1单元502"
    async with pool.acquire() as conn:
        counted = await conn.fetchval(
            "SELECT sum(received) FROM reporting.daily_intake WHERE office = $1", story.office
        )
    assert counted == 1


async def test_monthly_report_counts_by_occurrence_day_in_china_time_and_as_of(
    pool: asyncpg.Pool,
) -> None:
    name = office()
    july_end = datetime(2025, 7, 31, 23, 30, tzinfo=CHINA)  # 15:30 UTC: July in China
    aug_start = datetime(2025, 7, 31, 16, 10, tzinfo=UTC)  # 00:10 on 1 August in China
    late = datetime(2025, 9, 1, 9, 0, tzinfo=CHINA)
    a = await Story(pool, name, occurred_at=july_end).received()
    await Story(pool, name, occurred_at=aug_start).received(recorded=late)
    await a.tell(ComplaintAcknowledged(actor=AGENT), july_end + timedelta(minutes=5))
    await a.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES),
        july_end + timedelta(minutes=6),
    )
    await a.tell(OwnerReplied(actor=AGENT, message="已答复", final=True), late)

    async def report(first: date, last: date, as_of: datetime) -> Any:
        async with pool.acquire() as conn:
            return await reports.monthly_report(
                conn, period_from=first, period_to=last, office=name, as_of=as_of, offices=[]
            )

    july = await report(date(2025, 7, 1), date(2025, 7, 31), late)
    august = await report(date(2025, 8, 1), date(2025, 8, 31), late)
    assert (july.received, july.valid, august.received, august.pending) == (1, 1, 1, 1)
    # As of 31 August, b was not recorded yet and a not yet answered.
    before = await report(date(2025, 7, 1), date(2025, 8, 31), datetime(2025, 8, 31, tzinfo=CHINA))
    assert before.received == 1
    levels = before.service_levels
    assert (levels.first_response_within_30min.hits, levels.first_response_within_30min.base) == (
        1,
        1,
    )
    assert levels.replied_within_1_day.base == 0
    after = await report(date(2025, 7, 1), date(2025, 8, 31), late)
    assert after.received == 2 and after.service_levels.replied_within_1_day.hits == 1


async def test_the_earlier_periods_read_in_the_reports_snapshot_give_the_same_report(
    pool: asyncpg.Pool,
) -> None:
    """With the pool, the previous period (环比) and the same month a year before (同比) are read
    on connections of their own in the report transaction's snapshot: the report is the one
    read on one connection, comparisons included."""
    name = office()
    late = datetime(2025, 8, 2, 9, 0, tzinfo=CHINA)
    for occurred in (
        datetime(2025, 7, 9, 10, 0, tzinfo=CHINA),  # this month, twice
        datetime(2025, 7, 20, 10, 0, tzinfo=CHINA),
        datetime(2025, 6, 15, 10, 0, tzinfo=CHINA),  # the month before
        datetime(2024, 7, 15, 10, 0, tzinfo=CHINA),  # a year before
    ):
        await Story(pool, name, occurred_at=occurred).received(recorded=occurred)

    async def report(with_pool: bool) -> Any:
        async with pool.acquire() as conn:
            return await reports.monthly_report(
                conn,
                period_from=date(2025, 7, 1),
                period_to=date(2025, 7, 31),
                office=name,
                as_of=late,
                offices=[],
                pool=pool if with_pool else None,
            )

    apart, together = await report(True), await report(False)
    assert apart.model_dump() == together.model_dump()
    received = next(c for c in apart.comparisons if c.key == "received")
    assert (received.current, received.previous_period, received.previous_year) == (2, 1, 1)


async def test_the_comparisons_are_the_headline_of_the_earlier_periods_own_reports(
    pool: asyncpg.Pool,
) -> None:
    """The earlier periods are counted over groups of complaints (``store.report_groups``),
    never built as reports: their figures in a report's comparisons are the headline of the
    report of that period itself, for an office and for the company, on complaints that
    were judged, rejudged, moved to the office, overdue, closed, suspended or flagged."""
    name, other = office(), office()
    seen = datetime(2025, 9, 1, 9, 0, tzinfo=CHINA)
    plain = await Story(pool, name).received()
    await plain.tell(ComplaintAcknowledged(actor=AGENT), at(5))
    await plain.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES),
        at(10),
    )
    await plain.tell(breach("reply", at(40)), at(41))  # overdue
    closed = await Story(pool, name, channel=Channel.SUPERVISION).received()
    await closed.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.ASSIST, category=ServiceCategory.SECURITY),
        at(10),
    )
    await closed.tell(
        ComplaintClosed(actor=AGENT, outcome=CloseOutcome.UNSATISFIED, summary="不认可"), at(60)
    )
    moved = await Story(pool, other).received()  # counts for ``name`` once moved
    await moved.tell(
        ComplaintOfficeTransferred(actor=AGENT, from_office=other, to_office=name, reason="移交"),
        at(20),
    )
    await moved.tell(
        MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="人工", actor=AGENT), at(25)
    )
    await moved.tell(
        ComplaintSuspended(actor=AGENT, suspension_no=1, awaiting=Awaiting.DEVELOPER, reason="等"),
        at(30),
    )
    for _ in range(2):  # not judged: two complaints alike in everything a count reads
        await Story(pool, name, subject="噪音").received()
    await Story(pool, name, occurred_at=datetime(2025, 8, 5, 9, 0, tzinfo=CHINA)).received()

    async def report(period_from: date, period_to: date, scope: str | None) -> Any:
        async with pool.acquire() as conn:
            return await reports.monthly_report(
                conn,
                period_from=period_from,
                period_to=period_to,
                office=scope,
                as_of=seen,
                offices=[],
                pool=pool,
            )

    for scope in (name, None):
        august = await report(date(2025, 8, 1), date(2025, 8, 31), scope)
        july = await report(date(2025, 7, 1), date(2025, 7, 31), scope)
        assert august.previous_period_from == date(2025, 7, 1)
        assert {c.key: c.previous_period for c in august.comparisons} == headline_figures(july)
    assert headline_figures(july)["received"] >= 5  # the company: other tests' complaints too
    office_july = await report(date(2025, 7, 1), date(2025, 7, 31), name)
    counted = headline_figures(office_july)
    assert (counted["received"], counted["valid"], counted["assist"], counted["pending"]) == (
        5,
        1,
        1,
        2 + 1,  # the moved one is not judged either
    )
    assert (counted["overdue"], counted["closed_unsatisfied"], counted["major"]) == (1, 1, 1)
    assert (counted["suspended"], counted["direct"]) == (1, 1)


async def test_hot_spots_group_repeats_by_unit_building_and_topic_within_the_window(
    pool: asyncpg.Pool,
) -> None:
    name, other = office(), office()
    start = datetime(2025, 10, 1, 9, 0, tzinfo=CHINA)
    for n, (unit, subject) in enumerate(
        [
            ("3栋1单元502", "地漏堵塞"),
            ("3栋 1单元502", "垃圾桶破损"),  # the same unit, written with a space
            ("3栋2单元101", "地漏堵塞"),
            ("５号楼201", "地漏堵塞"),  # full-width digit: building 5号楼
        ]
    ):
        await Story(
            pool, name, unit=unit, subject=subject, occurred_at=start + timedelta(days=n)
        ).received()
    await Story(pool, other, unit="3栋1单元502", occurred_at=start).received()
    await Story(pool, name, unit="3栋9单元909", occurred_at=start - timedelta(days=40)).received()

    async with pool.acquire() as conn:
        board = await reports.dashboard(
            conn,
            office=name,
            as_of=start + timedelta(days=5),
            hotspot_days=30,
            hotspot_min=2,
        )
    spots = board.hot_spots
    assert [(h.key, h.count) for h in spots.units] == [("3栋1单元502", 2)]
    assert [(h.key, h.count) for h in spots.buildings] == [("3栋", 3)]
    assert [(h.key, h.count) for h in spots.topics] == [("地漏堵塞", 3)]
    assert {h.office for h in (*spots.units, *spots.buildings, *spots.topics)} == {name}


async def test_major_complaints_and_open_counts_on_the_dashboard_as_of(pool: asyncpg.Pool) -> None:
    name = office()
    major = await Story(pool, name, channel=Channel.SUPERVISION).received()
    await major.tell(
        MajorComplaintFlagged(rule=MajorRule.OVER_THE_HEAD, reason="服务监督热线"), at(0)
    )
    done = await Story(pool, name).received()
    await done.tell(ComplaintAcknowledged(actor=AGENT), at(1))
    await done.tell(ComplaintJudged(actor=AGENT, validity=Validity.INVALID), at(2))
    await done.tell(TimeCommitted(actor=AGENT, promised_at=at(100), message="明日答复"), at(3))
    await done.tell(ComplaintClosed(actor=AGENT), at(4))

    async def board(as_of: datetime) -> Any:
        async with pool.acquire() as conn:
            return await reports.dashboard(
                conn, office=name, as_of=as_of, hotspot_days=30, hotspot_min=2
            )

    early = await board(at(1.5))
    assert {s.status: s.count for s in early.open.by_status} == {"received": 1, "acknowledged": 1}
    assert [m.complaint_id for m in early.major.items] == [major.complaint_id]
    assert early.major.items[0].rule_label == "越级投诉"
    assert {c.channel: c.count for c in early.today.by_channel}["supervision"] == 1
    late = await board(at(10))
    assert late.open.total == 1 and late.open.by_office[0].office == name


async def test_a_new_promise_replaces_the_one_warned_about(pool: asyncpg.Pool) -> None:
    story = await Story(pool, office()).received()
    await story.tell(TimeCommitted(actor=AGENT, promised_at=at(60), message="一小时内答复"), at(5))
    await story.tell(
        SlaWarning(timer="promise", deadline=at(60), target="时间承诺", share=0.8), at(48)
    )
    warned = await state(pool, story, at(49))
    assert warned is not None and [a["timer"] for a in warned["state"]["alerts"]] == ["promise"]
    # A new time commitment before the old one ran out: the warning was about the old one.
    await story.tell(TimeCommitted(actor=AGENT, promised_at=at(240), message="下午答复"), at(50))
    renewed = await state(pool, story, at(51))
    assert renewed is not None and renewed["state"]["alerts"] == []


async def test_warning_published_after_the_stop_is_not_due_soon(pool: asyncpg.Pool) -> None:
    story = await Story(pool, office()).received()
    await story.tell(ComplaintAcknowledged(actor=AGENT), at(25))
    warning = SlaWarning(timer="first_response", deadline=at(30), target="首问响应", share=0.8)
    await story.tell(warning, at(24), recorded=at(26))  # warned at 24 min, logged after the stop
    found = await state(pool, story, at(27))
    assert found is not None and found["state"]["alerts"] == []
    assert found["state"]["service_levels"]["first_response_within_30min"] is True


async def test_issue_15_facts_fold_as_of_each_instant(pool: asyncpg.Pool) -> None:
    """Suspended until resumed (then the status before); the latest judgment; the latest of
    flag and unflag by when they occurred; the office after a transfer, from when it was
    recorded; the closing outcome and summary."""
    first, second = office(), office()
    story = await Story(pool, first).received()
    await story.tell(ComplaintAcknowledged(actor=AGENT), at(5))
    await story.tell(
        ComplaintJudged(
            actor=AGENT,
            validity=Validity.VALID,
            category=ServiceCategory.FEES,
            priority=Priority.URGENT,
        ),
        at(10),
    )
    await story.tell(
        ComplaintSuspended(
            actor=AGENT, suspension_no=1, awaiting=Awaiting.DEVELOPER, reason="等开发商"
        ),
        at(20),
    )
    await story.tell(ComplaintResumed(actor=AGENT, suspension_no=1), at(30))
    # unflagged at 45; a flag that occurred at 40 is recorded later (at 50): the unflag stands
    await story.tell(MajorComplaintUnflagged(actor=AGENT, reason="撤销"), at(45))
    await story.tell(
        MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="人工", actor=AGENT), at(40), at(50)
    )
    await story.tell(
        ComplaintRejudged(
            actor=AGENT,
            validity=Validity.ASSIST,
            category=ServiceCategory.SECURITY,
            previous_validity=Validity.VALID,
            previous_category=ServiceCategory.FEES,
            reason="复核",
        ),
        at(60),
    )
    await story.tell(
        ComplaintOfficeTransferred(actor=AGENT, from_office=first, to_office=second, reason="移交"),
        at(70),
    )
    await story.tell(
        ComplaintClosed(actor=AGENT, outcome=CloseOutcome.UNREACHABLE, summary="多次联系未果"),
        at(80),
    )

    async def of(minutes: float) -> dict[str, Any]:
        found = await state(pool, story, at(minutes))
        assert found is not None
        return found

    suspended = await of(25)
    assert suspended["state"]["status"] == "suspended" and suspended["state"]["suspended"]
    resumed = await of(35)
    assert resumed["state"]["status"] == "judged"  # back where it was
    assert resumed["state"]["priority"] == "urgent"
    assert (await of(42))["state"]["major"] is False  # the flag was not recorded yet
    flagged_then = await of(47)
    assert flagged_then["state"]["major"] is False  # unflagged after the flag occurred
    assert (await of(55))["state"]["major"] is False
    assert (await of(65))["state"]["validity"] == "assist"
    assert (await of(65))["state"]["rejudged"] is True
    assert (await of(65))["office"] == first
    moved = await of(75)
    assert (moved["office"], moved["state"]["received_office"]) == (second, first)
    closed = await of(85)
    assert (closed["state"]["status"], closed["state"]["close_outcome"]) == (
        "closed",
        "unreachable",
    )
    async with pool.acquire() as conn:
        rows = await reports.monthly_report(
            conn,
            period_from=T0.date(),
            period_to=T0.date(),
            office=second,
            as_of=at(85),
            offices=[],
        )
    assert (rows.received, rows.handling.closed_unreachable, rows.handling.rejudged) == (1, 1, 1)


async def test_overdue_and_due_soon_count_and_list_each_complaint_once(
    pool: asyncpg.Pool,
) -> None:
    name = office()
    both = await Story(pool, name).received()  # two clocks overdue
    await both.tell(breach("first_response", at(30)), at(31))
    await both.tell(breach("reply", at(40)), at(41))
    mixed = await Story(pool, name).received()  # one overdue, one about to breach
    await mixed.tell(breach("first_response", at(30)), at(32))
    await mixed.tell(
        SlaWarning(timer="reply", deadline=at(60), target="答复业主：1个工作日", share=0.8), at(33)
    )
    warned = await Story(pool, name).received()  # two about to breach
    for timer in ("first_response", "reply"):
        await warned.tell(
            SlaWarning(timer=timer, deadline=at(90), target="时限", share=0.8), at(34)
        )

    async with pool.acquire() as conn:
        board = await reports.dashboard(
            conn, office=name, as_of=at(50), hotspot_days=30, hotspot_min=2
        )
        lists = {
            key: await reports.board_figure(
                conn,
                figure=BOARD_FIGURES[key],
                office=name,
                as_of=at(50),
                page=1,
                page_size=50,
                hotspot_days=30,
                hotspot_min=2,
            )
            for key in ("overdue", "due_soon")
        }
    assert (board.open.total, board.overdue.total, board.due_soon.total) == (3, 2, 1)
    assert {a.complaint_id: a.timer_labels for a in board.overdue.items} == {
        both.complaint_id: "首问响应、答复业主",
        mixed.complaint_id: "首问响应",
    }
    count, rows = lists["overdue"]
    assert count == len(rows) == 2
    assert {r["complaint_id"]: r["timers"] for r in rows} == {
        both.complaint_id: ("首问响应", "答复业主"),
        mixed.complaint_id: ("首问响应",),
    }
    count, rows = lists["due_soon"]
    assert count == 1
    assert [(r["complaint_id"], r["timers"]) for r in rows] == [
        (warned.complaint_id, ("首问响应", "答复业主"))
    ]


async def test_the_report_and_the_dashboard_now_read_the_kept_states_and_equal_the_fold(
    pool: asyncpg.Pool,
) -> None:
    """ "Now" the report and the dashboard read ``complaint_current``, which the projection
    keeps as it applies each event: the same answers as folding every event, here for a
    complaint suspended, judged again, moved to another office and closed, one whose
    department timer breached, and one still open; and the kept rows equal the fold for every
    complaint the module's tests told."""
    first, second = office(), office()
    moved = await Story(pool, first).received()
    await moved.tell(ComplaintAcknowledged(actor=AGENT), at(5))
    await moved.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES),
        at(10),
    )
    await moved.tell(
        ComplaintSuspended(actor=AGENT, suspension_no=1, awaiting=Awaiting.OWNER, reason="等业主"),
        at(20),
    )
    await moved.tell(ComplaintResumed(actor=AGENT, suspension_no=1), at(30))
    await moved.tell(
        ComplaintRejudged(
            actor=AGENT,
            validity=Validity.ASSIST,
            category=ServiceCategory.SECURITY,
            previous_validity=Validity.VALID,
            previous_category=ServiceCategory.FEES,
            reason="复核",
        ),
        at(40),
    )
    await moved.tell(
        ComplaintOfficeTransferred(actor=AGENT, from_office=first, to_office=second, reason="移交"),
        at(50),
    )
    await moved.tell(
        ComplaintClosed(actor=AGENT, outcome=CloseOutcome.UNSATISFIED, summary="业主不满意"),
        at(60),
    )
    late = await Story(pool, second).received()
    await late.tell(ComplaintAcknowledged(actor=AGENT), at(5))
    deadline = at(60)
    await late.tell(
        DepartmentAssigned(actor=AGENT, department="环境部", deadline=deadline, reason="manual"),
        at(10),
    )
    await late.tell(breach("department", deadline), at(61))
    await Story(pool, second).received()
    after_all = at(24 * 60)

    async def report(current: bool) -> Any:
        async with pool.acquire() as conn:
            return await reports.monthly_report(
                conn,
                period_from=T0.date(),
                period_to=T0.date(),
                office=second,
                as_of=after_all,
                offices=[],
                pool=pool,
                current=current,
            )

    async def board(current: bool) -> Any:
        async with pool.acquire() as conn:
            return await reports.dashboard(
                conn,
                office=second,
                as_of=after_all,
                hotspot_days=30,
                hotspot_min=2,
                current=current,
            )

    now, folded = await report(True), await report(False)
    assert now.model_dump() == folded.model_dump()
    assert (now.received, now.handling.rejudged) == (3, 1)
    assert now.service_levels.overdue.hits == 1
    board_now, board_folded = await board(True), await board(False)
    assert board_now.model_dump() == board_folded.model_dump()
    assert board_now.open.total == 2
    async with pool.acquire() as conn:
        await assert_current_is_the_fold(conn)
        assert await conn.fetchval("SELECT count(*) FROM reporting.complaint_current") >= 3


async def test_a_report_made_of_groups_is_the_report_of_every_complaints_row(
    pool: asyncpg.Pool,
) -> None:
    """A report is made of the period's complaints grouped by what the counts read, the
    complaints it names one by one and the latest complaint of each problem
    (``period_parts``): the same report as made of every complaint's own row (``report_parts``
    of ``period_rows``), "now" and as of T, and "now" the same as folded as of T. Here with a
    problem spelt two ways, two complaints of one problem at one instant, direct, merged,
    withdrawn, unjudged, invalid and assist complaints, in two offices, company-wide and for
    one office."""
    day = T0 + timedelta(days=45)
    first, second = office(), office()
    fees, parking = ServiceCategory.FEES, ServiceCategory.VEHICLES_TRAFFIC

    async def told(
        where: str,
        subject: str,
        minutes: int,
        validity: Validity | None,
        category: ServiceCategory | None = fees,
        channel: Channel = Channel.HOTLINE,
        complaint_id: uuid.UUID | None = None,
    ) -> Story:
        story = Story(
            pool,
            where,
            subject=subject,
            channel=channel,
            occurred_at=day + timedelta(minutes=minutes),
            complaint_id=complaint_id or uuid.uuid4(),
            description=f"{subject}：第{minutes}分钟，{uuid.uuid4().hex[:4]}",
        )
        await story.received()
        if validity is not None:
            await story.tell(
                ComplaintJudged(
                    actor=AGENT,
                    validity=validity,
                    category=None if validity is Validity.INVALID else category,
                ),
                day + timedelta(minutes=minutes + 1),
            )
        return story

    kept = await told(first, "垃圾桶 破损", 0, Validity.VALID)
    await told(first, "垃圾桶 破损", 10, Validity.VALID)
    await told(first, "垃圾桶 破损", 10, Validity.VALID)  # the same instant: by id
    await told(first, "垃圾桶  破损", 20, Validity.VALID)  # the same problem, spelt otherwise
    await told(first, "电梯故障", 30, Validity.VALID, parking)
    await told(first, "电梯故障", 30, Validity.VALID, parking)  # the latest two: by id
    # at that instant too, with ids above any of the others (and submissions of their own):
    # the same subject in another category, another subject in that category
    largest = uuid.UUID("ffffffff-ffff-" + str(uuid.uuid4())[14:])
    await told(
        first, "电梯故障", 30, Validity.VALID, ServiceCategory.FACILITIES, complaint_id=largest
    )
    larger = uuid.UUID("ffffffff-fffe-" + str(uuid.uuid4())[14:])
    await told(first, "路灯不亮", 30, Validity.VALID, parking, complaint_id=larger)
    large = uuid.UUID("ffffffff-fffd-" + str(uuid.uuid4())[14:])  # and judged otherwise
    await told(first, "电梯故障", 30, Validity.ASSIST, parking, complaint_id=large)
    await told(first, "停车位被占", 40, Validity.ASSIST, parking)
    await told(first, "停车位被占", 50, Validity.ASSIST, parking)
    await told(first, "噪音扰民", 60, None)
    await told(first, "乱收费", 65, Validity.INVALID)
    await told(first, "物业费", 70, Validity.VALID, channel=Channel.SUPERVISION)
    merged = await told(first, "垃圾桶 破损", 80, Validity.VALID)
    await merged.tell(
        ComplaintMerged(actor=AGENT, into_complaint_id=kept.complaint_id), day + timedelta(hours=2)
    )
    withdrawn = await told(first, "停车位被占", 90, Validity.ASSIST, parking)
    await withdrawn.tell(
        ComplaintWithdrawn(actor=AGENT, reason="业主撤诉"), day + timedelta(hours=2)
    )
    await told(second, "垃圾桶 破损", 5, Validity.VALID)
    await told(second, "停车位被占", 15, Validity.ASSIST, parking)
    await told(second, "私搭乱建", 25, Validity.INVALID, channel=Channel.SUPERVISION)
    as_of = day + timedelta(days=1)
    period = {"period_from": day.date(), "period_to": day.date()}

    on_the_day: dict[str | None, int] = {}
    for where, current in ((None, True), (first, True), (None, False), (first, False)):
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            read = ReportPeriod(
                day.date(), day.date(), where, as_of, await store.reading(conn, now=current)
            )
            parts = await period_parts(conn, read)
            rows = await period_rows(conn, read)
        args = {**period, "office": where, "offices": [first, second], "generated_at": as_of}
        made = build_from_parts(parts, **args)
        assert made.model_dump() == build_monthly_report(rows, **args).model_dump()
        assert len(parts.counted) < len(rows) - len(parts.excluded)  # alike ones grouped
        async with pool.acquire() as conn:
            now = await reports.monthly_report(
                conn, **period, office=where, as_of=as_of, offices=[first, second], current=True
            )
            folded = await reports.monthly_report(
                conn, **period, office=where, as_of=as_of, offices=[first, second]
            )
        assert now.model_dump() == folded.model_dump()
        assert {(p.subject, p.count) for p in made.main_problems[0].problems} >= {
            ("垃圾桶 破损", 4 if where else 5)
        }
        assert [(t.subject, t.count) for t in made.assist_topics] == [
            ("停车位被占", 2 if where else 3),
            ("电梯故障", 1),
        ]
        assert (made.excluded.merged, made.excluded.withdrawn) == (1, 1)
        assert len(made.case_write_ups) == made.direct.total == (1 if where else 2)
        on_the_day[where] = now.received

    # Whole months "now" are counted from current_counts, only the other days' complaints
    # one by one: the same report as made of every row, and as folded (as of an instant
    # after every event). Some complaints on the month's edges, and one on a day outside.
    month_start = day.replace(day=1, hour=0, minute=0)
    month_end = (month_start + timedelta(days=31)).replace(day=1)

    def minutes_to(at: datetime) -> int:
        return int((at - day) / timedelta(minutes=1))

    await told(first, "垃圾桶 破损", minutes_to(month_start), Validity.VALID)  # its first instant
    await told(second, "停车位被占", minutes_to(month_start) - 1, Validity.ASSIST, parking)
    await told(
        first,
        "物业费",
        minutes_to(month_end) - 61,  # its last day, 22:59
        Validity.VALID,
        channel=Channel.SUPERVISION,
    )
    after_every_event = day + timedelta(days=3650)
    month = (month_start.date(), (month_end - timedelta(days=1)).date())
    wider = (month[0] - timedelta(days=1), (month_end + timedelta(days=40)).replace(day=1).date())
    # the month; and the day before it, it, and the whole month after it
    for period_from, period_to in (month, (wider[0], wider[1] - timedelta(days=1))):
        for where in (None, first):
            async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
                read = ReportPeriod(
                    period_from,
                    period_to,
                    where,
                    after_every_event,
                    await store.reading(conn, now=True),
                )
                parts = await period_parts(conn, read)
                rows = await period_rows(conn, read)
            args = {
                "period_from": period_from,
                "period_to": period_to,
                "office": where,
                "offices": [first, second],
                "generated_at": after_every_event,
            }
            made = build_from_parts(parts, **args)
            assert made.model_dump() == build_monthly_report(rows, **args).model_dump()
            edges = 2 if where or period_from == month[0] else 3  # the first, last, day before
            extra = made.received - on_the_day[where]  # company-wide: other tests' too
            assert (extra == edges) if where else (extra >= edges)
            async with pool.acquire() as conn:
                now, folded = [
                    await reports.monthly_report(
                        conn,
                        period_from=period_from,
                        period_to=period_to,
                        office=where,
                        as_of=after_every_event,
                        offices=[first, second],
                        current=current,
                    )
                    for current in (True, False)
                ]
            assert now.model_dump() == folded.model_dump()
    async with pool.acquire() as conn:
        await assert_current_is_the_fold(conn)


async def test_as_of_an_instant_a_complaint_with_nothing_after_it_is_read_as_kept(
    pool: asyncpg.Pool,
) -> None:
    """As of T, while ``complaint_current`` holds every complaint, a complaint with no event
    recorded after T is read as kept and only the others are folded: the same parts of the
    report as folding every complaint (as while a bulk load's fill-in is pending), at instants
    before, between and after the steps of complaints judged, moved to another office,
    breached and closed, merged, and received late; company-wide and for each office."""
    day = T0 + timedelta(days=50)
    first, second = office(), office()

    def after(minutes: int) -> datetime:
        return day + timedelta(minutes=minutes)

    moved = await Story(pool, first, occurred_at=day).received()
    await moved.tell(
        ComplaintJudged(actor=AGENT, validity=Validity.VALID, category=ServiceCategory.FEES),
        after(10),
    )
    await moved.tell(
        ComplaintOfficeTransferred(actor=AGENT, from_office=first, to_office=second, reason="移交"),
        after(30),
    )
    breached = await Story(pool, first, occurred_at=after(5)).received()
    await breached.tell(
        DepartmentAssigned(actor=AGENT, department="环境部", deadline=after(20), reason="manual"),
        after(6),
    )
    await breached.tell(breach("department", after(20)), after(21))
    await breached.tell(
        ComplaintClosed(actor=AGENT, outcome=CloseOutcome.SATISFIED, summary="已解决"), after(40)
    )
    merged = await Story(pool, first, occurred_at=after(1)).received()
    await merged.tell(ComplaintMerged(actor=AGENT, into_complaint_id=moved.complaint_id), after(25))
    await Story(pool, second, occurred_at=after(15)).received()

    async def built(where: str | None, instant: datetime, *, fold: bool) -> dict[str, Any]:
        async with pool.acquire() as conn:
            transaction = conn.transaction(isolation="repeatable_read")
            await transaction.start()
            try:
                if fold:  # as while a fill-in is pending: every complaint folded as of T
                    await conn.execute("INSERT INTO current_pending DEFAULT VALUES")
                reading = await store.reading(conn, now=False)
                parts = await period_parts(
                    conn, ReportPeriod(day.date(), day.date(), where, instant, reading)
                )
            finally:
                await transaction.rollback()
        report = build_from_parts(
            parts,
            period_from=day.date(),
            period_to=day.date(),
            office=where,
            offices=[first, second],
            generated_at=instant,
        )
        return report.model_dump()

    received = []
    for minutes in (0, 3, 8, 22, 27, 35, 40, 60):
        for where in (None, first, second):
            kept = await built(where, after(minutes), fold=False)
            assert kept == await built(where, after(minutes), fold=True), (minutes, where)
            if where is None:
                received.append(kept["received"])
    assert received == [1, 2, 3, 4, 3, 3, 3, 3]  # the merged one listed apart from 25 minutes

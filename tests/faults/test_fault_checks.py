"""The fault tests' own instruments, shown to fail when they should: a check that cannot fail
proves nothing."""

from __future__ import annotations

import asyncpg
import pytest

from tests.faults.burst import counting_applications, doubled_or_missing

pytestmark = pytest.mark.infra


async def test_counting_applications_sees_a_double_the_primary_key_hides(
    test_database: str,
) -> None:
    conn = await asyncpg.connect(test_database)
    try:
        await conn.execute(
            "CREATE SCHEMA IF NOT EXISTS fault_check; "
            "CREATE TABLE fault_check.rows (id text PRIMARY KEY)"
        )
        async with counting_applications(test_database, "fault_check.rows", "id") as applied:
            insert = "INSERT INTO fault_check.rows VALUES ($1) ON CONFLICT DO NOTHING"
            await conn.execute(insert, "once")
            await conn.execute(insert, "twice")
            await conn.execute(insert, "twice")  # a doubled apply: the table still has 1 row
            try:
                async with conn.transaction():
                    await conn.execute(insert, "rolled-back")
                    raise RuntimeError("the batch dies before its commit")
            except RuntimeError:
                pass
            rows = await conn.fetchval("SELECT count(*) FROM fault_check.rows")
            counts = await applied()
        assert rows == 2  # what a row count or a primary key would report: no double
        assert doubled_or_missing(counts, {"once", "twice"}) == {"twice": 2}
        assert doubled_or_missing(counts, {"once", "missing"}) == {"missing": 0}
        assert counts["rolled-back"] == 0  # a batch rolled back takes its counts with it
        # the trigger is gone afterwards: nothing of the instrument stays in the database
        triggers = await conn.fetchval(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'fault_check.rows'::regclass "
            "AND NOT tgisinternal"
        )
        assert triggers == 0
    finally:
        await conn.execute("DROP SCHEMA IF EXISTS fault_check CASCADE")
        await conn.close()


def _logged(*envelopes: object) -> object:
    from contracts import decode_event, encode_event
    from tests.faults.copies import Logged

    raws = [encode_event(e) for e in envelopes]  # type: ignore[arg-type]
    return Logged([(*decode_event(raw), raw) for raw in raws])


def test_log_checks_see_a_rule_or_an_alert_decided_twice_under_one_id_or_two() -> None:
    """The checks of the copies' tests count in the log, not by a key: a rule's event whose
    copies differ, an alert decided for two deadlines, a level reached twice all show."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from contracts import new_envelope
    from contracts.lifecycle import ComplaintEscalated, DepartmentProposed, EscalationLevel
    from contracts.sla import SlaBreached
    from tests.faults.copies import alert_decisions, copies_differ, escalation_levels

    cid, cause, at = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)

    def proposed(department: str) -> object:
        return new_envelope(
            DepartmentProposed(department=department, reason="规则"),
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"DepartmentProposed:{cause}"),
            complaint_id=cid,
            occurred_at=at,
            recorded_at=at,
            source="workflow/rules",
            causation_id=cause,
        )

    def breach(deadline: datetime) -> object:
        return new_envelope(
            SlaBreached(timer="reply", deadline=deadline, hard=False),
            event_id=uuid.uuid4(),
            complaint_id=cid,
            occurred_at=deadline,
            recorded_at=at,
            source="sla/scheduler",
        )

    def escalated(deadline: datetime) -> object:
        return new_envelope(
            ComplaintEscalated(
                level=EscalationLevel.CS_HEAD, reason="超时", timer="reply", deadline=deadline
            ),
            event_id=uuid.uuid4(),
            complaint_id=cid,
            occurred_at=at,
            recorded_at=at,
            source="workflow/rules",
        )

    same = _logged(proposed("工程部"), proposed("工程部"))
    assert copies_differ(same) == {}  # a republished row: the same bytes
    assert copies_differ(_logged(proposed("工程部"), proposed("环境部"))) != {}
    later = at + timedelta(minutes=1)
    assert set(alert_decisions(_logged(breach(at), breach(at))).values()) == {2}
    assert set(alert_decisions(_logged(breach(at), breach(later))).values()) == {2}
    assert set(escalation_levels(_logged(escalated(at), escalated(later))).values()) == {2}

"""The what-if comparison (pure): complaints judged under two policies, counted per office and
timer kind, and the complaints whose breach changes sides."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.lifecycle import ComplaintAcknowledged, OwnerReplied
from contracts.sla import AlertKind
from services.sla.calendar import load_calendar
from services.sla.policy import load_policy
from services.sla.scheduler import SlaRules
from services.sla.whatif import (
    Outcome,
    Period,
    WhatIfInputError,
    compare,
    judged,
    parse_other_calendar,
    parse_other_policy,
    published_check,
)
from tests.unit.sla.test_sla_fold import ACTOR, received

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "sla-reply-2-working-days.yaml"
LIVE = SlaRules(load_policy(), load_calendar())
LAX = SlaRules(parse_other_policy(EXAMPLE.read_text(encoding="utf-8")), load_calendar())
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 in China
W, B, H = AlertKind.WARNING, AlertKind.BREACHED, AlertKind.HARD_BREACHED


def replies(alerts: frozenset[Any]) -> frozenset[Any]:
    """The reply timer's alerts alone (the live policy also times the assignment, which
    these complaints never get)."""
    return frozenset(a for a in alerts if a[0] == "reply")


def outcome(office: str, was: set[Any], would: set[Any], **kw: Any) -> Outcome:
    return Outcome(
        complaint_id=kw.pop("cid", uuid.uuid4()),
        office=office,
        occurred_at=kw.pop("at", T0),
        was=frozenset(was),
        would=frozenset(would),
        **kw,
    )


def test_counts_per_office_and_timer_and_the_complaints_that_change_sides() -> None:
    gone, new = uuid.uuid4(), uuid.uuid4()
    found = compare(
        [
            # breached reply under the live policy, only warned under the other
            outcome("Y园", {("reply", W), ("reply", B)}, {("reply", W)}, cid=gone),
            # breached both ways (hard too): stays where it is
            outcome(
                "Y园", {("reply", W), ("reply", B), ("reply", H)}, {("reply", B), ("reply", H)}
            ),
            # a stricter other policy would have breached it
            outcome("G小城", {("first_response", W)}, {("first_response", B)}, cid=new),
            # nothing either way: counted as a complaint, no row
            outcome("G小城", set(), set()),
        ],
        ["first_response", "reply"],
    )
    assert found.complaints == 4
    rows = {(r.office, r.timer): r.as_dict() for r in found.rows}
    assert list(rows) == [("G小城", "first_response"), ("Y园", "reply")]
    assert rows["Y园", "reply"] == {
        "office": "Y园",
        "timer": "reply",
        "warnings": {"was": 2, "would_be": 1},
        "breaches": {"was": 2, "would_be": 1},
        "hard_breaches": {"was": 1, "would_be": 1},
        "no_longer_breached": [str(gone)],
        "newly_breached": [],
    }
    assert rows["G小城", "first_response"]["breaches"] == {"was": 0, "would_be": 1}
    assert rows["G小城", "first_response"]["newly_breached"] == [str(new)]
    totals = {r.timer: r for r in found.totals}
    assert list(totals) == ["first_response", "reply"]  # the policies' order
    assert totals["reply"].breached == [2, 1] and totals["reply"].no_longer_breached == [gone]
    # the counts reconcile: would be = was - no longer + newly
    for row in [*found.rows, *found.totals]:
        was, would = row.breached
        assert would == was - len(row.no_longer_breached) + len(row.newly_breached)


def test_a_reply_after_one_and_a_half_working_days_breaches_1_day_and_not_2_days() -> None:
    cid = uuid.uuid4()
    history = [
        (received(T0), T0),
        (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(minutes=5)),
        # Tuesday 14:30 China: 1.5 working days of 08:30-12:00 + 13:30-18:00 after Monday 09:00
        (OwnerReplied(actor=ACTOR, message="已答复"), T0 + timedelta(days=1, hours=5, minutes=30)),
    ]
    until = T0 + timedelta(days=30)
    args: dict[str, Any] = {"complaint_id": cid, "office": "Y园", "until": until}
    was = replies(judged(history, rules=LIVE, **args))
    would = replies(judged(history, rules=LAX, **args))
    assert was == {("reply", W), ("reply", B)}  # warned at 80% of a day, breached at a day
    assert would == set()  # 80% of 2 days is Tuesday 15:18: replied before even the warning
    found = compare([Outcome(cid, "Y园", T0, was, would)])
    (row,) = found.rows
    assert (row.timer, row.breached, row.warned) == ("reply", [1, 0], [1, 0])
    assert row.no_longer_breached == [cid]


def test_a_timer_that_went_on_to_breach_was_warned_first() -> None:
    # Never answered: judged a month later the reply timer is long breached, but a scheduler
    # running all along warned at 80% of the day first — the what-if counts that warning.
    history = [(received(T0), T0), (ComplaintAcknowledged(actor=ACTOR), T0)]
    alerts = judged(
        history, complaint_id=uuid.uuid4(), office="Y园", rules=LIVE, until=T0 + timedelta(30)
    )
    assert replies(alerts) == {("reply", W), ("reply", B), ("reply", H)}
    assert {("assignment", W), ("assignment", B)} <= alerts  # never judged nor assigned


def test_only_what_happened_by_the_end_of_the_judgement_counts() -> None:
    cid = uuid.uuid4()
    history = [
        (received(T0), T0),
        (ComplaintAcknowledged(actor=ACTOR), T0 + timedelta(minutes=5)),
        (OwnerReplied(actor=ACTOR, message="已答复"), T0 + timedelta(days=10)),
    ]
    # judged at Monday 17:00: the reply is still running, warned (80% = 15:24) but not due
    early = judged(
        history, complaint_id=cid, office="Y园", rules=LIVE, until=T0 + timedelta(hours=8)
    )
    assert replies(early) == {("reply", W)}
    # before the complaint was received, nothing at all
    assert judged(history, complaint_id=cid, office="Y园", rules=LIVE, until=T0 - timedelta(1)) == (
        frozenset()
    )


def test_the_log_check_compares_breaches_only() -> None:
    cid = uuid.uuid4()
    agree = outcome("Y园", {("reply", W), ("reply", B)}, set(), published=frozenset({("reply", B)}))
    differ = outcome(
        "Y园", {("reply", B), ("reply", H)}, set(), cid=cid, published=frozenset({("reply", B)})
    )
    warnings, breaches, disagreements = published_check([agree, differ])
    assert (warnings, breaches) == (0, 2)
    assert [(d.complaint_id, d.timer, d.published, d.folded) for d in disagreements] == [
        (cid, "reply", ["breached"], ["breached", "hard_breached"])
    ]


def test_a_period_is_whole_china_days_and_must_not_end_before_it_starts() -> None:
    period = Period.checked(date(2026, 1, 1), date(2026, 2, 28))
    assert period.start.isoformat() == "2026-01-01T00:00:00+08:00"
    assert period.end.isoformat() == "2026-03-01T00:00:00+08:00"
    assert period.holds(datetime(2026, 2, 28, 15, 59, tzinfo=UTC))  # 23:59 in China
    assert not period.holds(datetime(2026, 2, 28, 16, 0, tzinfo=UTC))
    with pytest.raises(WhatIfInputError) as bad:
        Period.checked(date(2026, 3, 1), date(2026, 2, 28), names=("--from", "--to"))
    assert bad.value.field == "--from" and "after it ends" in bad.value.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("timers: [unclosed", "not valid YAML"),
        ("- a list", "not an SLA policy"),
        (
            "timers:\n  reply:\n    label: x\n    starts_on: [Nope]\n    stops_on: [OwnerReplied]\n"
            "    target: 1 working day\n",
            "unknown event type(s) Nope",
        ),
        (
            "timers:\n  reply:\n    label: x\n    starts_on: [ComplaintReceived]\n"
            "    stops_on: [OwnerReplied]\n    target: soon\n",
            "not a span of time",
        ),
        ("timers: {}\nwarning_share: 2\n", "warning_share"),
    ],
)
def test_a_bad_policy_names_the_field_and_the_reason(text: str, reason: str) -> None:
    with pytest.raises(WhatIfInputError) as bad:
        parse_other_policy(text, field="--policy x.yaml")
    assert bad.value.field == "--policy x.yaml"
    assert reason in bad.value.reason


def test_a_bad_calendar_names_the_field_and_the_reason() -> None:
    with pytest.raises(WhatIfInputError) as bad:
        parse_other_calendar("default: {hours: ['18:00-08:00']}\n")
    assert bad.value.field == "calendar_yaml" and "must end after it starts" in bad.value.reason

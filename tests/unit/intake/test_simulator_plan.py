"""The channel simulator's plan: seed 000's mix, deterministic, and judged as it intends."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import orjson

from contracts import Channel, Validity
from contracts.submissions import SubmissionFormat
from contracts.timezone import CHINA
from services.intake.adapters import Accepted, Caller, Refused, judge
from services.simulator import texts
from services.simulator.plan import FLAWS, SEED_OFFICES, plan

OCTOBER = (date(2026, 10, 1), 31)


def test_a_month_has_a_few_hundred_at_most_from_seed_offices_and_all_three_channels() -> None:
    month = plan(*OCTOBER, seed=3)
    assert 80 <= len(month) <= 250  # seed 000: 245 complaints in two months
    channels = Counter(p.channel for p in month)
    assert set(channels) == {Channel.HOTLINE, Channel.APP, Channel.SUPERVISION}
    assert channels[Channel.SUPERVISION] < channels[Channel.APP] < channels[Channel.HOTLINE]
    offices = Counter(p.owner.office for p in month)
    assert set(offices) <= set(SEED_OFFICES)
    assert offices.most_common(1)[0][0] in {"Y园", "G小城"}
    assert all(
        date(2026, 10, 1) <= p.at.astimezone(CHINA).date() <= date(2026, 10, 31) for p in month
    )


def test_the_mix_follows_seed_000_and_is_written_in_chinese() -> None:
    month = [p for seed in range(4) for p in plan(*OCTOBER, seed=seed) if p.accepted]
    kinds = Counter(p.kind for p in month)
    assert (
        kinds[Validity.ASSIST] > kinds[Validity.VALID]
        and kinds[Validity.ASSIST] > kinds[Validity.INVALID]
    )
    assert 0.55 < kinds[Validity.ASSIST] / len(month) < 0.8  # seed 000: 68.3%
    assert sum(texts.VALID_CATEGORY_COUNTS.values()) == texts.KIND_SHARES[Validity.VALID] == 45
    for p in month[:50]:
        assert isinstance(p.body, dict)
        words = p.body.get("summary") or p.body.get("text") or p.body.get("description")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in words)


def test_same_seed_plans_the_same_submissions_and_another_seed_others() -> None:
    first, again, other = plan(*OCTOBER, seed=1), plan(*OCTOBER, seed=1), plan(*OCTOBER, seed=2)
    assert first == again
    assert not {p.submission_id for p in first} & {p.submission_id for p in other}


def test_repeats_resends_topic_records_and_every_flaw_are_in_a_month() -> None:
    month = plan(*OCTOBER, seed=0)
    assert any(p.repeat for p in month) and any(p.resend for p in month)
    assert {p.via for p in month} == {"http", "topic"}
    assert {p.flaw for p in month if p.flaw} == set(FLAWS)
    assert all(p.via == "topic" for p in month if p.flaw)  # so each is in the rejected list
    resent = [p for p in month if p.resend]
    assert {p.submission_id for p in resent} <= {p.submission_id for p in month if not p.resend}


def test_nothing_is_planned_after_until() -> None:
    until = datetime(2026, 10, 10, 12, 0, tzinfo=CHINA)
    assert max(p.at for p in plan(*OCTOBER, until=until) if not p.resend) <= until


async def test_intake_accepts_every_good_planned_submission_and_refuses_every_flawed_one() -> None:
    directory: dict[str, Caller] = {}

    async def lookup(phone: str) -> Caller | None:
        return directory.get(phone)

    for p in plan(*OCTOBER, seed=5):
        if p.flaw in ("bad_signature", "wrong_format"):
            continue  # faults of the record's headers, not of the payload
        raw = p.body if isinstance(p.body, bytes) else orjson.dumps(p.body)
        verdict = await judge(
            p.channel,
            p.fmt,
            raw,
            received_at=p.at + timedelta(seconds=1),
            clock_skew=timedelta(minutes=5),
            lookup=lookup,
        )
        assert isinstance(verdict, Accepted) is p.accepted, (p.flaw, verdict)
        if isinstance(verdict, Accepted):
            event = verdict.received
            directory[event.complainant.phone] = Caller(
                event.complainant.name, event.office, event.unit
            )
            assert event.over_the_head is (p.channel is Channel.SUPERVISION)
            assert verdict.complaint_id == p.complaint_id
        else:
            assert isinstance(verdict, Refused) and verdict.reasons
    formats = {p.fmt for p in plan(*OCTOBER, seed=5)}
    assert SubmissionFormat.SUBMISSION in formats and SubmissionFormat.HOTLINE_CALL in formats

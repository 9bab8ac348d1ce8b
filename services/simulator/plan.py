"""A realistic stretch of complaints from the three channels, planned before anything is sent.

Pure and deterministic: the same seed and dates give the same plan, hence the same submission
ids, so running the simulator twice adds nothing the second time. The mix follows seed 000:
its offices (Y园 and G小城 the busiest), its validity shares and valid categories (see
``texts``), about 6% over the supervision line; owners who complain again within days (which
the workflow flags as major), submissions a channel sends twice (one complaint), some sent
through the submissions topic, and a few deliberately bad ones, at least one of each flaw.
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import phonenumbers

from contracts import Channel, ServiceCategory, Validity, complaint_id_for
from contracts.submissions import SubmissionFormat
from contracts.timezone import CHINA
from services.simulator import texts

SEED_OFFICES = ("Y园", "G小城", "*湾花园", "HJ花园", "W花园", "L", "J庭", "C园", "B居", "Y*城")
"""The management offices named in seed 000, in its order."""

# Seed 000: Y园 19 and G小城 11 of 45 valid complaints; *湾花园 the company's hot spot.
_OFFICE_WEIGHT = {"Y园": 4.0, "G小城": 3.0, "*湾花园": 2.0}
# How each office writes its units (楼栋/单元/房号 as its owners say them).
_UNIT_STYLES = (
    "{b}栋{e}单元{f}{r:02d}",
    "{b}幢{e}单元{f}{r:02d}室",
    "{B}座{f}{r:02d}",
    "{b}号楼{e}单元{f}{r:02d}",
)
_MOBILE_PREFIXES = (
    "130 131 132 133 134 135 136 137 138 139 150 151 152 153 155 156 157 158 159 "
    "166 173 175 176 177 178 180 181 182 183 184 185 186 187 188 189 191 198 199"
).split()
CHANNEL_WEIGHTS = {Channel.HOTLINE: 0.50, Channel.APP: 0.44, Channel.SUPERVISION: 0.06}
TOPIC_SHARE = {Channel.HOTLINE: 0.05, Channel.APP: 0.20, Channel.SUPERVISION: 0.10}
"""Of each channel's submissions, the share published to the submissions topic (buffered)."""

Flaw = Literal[
    "bad_phone",
    "future_time",
    "empty_text",
    "photo_bytes",
    "unknown_category",
    "missing_unit",
    "unknown_caller",
    "not_json",
    "bad_signature",
    "wrong_format",
]
FLAWS: tuple[Flaw, ...] = (
    "bad_phone",
    "future_time",
    "empty_text",
    "photo_bytes",
    "unknown_category",
    "missing_unit",
    "unknown_caller",
    "not_json",
    "bad_signature",
    "wrong_format",
)
TOPIC_ONLY: frozenset[Flaw] = frozenset({"not_json", "bad_signature", "wrong_format"})
"""Flaws only a record of the submissions topic can have (every flaw is sent that way)."""
_FLAW_CHANNEL: dict[Flaw, Channel] = {
    "photo_bytes": Channel.APP,
    "unknown_category": Channel.APP,
    "missing_unit": Channel.APP,
    "unknown_caller": Channel.HOTLINE,
    "wrong_format": Channel.HOTLINE,
}


@dataclass(frozen=True)
class Owner:
    """A complainant: who, how to reach them, where they live."""

    name: str
    phone: str
    office: str
    unit: str


@dataclass(frozen=True)
class Planned:
    """One submission to send."""

    channel: Channel
    fmt: SubmissionFormat
    submission_id: str
    body: dict[str, Any] | bytes  # bytes: deliberately not JSON
    at: datetime
    via: Literal["http", "topic"]
    kind: Validity
    category: ServiceCategory
    owner: Owner
    flaw: Flaw | None = None
    resend: bool = False  # the channel sends the same submission again
    repeat: bool = False  # the owner complains again about the same thing

    @property
    def accepted(self) -> bool:
        """Whether intake should accept it."""
        return self.flaw is None

    @property
    def complaint_id(self) -> Any:
        """The complaint it becomes when accepted."""
        return complaint_id_for(self.channel, self.submission_id)


@dataclass
class _World:
    rng: random.Random
    offices: Sequence[str]
    owners: dict[str, list[Owner]] = field(default_factory=dict)
    # phone → when each owner complained, and about what
    history: dict[str, list[tuple[datetime, Owner, texts.Topic]]] = field(default_factory=dict)
    seen_phones: set[str] = field(default_factory=set)

    def phone(self) -> str:
        while True:
            number = self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.seen_phones and phonenumbers.is_valid_number(
                phonenumbers.parse(number, "CN")
            ):
                self.seen_phones.add(number)
                return number

    def owner(self, office: str) -> Owner:
        pool = self.owners.setdefault(office, [])
        if len(pool) < 60 or self.rng.random() < 0.3:
            style = _UNIT_STYLES[self.offices.index(office) % len(_UNIT_STYLES)]
            unit = style.format(
                b=self.rng.randint(1, 18),
                B=self.rng.choice(string.ascii_uppercase[:6]),
                e=self.rng.randint(1, 4),
                f=self.rng.randint(1, 32),
                r=self.rng.randint(1, 4),
            )
            name = self.rng.choice(texts.SURNAMES) + self.rng.choice(texts.TITLES)
            pool.append(Owner(name=name, phone=self.phone(), office=office, unit=unit))
            return pool[-1]
        return self.rng.choice(pool)


def _weighted(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _topic(rng: random.Random) -> texts.Topic:
    kind = _weighted(rng, {k: float(v) for k, v in texts.KIND_SHARES.items()})
    if kind is Validity.VALID:
        counts = texts.VALID_CATEGORY_COUNTS
        category = _weighted(rng, {c: float(n) for c, n in counts.items()})
        return rng.choice(texts.topics_of(kind, category))
    return rng.choice(texts.topics_of(kind))


def _when(rng: random.Random, day: date) -> datetime:
    """A time of day owners complain at: mostly daytime, some evenings, few at night."""
    hour = rng.choices(range(24), weights=[1] * 7 + [4] * 4 + [3] * 3 + [5] * 5 + [3] * 4 + [1])[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), CHINA)


def _body(
    channel: Channel,
    fmt: SubmissionFormat,
    sid: str,
    owner: Owner,
    topic: texts.Topic,
    at: datetime,
    *,
    rng: random.Random,
    repeat: bool,
    known_caller: bool,
) -> dict[str, Any]:
    """The payload the channel's system would send."""
    description = rng.choice(topic.descriptions)
    if repeat:
        description = rng.choice(texts.REPEAT_OPENINGS) + description
    demand = rng.choice(topic.demands)
    when = at.isoformat()
    if fmt is SubmissionFormat.HOTLINE_CALL:
        return _hotline_call(sid, owner, topic, when, description, demand, rng, known_caller)
    if fmt is SubmissionFormat.APP_COMPLAINT:
        return _app_complaint(sid, owner, topic, at, description, demand, rng)
    facts = {
        "office": owner.office,
        "unit": owner.unit,
        "complainant": {"name": owner.name, "phone": owner.phone},
        "subject": topic.subject,
        "description": description,
        "demand": demand,
    }
    if fmt is SubmissionFormat.SUPERVISION_CASE:
        return {
            "case_no": sid,
            "received_by": f"PZ{rng.randint(1, 6):02d}",
            "received_at": when,
            **facts,
            "description": texts.SUPERVISION_OPENING + description,
        }
    return {"submission_id": sid, "occurred_at": when, **facts}


def _hotline_call(
    sid: str,
    owner: Owner,
    topic: texts.Topic,
    when: str,
    description: str,
    demand: str,
    rng: random.Random,
    known_caller: bool,
) -> dict[str, Any]:
    """A call as the hotline's agent recorded it."""
    body: dict[str, Any] = {
        "call_id": sid,
        "caller_number": owner.phone,
        "agent_id": f"KF{rng.randint(1, 40):03d}",
        "call_started_at": when,
        "subject": topic.subject,
        "summary": texts.HOTLINE_OPENING + description,
        "demand": demand,
    }
    if not known_caller:  # a caller the directory knows needs only their number
        body |= {"caller_name": owner.name, "office": owner.office, "unit": owner.unit}
    return body


def _app_complaint(
    sid: str,
    owner: Owner,
    topic: texts.Topic,
    at: datetime,
    description: str,
    demand: str,
    rng: random.Random,
) -> dict[str, Any]:
    """An owner's complaint as the app sends it, with photo references."""
    photos = [
        f"oss://owner-photos/{at:%Y/%m}/{sid.lower()}-{n}.jpg"
        for n in range(rng.choice((0, 0, 1, 2, 3)))
    ]
    return {
        "app_complaint_id": sid,
        "owner_account_id": f"U{int(owner.phone) % 10**7:07d}",
        "owner_name": owner.name,
        "owner_phone": owner.phone,
        "office": owner.office,
        "unit": owner.unit,
        "category": rng.choice((topic.category.value, topic.category.label)),
        "title": topic.subject if rng.random() < 0.6 else None,
        "text": description,
        "demand": demand,
        "photos": photos,
        "submitted_at": at.isoformat(),
    }


def _spoil(planned: Planned, flaw: Flaw, fresh_phone: str) -> Planned:
    """The same submission with one deliberate flaw."""
    body = dict(planned.body) if isinstance(planned.body, dict) else {}
    fmt = planned.fmt
    time_field = {
        SubmissionFormat.HOTLINE_CALL: "call_started_at",
        SubmissionFormat.APP_COMPLAINT: "submitted_at",
        SubmissionFormat.SUPERVISION_CASE: "received_at",
    }.get(fmt, "occurred_at")
    match flaw:
        case "bad_phone":
            for key in ("caller_number", "owner_phone"):
                if key in body:
                    body[key] = body[key][:-1]  # a digit short
            if "complainant" in body:
                body["complainant"] = {**body["complainant"], "phone": "0755-123"}
        case "future_time":
            body[time_field] = "2099-01-01T09:00:00+08:00"  # a clock set wrong
        case "empty_text":
            for key in ("summary", "text", "description"):
                if key in body:
                    body[key] = "  "
        case "photo_bytes":
            body["photos"] = ["data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQ"]
        case "unknown_category":
            body["category"] = "绿化养护"
        case "missing_unit":
            body.pop("unit", None)
        case "unknown_caller":  # a number nobody complained from, and no name given
            body["caller_number"] = fresh_phone
            for key in ("caller_name", "office", "unit"):
                body.pop(key, None)
        case "not_json":
            raw = str(body).encode()[:60]  # a buffer cut short: not JSON
            return replace(planned, body=raw, via="topic", flaw=flaw)
        case "bad_signature" | "wrong_format":
            pass  # the body is fine; the sender gets the record's headers wrong
    # Through the topic, so that each bad one shows in the rejected list (over HTTP the
    # channel would be answered 422 at once instead; the tests cover that way).
    return replace(planned, body=body, via="topic", flaw=flaw)


def plan(
    start: date,
    days: int,
    *,
    per_day: float = 4.0,
    seed: int = 0,
    offices: Sequence[str] = SEED_OFFICES,
    bad_share: float = 0.05,
    resend_share: float = 0.05,
    repeat_share: float = 0.08,
    until: datetime | None = None,
) -> list[Planned]:
    """The submissions of ``days`` days from ``start``, in time order (none after ``until``).

    About ``per_day`` complaints a day (more at weekends). ``bad_share`` of them are sent
    with a deliberate flaw, at least one of each of ``FLAWS`` when there are any bad ones.
    """
    rng = random.Random(seed)
    world = _World(rng=rng, offices=list(offices))
    weights = {o: _OFFICE_WEIGHT.get(o, 1.0) for o in offices}
    out: list[Planned] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        mean = per_day * (1.3 if day.weekday() >= 5 else 0.9)
        for _ in range(max(0, round(rng.gauss(mean, mean**0.5)))):
            at = _when(rng, day)
            if until is not None and at > until:
                continue
            out.append(_one(world, weights, at, seed=seed, n=len(out), repeat_share=repeat_share))
    out.sort(key=lambda p: p.at)
    out = _with_flaws(out, world, bad_share)
    resent = [
        replace(p, resend=True, at=p.at + timedelta(seconds=rng.randint(5, 90)))
        for p in out
        if p.accepted and rng.random() < resend_share
    ]
    return sorted(out + resent, key=lambda p: p.at)


def _one(
    world: _World,
    weights: dict[str, float],
    at: datetime,
    *,
    seed: int,
    n: int,
    repeat_share: float,
) -> Planned:
    rng = world.rng
    channel: Channel = _weighted(rng, CHANNEL_WEIGHTS)
    recent = [
        (when, owner, topic)
        for entries in world.history.values()
        for when, owner, topic in entries
        if at - timedelta(days=7) <= when < at
    ]
    repeat = bool(recent) and rng.random() < repeat_share
    if repeat:
        _, owner, topic = rng.choice(recent)
    else:
        owner = world.owner(_weighted(rng, weights))
        topic = _topic(rng)
    known_caller = owner.phone in {o.phone for e in world.history.values() for _, o, _ in e}
    fmt = {
        Channel.HOTLINE: SubmissionFormat.HOTLINE_CALL,
        Channel.APP: SubmissionFormat.APP_COMPLAINT,
        Channel.SUPERVISION: SubmissionFormat.SUPERVISION_CASE,
    }[channel]
    if channel is Channel.HOTLINE and rng.random() < 0.1:
        fmt = SubmissionFormat.SUBMISSION  # an older integration still on the generic format
    via: Literal["http", "topic"] = "topic" if rng.random() < TOPIC_SHARE[channel] else "http"
    prefix = {Channel.HOTLINE: "CC", Channel.APP: "APP", Channel.SUPERVISION: "JD"}[channel]
    sid = f"{prefix}{at:%Y%m%d%H%M%S}-s{seed}-{n:04d}"
    # The directory is only relied upon over HTTP, where the agent can still ask for the name.
    lean = known_caller and via == "http" and rng.random() < 0.7
    body = _body(channel, fmt, sid, owner, topic, at, rng=rng, repeat=repeat, known_caller=lean)
    world.history.setdefault(owner.phone, []).append((at, owner, topic))
    return Planned(
        channel=channel,
        fmt=fmt,
        submission_id=sid,
        body=body,
        at=at,
        via=via,
        kind=topic.kind,
        category=topic.category,
        owner=owner,
        repeat=repeat,
    )


def _with_flaws(out: list[Planned], world: _World, share: float) -> list[Planned]:
    """Spoil about ``share`` of the submissions, at least one with each flaw."""
    rng = world.rng
    if share <= 0 or not out:
        return out
    wanted = max(len(FLAWS), round(len(out) * share))
    flaws = [FLAWS[i % len(FLAWS)] for i in range(wanted)]
    spoiled = list(out)
    taken: set[int] = set()
    for flaw in flaws:
        channel = _FLAW_CHANNEL.get(flaw)
        candidates = [
            i
            for i, p in enumerate(spoiled)
            if i not in taken
            and not p.repeat
            and (channel is None or p.channel is channel)
            and (flaw != "wrong_format" or p.fmt is SubmissionFormat.HOTLINE_CALL)
            and (flaw != "unknown_caller" or p.fmt is SubmissionFormat.HOTLINE_CALL)
        ]
        if not candidates:
            continue
        i = rng.choice(candidates)
        taken.add(i)
        spoiled[i] = _spoil(spoiled[i], flaw, world.phone())
    return spoiled

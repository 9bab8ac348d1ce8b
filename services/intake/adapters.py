"""The channel adapters: each channel's payload mapped onto one ``ComplaintReceived``.

Pure rules, no I/O: the caller directory is consulted through a lookup passed in. The HTTP
endpoints and the submissions-topic consumer both come through here (``judge`` from bytes,
``judge_payload`` from a payload FastAPI already parsed with the same model), so a submission
is accepted or refused for the same reasons whichever way it came.

A channel's own id (call id, the app's complaint id, the supervision case number) is its
submission id: ``(channel, id)`` fixes the complaint id and the event id, so a retried or
re-delivered submission is the same complaint.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

import orjson
from pydantic import ValidationError

from contracts import (
    Channel,
    ComplaintReceived,
    ComplaintReceivedV3,
    Envelope,
    ServiceCategory,
    complaint_id_for,
    new_envelope,
    received_event_id,
)
from contracts.intake import ChannelRefs, Submission
from contracts.submissions import (
    AppComplaint,
    HotlineCall,
    Reason,
    SubmissionFormat,
    SupervisionCase,
)
from services.runtime.http import field_errors

Payload = Submission | HotlineCall | AppComplaint | SupervisionCase


@dataclass(frozen=True)
class Caller:
    """What intake's directory knows of a phone number (from the latest complaint made from it,
    unless its complainant was erased)."""

    name: str
    office: str
    unit: str


CallerLookup = Callable[[str], Awaitable[Caller | None]]


@dataclass(frozen=True)
class Refused:
    """A refused submission: every reason, and the channel's id of it when it could be read."""

    reasons: list[Reason]
    submission_id: str | None = None

    def errors(self) -> list[dict[str, str]]:
        """The reasons in the 422 format (``{"field": …, "reason": …}``)."""
        return [reason.model_dump() for reason in self.reasons]


@dataclass(frozen=True)
class Accepted:
    """An accepted submission: the event to record, with the ids a retry will get again."""

    channel: Channel
    received: ComplaintReceivedV3  # in clear: sealed (``vault.seal_received``) for the log

    @cached_property  # uuid5 hashes: asked for four times per accepted request
    def complaint_id(self) -> UUID:
        """The complaint's id, derived from (channel, submission id)."""
        return complaint_id_for(self.channel, self.received.submission_id)

    @cached_property
    def event_id(self) -> UUID:
        """The id of the complaint's one ``ComplaintReceived``."""
        return received_event_id(self.complaint_id)

    def envelope(self, sealed: ComplaintReceived, *, recorded_at: datetime) -> Envelope:
        """The event as it goes into the log: ``sealed`` is ``received`` with its personal
        fields sealed (``services.runtime.vault.seal_received``)."""
        return new_envelope(
            sealed,
            event_id=self.event_id,
            complaint_id=self.complaint_id,
            occurred_at=self.received.occurred_at,
            recorded_at=recorded_at,
            source=f"intake/{self.channel.value}",
            correlation_id=self.complaint_id,
        )


Verdict = Accepted | Refused


def reasons_from(errors: Any, rename: Mapping[str, str] | None = None) -> list[Reason]:
    """Pydantic's errors as reasons, with the contract's field names put back into the
    channel's own (``description`` → ``summary`` for a hotline call)."""
    rename = rename or {}
    return [
        Reason(field=rename.get(e["field"], e["field"]), reason=e["reason"])
        for e in field_errors(errors)
    ]


def id_in(fmt: SubmissionFormat | None, body: bytes | str) -> str | None:
    """The channel's id of a payload that could not be accepted, when it can still be read
    (under ``fmt``'s id field, else any format's)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    fields = [f.id_field for f in SubmissionFormat]
    if fmt is not None:
        fields.insert(0, fmt.id_field)
    for name in fields:
        found = value.get(name)
        if isinstance(found, str) and 0 < len(found) <= 128:
            return found
    return None


def parse(fmt: SubmissionFormat, body: bytes | str) -> Payload | Refused:
    """Validate raw JSON against the format's model (the same model the HTTP endpoint uses)."""
    try:
        payload: Payload = fmt.model.model_validate_json(body)  # type: ignore[assignment]
    except ValidationError as exc:
        return Refused(reasons_from(exc.errors()), id_in(fmt, body))
    return payload


def directory_number(payload: Payload) -> str | None:
    """The phone number whose directory entry the payload needs, if any: a hotline call that
    leaves out the caller's name, office or unit."""
    if isinstance(payload, HotlineCall) and None in (
        payload.caller_name,
        payload.office,
        payload.unit,
    ):
        return payload.caller_number
    return None


# Where each contract field came from in a channel's payload, to name it in a refusal.
_HOTLINE_FIELDS = {
    "submission_id": "call_id",
    "complainant.name": "caller_name",
    "complainant.phone": "caller_number",
    "description": "summary",
    "occurred_at": "call_started_at",
}
_APP_FIELDS = {
    "submission_id": "app_complaint_id",
    "complainant.name": "owner_name",
    "complainant.phone": "owner_phone",
    "subject": "title",
    "description": "text",
    "occurred_at": "submitted_at",
}
_SUPERVISION_FIELDS = {"submission_id": "case_no", "occurred_at": "received_at"}


@dataclass(frozen=True)
class _Mapped:
    # a ``Submission`` is taken as it is (validated by the same model); a channel's facts are
    # validated as one (a directory entry may have brought a value in)
    submission: Submission | dict[str, Any]
    rename: Mapping[str, str]
    photos: Sequence[str] = ()
    owner_category: ServiceCategory | None = None
    refs: ChannelRefs | None = None


def _from_directory(call: HotlineCall, caller: Caller | None) -> dict[str, Any] | Refused:
    """The caller's name, office and unit: as the agent recorded them, else from the directory."""
    known = {
        "caller_name": call.caller_name or (caller.name if caller else None),
        "office": call.office or (caller.office if caller else None),
        "unit": call.unit or (caller.unit if caller else None),
    }
    missing = [field for field, value in known.items() if value is None]
    if missing:
        why = "not given, and the caller's number is not in the directory: the agent must ask"
        return Refused([Reason(field=f, reason=why) for f in missing], call.call_id)
    return known


def _map(payload: Payload, caller: Caller | None) -> _Mapped | Refused:
    """The register's facts of a payload, and what the channel adds to them."""
    match payload:
        case Submission():
            return _Mapped(payload, {})
        case HotlineCall():
            known = _from_directory(payload, caller)
            if isinstance(known, Refused):
                return known
            facts = {
                "submission_id": payload.call_id,
                "office": known["office"],
                "unit": known["unit"],
                "complainant": {"name": known["caller_name"], "phone": payload.caller_number},
                "subject": payload.subject,
                "description": payload.summary,
                "demand": payload.demand,
                "occurred_at": payload.call_started_at,
            }
            refs = ChannelRefs(call_id=payload.call_id, agent_id=payload.agent_id)
            return _Mapped(facts, _HOTLINE_FIELDS, refs=refs)
        case AppComplaint():
            facts = {
                "submission_id": payload.app_complaint_id,
                "office": payload.office,
                "unit": payload.unit,
                "complainant": {"name": payload.owner_name, "phone": payload.owner_phone},
                "subject": payload.title or payload.category.label,
                "description": payload.text,
                "demand": payload.demand,
                "occurred_at": payload.submitted_at,
            }
            refs = ChannelRefs(account_id=payload.owner_account_id)
            return _Mapped(facts, _APP_FIELDS, payload.photos, payload.category, refs)
        case SupervisionCase():
            facts = payload.model_dump(exclude={"case_no", "received_by", "received_at"})
            facts |= {"submission_id": payload.case_no, "occurred_at": payload.received_at}
            refs = ChannelRefs(agent_id=payload.received_by)
            return _Mapped(facts, _SUPERVISION_FIELDS, refs=refs)
    raise TypeError(f"no adapter for {type(payload).__name__}")  # pragma: no cover


def decide(
    channel: Channel,
    payload: Payload,
    *,
    received_at: datetime,
    clock_skew: timedelta,
    caller: Caller | None = None,
) -> Verdict:
    """Accept a parsed payload of ``channel`` as a ``ComplaintReceived``, or refuse it.

    ``received_at`` is when the channel handed it over (the HTTP request, the record's
    timestamp): a complaint time later than that plus ``clock_skew`` lies in the future.
    ``caller`` is the directory's entry for a hotline call that needs one.
    """
    mapped = _map(payload, caller)
    if isinstance(mapped, Refused):
        return mapped
    facts = mapped.submission
    if isinstance(facts, Submission):
        submission = facts
    else:
        try:
            submission = Submission.model_validate(facts)
        except ValidationError as exc:  # only what a directory entry brought in can fail here
            return Refused(reasons_from(exc.errors(), mapped.rename), facts.get("submission_id"))
    if submission.occurred_at > received_at + clock_skew:
        field = mapped.rename.get("occurred_at", "occurred_at")
        return Refused([Reason(field=field, reason="lies in the future")], submission.submission_id)
    received = ComplaintReceivedV3.from_submission(
        channel,
        submission,
        photos=mapped.photos,
        owner_category=mapped.owner_category,
        channel_refs=mapped.refs,
    )
    return Accepted(channel=channel, received=received)


async def judge_payload(
    channel: Channel,
    payload: Payload,
    *,
    received_at: datetime,
    clock_skew: timedelta,
    lookup: CallerLookup,
) -> Verdict:
    """``decide``, asking the directory first when the payload needs it."""
    number = directory_number(payload)
    caller = await lookup(number) if number is not None else None
    return decide(channel, payload, received_at=received_at, clock_skew=clock_skew, caller=caller)


async def judge(
    channel: Channel,
    fmt: SubmissionFormat,
    body: bytes | str,
    *,
    received_at: datetime,
    clock_skew: timedelta,
    lookup: CallerLookup,
) -> Verdict:
    """Parse raw JSON of ``fmt`` and decide it: the whole validation of one submission."""
    payload = parse(fmt, body)
    if isinstance(payload, Refused):
        return payload
    return await judge_payload(
        channel, payload, received_at=received_at, clock_skew=clock_skew, lookup=lookup
    )

"""The submissions topic: each record a channel published becomes exactly one decision.

A record (protocol in ``contracts.submissions``) is authenticated by its HMAC signature, then
validated by the same adapters as an HTTP submission. In the consumer's transaction, with the
offset, intake writes into its outbox either the ``ComplaintReceived`` (events topic; ids from
(channel, submission id), so a re-published submission is one complaint) or a
``SubmissionRejected`` naming every reason and the record's offset (rejections topic), and
notes the decision against the record. Bytes that are not even JSON are rejections too.

``SubmissionsProcessor`` is a processor (``services.runtime.consumer.processor``), not a
projection: the consumer hands it each record as the topic holds it, claimed by the record's
place in the topic, and nothing it does is ever rebuilt.

"In the future" is judged against the record's timestamp (when the channel published it), not
the moment intake reads it, so reading the topic again reaches the same decisions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import asyncpg
from aiokafka import ConsumerRecord

from contracts import Channel, Envelope, complaint_id_for, new_envelope
from contracts.intake import ID_NAMESPACE
from contracts.submissions import (
    HEADER_CHANNEL,
    HEADER_FORMAT,
    HEADER_SIGNATURE,
    Reason,
    RecordRef,
    SubmissionFormat,
    SubmissionRejected,
    rejection_id,
    signature_matches,
)
from services.intake import store
from services.intake.adapters import (
    Accepted,
    Caller,
    Refused,
    Verdict,
    id_in,
    judge,
    parse,
)
from services.intake.settings import IntakeSettings
from services.runtime import vault
from services.runtime.outbox import enqueue
from services.runtime.spec import Now

SCHEMA = "intake"
CHANNELS = ", ".join(c.value for c in Channel)
FORMATS = ", ".join(f.value for f in SubmissionFormat)


@dataclass(frozen=True)
class InboundRecord:
    """A submissions-topic record as intake judges it: where it is, when it was published,
    its headers (names in lower case) and its bytes."""

    ref: RecordRef
    published_at: datetime
    headers: dict[str, bytes]
    value: bytes


def inbound_of(record: ConsumerRecord[bytes, bytes]) -> InboundRecord:
    """The record as intake judges it (never failing: judging the bytes is ``judge_record``'s)."""
    return InboundRecord(
        ref=RecordRef(topic=record.topic, partition=record.partition, offset=record.offset),
        published_at=datetime.fromtimestamp(record.timestamp / 1000, UTC),
        headers={key.lower(): value for key, value in (record.headers or ())},
        value=record.value or b"",
    )


def _header(record: InboundRecord, name: str) -> str | None:
    raw = record.headers.get(name)
    return raw.decode("utf-8", errors="replace").strip() if raw is not None else None


def _claimed(record: InboundRecord) -> Channel | None:
    try:
        return Channel(_header(record, HEADER_CHANNEL) or "")
    except ValueError:
        return None


def authenticate(settings: IntakeSettings, record: InboundRecord) -> Channel | list[Reason]:
    """The channel that signed the record, or why it cannot be believed."""
    named, signature = _header(record, HEADER_CHANNEL), _header(record, HEADER_SIGNATURE)
    reasons = []
    if not named:
        reasons.append(Reason(field=f"header {HEADER_CHANNEL}", reason="missing"))
    if not signature:
        reasons.append(
            Reason(
                field=f"header {HEADER_SIGNATURE}",
                reason="missing: sha256=<HMAC-SHA256 of the value under the channel's key>",
            )
        )
    if reasons or named is None or signature is None:
        return reasons
    try:
        channel = Channel(named)
    except ValueError:
        return [Reason(field=f"header {HEADER_CHANNEL}", reason=f"not one of {CHANNELS}")]
    if not any(signature_matches(k, record.value, signature) for k in settings.keys_of(channel)):
        why = "does not verify with any key of the channel named in x-channel"
        return [Reason(field=f"header {HEADER_SIGNATURE}", reason=why)]
    return channel


def format_of(
    record: InboundRecord, channel: Channel | None
) -> tuple[SubmissionFormat | None, list[Reason]]:
    """The payload format the record declares, and why it may not be used, if so."""
    named = _header(record, HEADER_FORMAT) or SubmissionFormat.SUBMISSION.value
    field = f"header {HEADER_FORMAT}"
    try:
        fmt = SubmissionFormat(named)
    except ValueError:
        return None, [Reason(field=field, reason=f"not one of {FORMATS}")]
    if channel is not None and fmt.channel not in (None, channel):
        why = f"{fmt.value} is the {fmt.channel} channel's format; {channel.value} may not send it"
        return fmt, [Reason(field=field, reason=why)]
    return fmt, []


async def judge_record(
    settings: IntakeSettings, record: InboundRecord, conn: asyncpg.Connection
) -> tuple[Channel | None, str | None, Verdict]:
    """Authenticate and validate one record: (verified channel, declared format, verdict)."""
    signed = authenticate(settings, record)
    channel = signed if isinstance(signed, Channel) else None
    reasons = [] if isinstance(signed, Channel) else list(signed)
    claimed = channel or _claimed(record)  # unverified, but enough to judge the format
    fmt, wrong_format = format_of(record, claimed)
    reasons += wrong_format
    declared = _header(record, HEADER_FORMAT)
    if channel is None or fmt is None or reasons:
        # Say everything that is wrong at once: the payload's own faults too where its format
        # applies (no directory lookup for a sender that is not believed).
        if fmt is not None and not wrong_format:
            payload = parse(fmt, record.value)
            if isinstance(payload, Refused):
                return channel, declared, Refused(reasons + payload.reasons, payload.submission_id)
        return channel, declared, Refused(reasons, id_in(fmt, record.value))

    async def lookup(phone: str) -> Caller | None:
        return await store.find_caller(conn, settings.pepper(), phone)

    verdict = await judge(
        channel,
        fmt,
        record.value,
        received_at=record.published_at,
        clock_skew=settings.intake_clock_skew,
        lookup=lookup,
    )
    return channel, declared, verdict


class SubmissionsProcessor:
    """Decides each record of the submissions topic (a ``Processor``: records in, events out)."""

    kind = "InboundSubmission"

    def __init__(self, settings: IntakeSettings, now: Now | None = None) -> None:
        self.settings = settings
        self.now = now or (lambda: datetime.now(UTC))

    def record_id(self, record: ConsumerRecord[bytes, bytes]) -> uuid.UUID:
        """From the record's place in the topic: a record processed already is skipped."""
        return uuid.uuid5(ID_NAMESPACE, f"record:{record.topic}:{record.partition}:{record.offset}")

    async def process(self, conn: asyncpg.Connection, record: ConsumerRecord[bytes, bytes]) -> None:
        """Turn one record into its event, in the consumer's transaction; once per record."""
        data = inbound_of(record)
        if await store.decision_of(conn, data.ref) is not None:
            return  # decided before the offsets were reset: the decision stands
        channel, declared, verdict = await judge_record(self.settings, data, conn)
        if isinstance(verdict, Accepted):
            sealed = await vault.seal_received(
                partial(vault.key_for_sealing, conn), self.settings.pepper(), verdict.received
            )
            event = verdict.envelope(sealed, recorded_at=self.now())
            topic = self.settings.topic_events
        else:
            event = self._rejection(data, channel, declared, verdict)
            topic = self.settings.rejections_topic
        await enqueue(conn, SCHEMA, topic, event)
        await store.record_decision(
            conn, data.ref, event.event_id, accepted=isinstance(verdict, Accepted)
        )

    def _rejection(
        self,
        record: InboundRecord,
        channel: Channel | None,
        declared: str | None,
        refused: Refused,
    ) -> Envelope:
        event_id = rejection_id(record.ref)
        sid = refused.submission_id
        # Keyed like the complaint it would have been, so a corrected retry follows it.
        complaint_id = complaint_id_for(channel, sid) if channel and sid else event_id
        return new_envelope(
            SubmissionRejected(
                channel=channel,
                submission_id=sid,
                format=declared[:64] if declared else None,
                reasons=refused.reasons,
                record=record.ref,
            ),
            event_id=event_id,
            complaint_id=complaint_id,
            occurred_at=record.published_at,
            recorded_at=self.now(),
            source="intake/submissions",
            correlation_id=complaint_id,
        )

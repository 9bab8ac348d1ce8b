"""How channels submit complaints: their own payloads, the submissions topic, and rejections.

Each channel speaks its own format (``SubmissionFormat``); intake maps every one of them onto
one ``ComplaintReceived``. The same models validate a payload that arrives over HTTP and one
read from the submissions topic, so both ways in refuse the same things for the same reasons.

The submissions topic (``COMPLAINTS_TOPIC_SUBMISSIONS``), for adapters that buffer while intake
is down. A record is

- value: the JSON body the channel's HTTP endpoint takes, UTF-8;
- header ``x-channel``: the channel that sends it (``hotline``, ``app``, ``supervision``);
- header ``x-signature``: ``sha256=<hex>``, HMAC-SHA256 of the value under that channel's key
  (the key of ``X-Api-Key``). The key itself never goes into the log, which is kept forever;
- header ``x-submission-format``: one of ``SubmissionFormat`` (default ``submission``);
- key: anything (``<channel>:<submission id>`` keeps one channel's retries together).

Intake turns each record into exactly one of: a ``ComplaintReceived`` on the events topic, or a
``SubmissionRejected`` naming every reason and the record's topic, partition and offset.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from contracts.enums import Channel, ServiceCategory
from contracts.envelope import EventData, event
from contracts.intake import (
    ID_NAMESPACE,
    PHOTO_LIMIT,
    Complainant,
    Phone,
    PhotoRef,
    Submission,
)

HEADER_CHANNEL = "x-channel"
HEADER_SIGNATURE = "x-signature"
HEADER_FORMAT = "x-submission-format"

SubmissionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="The channel's own id of this submission; retries reuse it",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=50)]
Office = Annotated[str, Field(min_length=1, max_length=50, description="管理处/项目, e.g. Y园")]
Unit = Annotated[str, Field(min_length=1, max_length=50, description="房号, e.g. 3栋1单元502")]
Subject = Annotated[str, Field(min_length=1, max_length=100, description="投诉对象")]
Text = Annotated[str, Field(min_length=1, max_length=4000)]
Demand = Annotated[str, Field(max_length=2000, description="投诉要求 (may be empty)")]
StaffId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._\-]+$")]


def _category_by_value_or_label(value: Any) -> Any:
    """The app may send a category's value (``environment``) or its zh-CN label (环境服务)."""
    if isinstance(value, str):
        for category in ServiceCategory:
            if value == category.label:
                return category.value
    return value


OwnerCategory = Annotated[ServiceCategory, BeforeValidator(_category_by_value_or_label)]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class HotlineCall(_Payload):
    """A call to the customer hotline (客服热线), as the call centre's agent recorded it.

    The caller's name, office and unit may be left out when the caller's number is in intake's
    directory (filled from earlier complaints); otherwise the agent must record them.
    """

    call_id: Annotated[SubmissionId, Field(description="The call centre's id of the call")]
    caller_number: Annotated[Phone, Field(description="主叫号码, a mainland number")]
    agent_id: Annotated[StaffId, Field(description="坐席工号, the agent who took the call")]
    call_started_at: Annotated[AwareDatetime, Field(description="When the call began")]
    caller_name: Annotated[Name | None, Field(description="姓名, if the caller gave it")] = None
    office: Office | None = None
    unit: Unit | None = None
    subject: Subject
    summary: Annotated[Text, Field(description="The agent's summary of the call (通话摘要)")]
    demand: Demand = ""


class AppComplaint(_Payload):
    """A complaint filed by an owner in the owners' app (业主APP)."""

    app_complaint_id: Annotated[SubmissionId, Field(description="The app's id of it")]
    owner_account_id: Annotated[
        str, Field(min_length=1, max_length=64, description="The owner's account in the app")
    ]
    owner_name: Name
    owner_phone: Annotated[Phone, Field(description="The account's verified mobile number")]
    office: Office
    unit: Unit
    category: Annotated[
        OwnerCategory, Field(description="The service category the owner chose (value or 标签)")
    ]
    title: Annotated[
        str | None, Field(min_length=1, max_length=100, description="投诉对象; else the category")
    ] = None
    text: Annotated[Text, Field(description="What the owner wrote")]
    demand: Demand = ""
    photos: Annotated[
        list[PhotoRef],
        Field(
            max_length=PHOTO_LIMIT, description="Where the photos are stored: URLs or object keys"
        ),
    ] = []
    submitted_at: AwareDatetime


class SupervisionCase(_Payload):
    """A complaint taken by the company's service-supervision line (服务监督热线), over the
    office's head: intake marks it ``over_the_head``, which the workflow treats as major."""

    case_no: Annotated[SubmissionId, Field(description="督办单号, the supervision line's case")]
    received_by: Annotated[StaffId, Field(description="The company staff member who took it")]
    received_at: AwareDatetime
    complainant: Complainant
    office: Office
    unit: Unit
    subject: Subject
    description: Annotated[Text, Field(description="投诉内容")]
    demand: Demand = ""


class SubmissionFormat(StrEnum):
    """The payload formats intake reads; all but the generic one belong to one channel."""

    SUBMISSION = "submission"
    HOTLINE_CALL = "hotline.call"
    APP_COMPLAINT = "app.complaint"
    SUPERVISION_CASE = "supervision.case"

    @property
    def model(self) -> type[BaseModel]:
        """The pydantic model of the payload."""
        return _MODELS[self]

    @property
    def channel(self) -> Channel | None:
        """The only channel that may send this format; ``None``: any channel."""
        return _OWNERS.get(self)

    @property
    def id_field(self) -> str:
        """The payload's field holding the channel's own id (the submission id)."""
        return _ID_FIELDS[self]


_MODELS: dict[SubmissionFormat, type[BaseModel]] = {
    SubmissionFormat.SUBMISSION: Submission,
    SubmissionFormat.HOTLINE_CALL: HotlineCall,
    SubmissionFormat.APP_COMPLAINT: AppComplaint,
    SubmissionFormat.SUPERVISION_CASE: SupervisionCase,
}
_OWNERS = {
    SubmissionFormat.HOTLINE_CALL: Channel.HOTLINE,
    SubmissionFormat.APP_COMPLAINT: Channel.APP,
    SubmissionFormat.SUPERVISION_CASE: Channel.SUPERVISION,
}
_ID_FIELDS = {
    SubmissionFormat.SUBMISSION: "submission_id",
    SubmissionFormat.HOTLINE_CALL: "call_id",
    SubmissionFormat.APP_COMPLAINT: "app_complaint_id",
    SubmissionFormat.SUPERVISION_CASE: "case_no",
}


def sign(key: str, body: bytes) -> str:
    """The ``x-signature`` header of a submissions-topic record: HMAC-SHA256 of the value."""
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(key: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is ``sign(key, body)`` (compared in constant time)."""
    return hmac.compare_digest(sign(key, body).encode(), signature.encode())


def record_headers(
    channel: Channel, key: str, fmt: SubmissionFormat, body: bytes
) -> list[tuple[str, bytes]]:
    """The headers a channel adapter puts on a submissions-topic record whose value is
    ``body``."""
    return [
        (HEADER_CHANNEL, channel.value.encode()),
        (HEADER_SIGNATURE, sign(key, body).encode()),
        (HEADER_FORMAT, fmt.value.encode()),
    ]


# -- rejections ------------------------------------------------------------------------------


class Reason(BaseModel):
    """One reason a submission was refused: the field it concerns and what is wrong."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: Annotated[str, Field(min_length=1, description="e.g. caller_number, header x-channel")]
    reason: Annotated[str, Field(min_length=1)]


class RecordRef(BaseModel):
    """Where a record is in Kafka: enough to read its raw bytes again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(min_length=1)
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


@event
class SubmissionRejected(EventData):
    """A record of the submissions topic was refused; the channel is told by this record.

    It names every reason and where the raw record is (topic, partition, offset); the record
    itself stays in the topic. No personal data: the reasons never quote the input.
    """

    event_type: ClassVar[str] = "SubmissionRejected"
    schema_version: ClassVar[int] = 1

    channel: Annotated[Channel | None, Field(description="None when the signature failed")]
    submission_id: Annotated[str | None, Field(max_length=128)] = None
    format: Annotated[str | None, Field(max_length=64, description="x-submission-format")]
    reasons: Annotated[list[Reason], Field(min_length=1)]
    record: RecordRef


def rejection_id(record: RecordRef) -> uuid.UUID:
    """The id of a record's rejection: a record re-read after a crash is rejected once."""
    return uuid.uuid5(
        ID_NAMESPACE, f"SubmissionRejected:{record.topic}:{record.partition}:{record.offset}"
    )

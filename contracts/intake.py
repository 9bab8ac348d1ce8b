"""What a channel submits, and the ``ComplaintReceived`` event intake makes of it (step 1, 记录)."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import phonenumbers
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from contracts.enums import Channel, ServiceCategory
from contracts.envelope import EventData, event, read_from_log, upcaster

# Fixed forever: changing it would give retried submissions new ids.
ID_NAMESPACE = uuid.UUID("6f1c7d0e-2b1a-5c47-9a0e-6b8f3c2d9e10")


def complaint_id_for(channel: Channel, submission_id: str) -> uuid.UUID:
    """The complaint id of a channel's submission: the same submission always gets the same id."""
    return uuid.uuid5(ID_NAMESPACE, f"complaint:{channel.value}:{submission_id}")


def received_event_id(complaint_id: uuid.UUID) -> uuid.UUID:
    """The id of a complaint's one ``ComplaintReceived`` event: a retry republishes the same id."""
    return uuid.uuid5(ID_NAMESPACE, f"ComplaintReceived:{complaint_id}")


@functools.lru_cache(maxsize=4096)
def normalise_phone(value: str) -> str:
    """A mainland China phone number in national form, digits only (``13812345678``).

    Accepts spaces, dashes, ``+86``/``0086`` prefixes; refuses numbers that are not valid in
    mainland China (a wrong length, a prefix no carrier or area uses).

    Cached: one submission's number is validated three times on its way to the log (the
    request body, the channel adapter's mapping, the event), and phonenumbers' parse was a
    tenth of intake's CPU per request. A refusal raises and is not cached.
    """
    try:
        number = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from None
    if number.country_code != 86 or not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid mainland China mobile or landline number")
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in national if ch.isdigit())


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``: enough to recognise, not enough to call."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def mask_name(name: str) -> str:
    """``何先生`` → ``何**``: keep the family name only."""
    return name[:1] + "*" * (len(name) - 1) if name else name


def _phone(value: str, info: ValidationInfo) -> str:
    # A number read back from the log was normalised when it was accepted: parsing it again
    # with phonenumbers was 11% of a rebuild.
    return value if read_from_log(info) else normalise_phone(value)


Phone = Annotated[str, Field(min_length=3, max_length=32), AfterValidator(_phone)]
Text = Annotated[str, Field(min_length=1)]


class Complainant(BaseModel):
    """The owner or resident who complains."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=50, description="姓名")]
    phone: Annotated[Phone, Field(description="联系电话, mainland number, stored in national form")]


class _ComplaintFacts(BaseModel):
    """The facts of step 1 that a submission and the event both carry."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    office: Annotated[str, Field(min_length=1, max_length=50, description="管理处/项目, e.g. Y园")]
    unit: Annotated[str, Field(min_length=1, max_length=50, description="房号, e.g. 3栋1单元502")]
    complainant: Complainant
    subject: Annotated[str, Field(min_length=1, max_length=100, description="投诉对象")]
    description: Annotated[str, Field(min_length=1, max_length=4000, description="投诉内容")]
    demand: Annotated[str, Field(max_length=2000, description="投诉要求 (may be empty)")] = ""
    occurred_at: Annotated[AwareDatetime, Field(description="投诉时间, with its UTC offset")]


class Submission(_ComplaintFacts):
    """What a channel adapter sends to intake (HTTP body or submissions-topic message).

    The channel is not part of it: it comes from the credential, so a channel cannot pretend
    to be another.
    """

    submission_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9._:\-]+$",
            description="The channel's own id of this submission; retries reuse it",
        ),
    ]


@event
class ComplaintReceivedV1(_ComplaintFacts, EventData):
    """A complaint was recorded in the register (客户投诉记录表)."""

    # Version 1 exactly as published (title and description are part of its schema): kept so
    # that the old events in the log are read forever, upcast to the newest version.
    model_config = ConfigDict(title="ComplaintReceived")

    event_type: ClassVar[str] = "ComplaintReceived"
    schema_version: ClassVar[int] = 1

    channel: Channel
    submission_id: Annotated[str, Field(min_length=1, max_length=128)]


# 3栋1单元502, 12幢2单元1101室, A座1603, 5号楼302: building, then entrance, then room.
_ADDRESS = re.compile(
    r"^(?P<building>[0-9A-Za-z一二三四五六七八九十]+(?:栋|幢|座|号楼))?"
    r"(?P<entrance>[0-9一二三四五六七八九十]+单元)?"
    r"(?P<room>[0-9A-Za-z]+室?)?$"
)


class Address(BaseModel):
    """Where in the estate: building (楼栋), entrance (单元), room (房号); parts may be unknown."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    building: Annotated[str | None, Field(max_length=20, description="楼栋, e.g. 3栋")] = None
    entrance: Annotated[str | None, Field(max_length=20, description="单元, e.g. 1单元")] = None
    room: Annotated[str | None, Field(max_length=20, description="房号, e.g. 502")] = None

    @classmethod
    def parse(cls, unit: str) -> Address:
        """The parts of a unit written the usual way; unknown parts stay ``None``."""
        match = _ADDRESS.match(unit.replace(" ", ""))
        if match is None:
            return cls()
        room = match["room"].removesuffix("室") if match["room"] else None
        parts = {"building": match["building"], "entrance": match["entrance"], "room": room}
        # A part too long to be what it claims (21 digits of "room") is not understood:
        # the unit text keeps it; the address leaves it unknown rather than refuse the complaint.
        return cls(**{k: v if v is None or len(v) <= 20 else None for k, v in parts.items()})


@event
class ComplaintReceivedV2(_ComplaintFacts, EventData):
    """A complaint was recorded in the register (客户投诉记录表).

    Version 2 adds the structured ``address`` (楼栋/单元/房号), so that repeats can be found per
    building. ``unit`` keeps the text as the channel sent it.
    """

    # Version 2 exactly as published (title and description are part of its schema), kept so
    # that the v2 events in the log are read forever, upcast to the newest version.
    model_config = ConfigDict(title="ComplaintReceived")

    event_type: ClassVar[str] = "ComplaintReceived"
    schema_version: ClassVar[int] = 2

    channel: Channel
    submission_id: Annotated[str, Field(min_length=1, max_length=128)]
    address: Address


PHOTO_LIMIT = 9
"""At most this many photos per complaint (what the owners' app lets an owner attach)."""

PHOTO_REF_MAX = 512
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
# An object-store key, with or without a scheme: oss://bucket/a/b.jpg, complaints/2026/10/x.jpg
_OBJECT_KEY = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?[A-Za-z0-9][A-Za-z0-9._~!$&'()*+,;=:@/-]*$")


def photo_reference(value: str) -> str:
    """Accept a photo given as a reference (an http(s) URL or an object key), never its bytes.

    An event is kept forever and read by every service: a photo's bytes belong in an object
    store, the event names where.
    """
    if value.startswith("data:") or len(value) > PHOTO_REF_MAX:
        raise ValueError(
            "a photo is sent as a reference (URL or object key) to where it is stored, "
            "not as its bytes"
        )
    if _URL.match(value) or _OBJECT_KEY.match(value):
        return value
    raise ValueError("not an http(s) URL or an object key (e.g. oss://bucket/2026/10/a.jpg)")


PhotoRef = Annotated[
    str,
    Field(min_length=1, json_schema_extra={"maxLength": PHOTO_REF_MAX}),
    AfterValidator(photo_reference),
]


class ChannelRefs(BaseModel):
    """The channel's own references, to trace a complaint back into the channel's system."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    call_id: Annotated[
        str | None, Field(max_length=128, description="客服热线: the call centre's call id")
    ] = None
    agent_id: Annotated[
        str | None,
        Field(
            max_length=64,
            description="Who recorded it at the channel: the hotline agent (坐席工号) or the "
            "supervision line's member of company staff",
        ),
    ] = None
    account_id: Annotated[
        str | None, Field(max_length=64, description="业主APP: the owner's account id")
    ] = None


_NO_REFS = ChannelRefs()  # frozen: one for every complaint without references


def _over_the_head_from_channel(data: Any) -> Any:
    # Required on the wire (intake always writes it); code building an event without it
    # gets what the channel implies, so the marker can never contradict the channel.
    if isinstance(data, dict) and "over_the_head" not in data and "channel" in data:
        try:
            return {**data, "over_the_head": Channel(data["channel"]).is_over_the_head}
        except ValueError:
            return data  # the channel's own error is reported
    return data


@event
class ComplaintReceivedV3(_ComplaintFacts, EventData):
    """A complaint was recorded in the register (客户投诉记录表).

    Version 3 adds what the channels know beyond the register's columns: ``over_the_head``
    (越级投诉: it reached the company over the office's head, as by the supervision line), the
    owner's ``photos`` as references (URLs or object keys, never bytes), the service category
    the owner chose in the app (a hint; staff judge the category), and the channel's own
    references (call id, agent, account).
    """

    # Version 3 exactly as published (title and description are part of its schema). It is
    # also the complaint in clear as intake decides it, before the personal fields are sealed
    # into the newest version (``services.runtime.vault.seal_received``).
    model_config = ConfigDict(title="ComplaintReceived")

    event_type: ClassVar[str] = "ComplaintReceived"
    schema_version: ClassVar[int] = 3

    channel: Channel
    submission_id: Annotated[str, Field(min_length=1, max_length=128)]
    address: Address
    over_the_head: Annotated[
        bool, Field(description="越级投诉: escalated over the office's head (a major complaint)")
    ]
    photos: Annotated[
        list[PhotoRef],
        Field(max_length=PHOTO_LIMIT, description="Photo references: URLs or object keys"),
    ] = []
    owner_category: Annotated[
        ServiceCategory | None,
        Field(description="The category the owner chose (a hint; staff judge the category)"),
    ] = None
    channel_refs: ChannelRefs = ChannelRefs()

    @model_validator(mode="before")
    @classmethod
    def _over_the_head_from_channel(cls, data: Any) -> Any:
        return _over_the_head_from_channel(data)

    @classmethod
    def from_submission(
        cls,
        channel: Channel,
        submission: Submission,
        *,
        photos: Sequence[str] = (),
        owner_category: ServiceCategory | None = None,
        channel_refs: ChannelRefs | None = None,
    ) -> ComplaintReceivedV3:
        """The complaint in clear for an accepted submission from ``channel`` (intake seals
        its personal fields before it goes into the log)."""
        return cls(
            channel=channel,
            address=Address.parse(submission.unit),
            over_the_head=channel.is_over_the_head,
            photos=list(photos),
            owner_category=owner_category,
            channel_refs=channel_refs or _NO_REFS,
            **dict(submission),  # its fields as they are: dumped, they would be validated again
        )


@upcaster("ComplaintReceived", 1)
def _received_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 had only the unit text: the address is parsed from it, as intake now does."""
    return {**data, "address": Address.parse(data["unit"]).model_dump()}


@upcaster("ComplaintReceived", 2)
def _received_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 knew only the channel: a complaint by the supervision line was over the head then
    too (fixed here, whatever later channels do); v2 carried no photos, category or refs."""
    over_the_head = data["channel"] == Channel.SUPERVISION.value
    return {
        **data,
        "over_the_head": over_the_head,
        "photos": [],
        "owner_category": None,
        "channel_refs": {},
    }


SEALED_MAX = 16_384
"""Longest sealed value accepted (base64 of nonce, ciphertext and tag of at most 4000
characters of Chinese text in UTF-8)."""

Sealed64 = Annotated[
    str,
    Field(
        min_length=24,
        max_length=SEALED_MAX,
        pattern=r"^[A-Za-z0-9+/]+={0,2}$",
        description="base64 of a 12-byte nonce and the AES-256-GCM ciphertext with its tag",
    ),
]


class SealedComplainant(BaseModel):
    """The complainant as the log keeps them: a pseudonymous reference and the sealed
    ``{"name", "phone"}``. The key that opens it is kept outside the log (the vault) and is
    destroyed when the complainant is erased."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ref: Annotated[
        str,
        Field(
            pattern=r"^[0-9a-f]{64}$",
            description="HMAC-SHA256 of the normalised phone under a secret pepper: the same "
            "for every complaint from one number (pseudonymous, not anonymous)",
        ),
    ]
    sealed: Sealed64


class SealedText(BaseModel):
    """A free-text field sealed under its complainant's key (it may name people and rooms)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sealed: Sealed64


@event
class ComplaintReceived(EventData):
    """A complaint was recorded in the register (客户投诉记录表).

    Version 4 keeps personal data out of the log's clear text (PIPL Art. 47, erasable): the
    complainant is a pseudonymous ``ref`` and their sealed name and phone; ``description`` and
    ``demand`` are sealed under the same key. Every other field is as in version 3. Events of
    earlier versions carried these fields in clear and are read in that form (the complainant
    as ``{name, phone}``, the texts as strings).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    event_type: ClassVar[str] = "ComplaintReceived"
    schema_version: ClassVar[int] = 4

    office: Annotated[str, Field(min_length=1, max_length=50, description="管理处/项目, e.g. Y园")]
    unit: Annotated[str, Field(min_length=1, max_length=50, description="房号, e.g. 3栋1单元502")]
    complainant: Annotated[
        SealedComplainant | Complainant,
        Field(description="Sealed (version 4); in clear only in events of earlier versions"),
    ]
    subject: Annotated[str, Field(min_length=1, max_length=100, description="投诉对象")]
    description: Annotated[
        SealedText | str, Field(description="投诉内容, sealed (in clear before version 4)")
    ]
    demand: Annotated[
        SealedText | str, Field(description="投诉要求, sealed (in clear before version 4)")
    ] = ""
    occurred_at: Annotated[AwareDatetime, Field(description="投诉时间, with its UTC offset")]
    channel: Channel
    submission_id: Annotated[str, Field(min_length=1, max_length=128)]
    address: Address
    over_the_head: Annotated[
        bool, Field(description="越级投诉: escalated over the office's head (a major complaint)")
    ]
    photos: Annotated[
        list[PhotoRef],
        Field(max_length=PHOTO_LIMIT, description="Photo references: URLs or object keys"),
    ] = []
    owner_category: Annotated[
        ServiceCategory | None,
        Field(description="The category the owner chose (a hint; staff judge the category)"),
    ] = None
    channel_refs: ChannelRefs = ChannelRefs()

    @model_validator(mode="before")
    @classmethod
    def _over_the_head_from_channel(cls, data: Any) -> Any:
        return _over_the_head_from_channel(data)

    @property
    def sealed(self) -> bool:
        """Whether the personal fields are sealed (version 4 as written)."""
        return isinstance(self.complainant, SealedComplainant)


@upcaster("ComplaintReceived", 3)
def _received_v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    """v3 wrote the complainant and the texts in clear; they are read as they are (the log
    keeps them in clear, only the vault's erasure marks hide them on reads)."""
    return data

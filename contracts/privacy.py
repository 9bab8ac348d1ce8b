"""Personal data erasure (PIPL Art. 47): the audit event of a complainant's erasure.

A complainant's personal fields are sealed in the log under a key of their own kept outside it
(``services.runtime.vault``); erasing destroys the key. The event records that it happened,
why and by whom, and carries no personal data: only the complainant's pseudonymous reference.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field

from contracts.envelope import EventData, event
from contracts.intake import ID_NAMESPACE


class ErasureReason(StrEnum):
    """Why a complainant was erased: a closed list, so that no free text (which could carry
    personal data) enters the audit trail."""

    OWNER_REQUEST = "owner_request"  # the person asked (PIPL Art. 47)
    RETENTION = "retention"  # the retention period ended (the scheduled job)
    LEGAL_ORDER = "legal_order"  # a court or regulator ordered it


ErasureReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="The request's or order's number (letters, digits, . _ : / -; no text)",
    ),
]


def complainant_stream_id(ref: str) -> uuid.UUID:
    """The envelope's ``complaint_id`` of an event about a complainant, not a complaint: one id
    per complainant, so that their erasures share a partition and stay in order."""
    return uuid.uuid5(ID_NAMESPACE, f"complainant:{ref}")


@event
class ComplainantErased(EventData):
    """A complainant's key was destroyed: every sealed field of theirs reads ``已删除`` from now
    on, in every projection and after any rebuild. The envelope's ``complaint_id`` is the
    complainant's stream id (``complainant_stream_id``), not a complaint's."""

    event_type: ClassVar[str] = "ComplainantErased"
    schema_version: ClassVar[int] = 1

    complainant_ref: Annotated[
        str, Field(pattern=r"^[0-9a-f]{64}$", description="The erased complainant's reference")
    ]
    reason: ErasureReason
    reference: ErasureReference | None = None
    erased_by: Annotated[
        str,
        Field(min_length=1, max_length=64, description="Staff id, or `retention` for the job"),
    ]
    erased_at: AwareDatetime

"""The language the services share: the event envelope, the events, and the enums.

Nothing here does I/O. Every service imports events from here and nowhere else.
"""

from contracts.enums import Channel, ServiceCategory, Validity
from contracts.envelope import (
    Envelope,
    EventData,
    LoggedEvent,
    UnknownEventError,
    decode_event,
    decode_logged,
    encode_event,
    new_envelope,
)
from contracts.intake import (
    Complainant,
    ComplaintReceived,
    ComplaintReceivedV3,
    complaint_id_for,
    received_event_id,
)

__all__ = [
    "Channel",
    "Complainant",
    "ComplaintReceived",
    "ComplaintReceivedV3",
    "Envelope",
    "EventData",
    "LoggedEvent",
    "ServiceCategory",
    "UnknownEventError",
    "Validity",
    "complaint_id_for",
    "decode_event",
    "decode_logged",
    "encode_event",
    "lifecycle",
    "new_envelope",
    "privacy",
    "received_event_id",
    "sla",
    "submissions",
]

# Importing these modules registers their events with the envelope's registry.
from contracts import lifecycle, privacy, sla, submissions

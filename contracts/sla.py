"""Events of the SLA service: a complaint's timer is close to its deadline, or missed it.

The SLA service publishes them from its clocks (``services.sla.policy``); the workflow
escalates on ``SlaBreached`` (升级). Each (complaint, timer, deadline, kind) is one fact, so
its event id is derived from exactly those (``sla_event_id``): a service that checks its
clocks again, or restarts, republishes the same id and consumers drop the duplicate. A timer
whose deadline moves (a pause, a new department deadline, a new promise) gets new ids, because
the new deadline is a new fact.
"""

from __future__ import annotations

import functools
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field

from contracts.envelope import EventData, event

# Fixed forever: changing it would give republished warnings and breaches new ids.
SLA_NAMESPACE = uuid.UUID("3b0f7a52-9c4e-5d21-8f6a-2e7c1d9b4a63")

TimerName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="The timer kind of the SLA policy, e.g. first_response, reply, department",
    ),
]


class AlertKind(StrEnum):
    """Which fact about a deadline an SLA event reports."""

    WARNING = "warning"
    BREACHED = "breached"
    HARD_BREACHED = "hard_breached"


@functools.lru_cache(maxsize=16384)
def sla_event_id(
    complaint_id: uuid.UUID, timer: str, deadline: datetime, kind: AlertKind | str
) -> uuid.UUID:
    """The id of the SLA event of ``kind`` for a complaint's ``timer`` and ``deadline``.

    The deadline enters as UTC, so the same instant written with another offset gives the
    same id. A naive ``deadline`` is refused: it names no instant; so is an unknown ``kind``.
    Remembered: the SLA service asks for the same few ids many times while it works out a
    complaint's agenda (an equal instant in another offset, or a kind given as its text, is
    the same key: equal and of equal hash).
    """
    kind = AlertKind(kind)
    if deadline.tzinfo is None or deadline.utcoffset() is None:
        raise ValueError("the deadline must be timezone-aware")
    instant = deadline.astimezone(UTC).isoformat()
    return uuid.uuid5(SLA_NAMESPACE, f"{kind.value}:{complaint_id}:{timer}:{instant}")


@event
class SlaWarning(EventData):
    """A timer has used its warning share of the target and is still running (即将超时)."""

    event_type: ClassVar[str] = "SlaWarning"
    schema_version: ClassVar[int] = 1

    timer: TimerName
    deadline: Annotated[AwareDatetime, Field(description="When the target will be missed")]
    target: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="The target in words, e.g. 答复业主：1个工作日",
        ),
    ]
    share: Annotated[
        float,
        Field(gt=0, lt=1, description="The share of the target used when warned, e.g. 0.8"),
    ]


@event
class SlaBreached(EventData):
    """A timer reached its deadline without the event that stops it (超时)."""

    event_type: ClassVar[str] = "SlaBreached"
    schema_version: ClassVar[int] = 1

    timer: TimerName
    deadline: Annotated[AwareDatetime, Field(description="The deadline that was missed")]
    hard: Annotated[
        bool,
        Field(
            description="True: the hard limit was missed (e.g. 3 working days for the reply); "
            "false: the target (e.g. 1 working day)"
        ),
    ]

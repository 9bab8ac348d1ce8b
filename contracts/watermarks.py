"""Watermarks: a producer's word that every event it decided before an instant is in the log.

A service whose decisions can stop a clock (the workflow: acknowledgements, replies, closures)
appends one to the watermarks topic after each round of its outbox relay
(``services.runtime.outbox``). The SLA scheduler judges a deadline only once that producer's
watermark has passed it, instead of after a fixed grace: a stop decided just before the
deadline is then always read first, however long the producer took to publish it.

The instant is the producer's own clock, the one its events' ``recorded_at`` is stamped with.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt


class Watermark(BaseModel):
    """Every event ``producer`` decided (stamped ``recorded_at``) before ``before`` is in the
    log ``topic``, acknowledged by every in-sync replica, at an offset below ``offsets``'
    for its partition (the partitions' ends once they were acknowledged): a reader that has
    applied a partition up to there has read them all, whatever else the partition holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    producer: str = Field(min_length=1, max_length=64)
    topic: str = Field(min_length=1, max_length=249)
    before: AwareDatetime
    offsets: dict[int, NonNegativeInt]


def encode_watermark(watermark: Watermark) -> bytes:
    """The record's value."""
    return watermark.model_dump_json().encode()


def decode_watermark(value: bytes) -> Watermark:
    """A record's value as a watermark (``pydantic.ValidationError`` if it is none)."""
    return Watermark.model_validate_json(value)

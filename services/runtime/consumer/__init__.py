"""A projection consumer: Kafka offsets stored with the rows, duplicates ignored, poison parked.

Every service that reads the log uses this one class. For each batch of records it opens one
PostgreSQL transaction that

1. claims the batch's event ids in ``processed_events``, skipping every event already
   applied, and stores the next offset and time watermark of every partition in the batch,
   with one statement,
2. applies the new ones at once, through the projection's ``apply_batch`` when it has one,
   straight in the transaction; only when that fails is the transaction rolled back and the
   batch written again, each event in a savepoint of its own, to find the one at fault,
3. dead-letters a record it cannot process (bad bytes, unknown type, a projection error) after
   a few attempts, and moves on,

and commits. Each round trip costs 1–3 ms on a busy machine: a batch makes as few as it can.
A batch is prepared first (``prepare``: decoded, and its rows computed when the projection
can do that without the database) and then written (``write``), so a builder prepares the
next batch while the current one is written. Nothing is committed to Kafka: on
partition assignment the consumer seeks to the offsets stored in PostgreSQL, so a crash
anywhere replays at most the uncommitted batch, whose effects were rolled back with it.
Transient failures (the database restarting) are retried with backoff, without ever moving
past an event; any other failure outside the projection holds the consumer at its batch,
retried with backoff and counted, for the same reason.

Modules: ``batch`` (the projection protocol, decoders, the prepared batch), ``base``
(what every consumer does: attaching, seeking to the stored offsets, the batch held at
while it fails, dead letters, how far it has applied), ``projection`` (the
consumer and its batch transaction), ``processor`` (the kind that reads records that are not
events and emits events), ``reactor`` (automatic rules: events that cause events, run inside
the projection whose state they read).
"""

from services.runtime.consumer.batch import Batch, Decoded, Decoder, Projection, group_id
from services.runtime.consumer.projection import ProjectionConsumer

__all__ = [
    "Batch",
    "Decoded",
    "Decoder",
    "Projection",
    "ProjectionConsumer",
    "group_id",
]

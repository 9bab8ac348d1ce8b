"""Reading producers' watermarks (``contracts.watermarks``): how far each producer a service
waits for has its decisions in the log.

``Watermarks.fence()`` is the instant before which every named producer's events are in the
log, and the offsets below which they are in each partition. A producer that goes silent (its
relay behind on a full outbox, decisions in flight that keep it from saying so, its process
stopped) holds the fence where it last said, for up to ``wait_s``. ``None`` — the service
falls back on its own margin — when there is nobody to wait for, a producer was never heard
from (a system without it), or one has been silent for longer than ``wait_s`` (down: the
service's own duties come first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from contracts.watermarks import Watermark, decode_watermark
from services.runtime.kafka import client_options, topic_partitions
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fence:
    """Every event the producers decided before ``before`` is in the log below ``offsets``
    (partition → offset) in its partition."""

    before: datetime
    offsets: Mapping[int, int]
    # How many watermarks had been taken when it was made (``Watermarks.heard``): a waiter
    # for the next word names it, so that one taken meanwhile is not waited for again.
    heard: int = field(default=0, compare=False)


class Watermarks:
    """The latest watermark of each producer in ``producers`` about ``topic`` (the events the
    service reads), as read from the watermarks topic."""

    def __init__(
        self,
        producers: Sequence[str],
        *,
        topic: str,
        wait_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.producers = tuple(producers)
        self.topic = topic
        self._wait_s = wait_s
        self._clock = clock
        self._latest: dict[str, tuple[Watermark, float]] = {}  # producer → (said, heard at)
        self._waiting: set[asyncio.Event] = set()
        self.heard = 0  # how many watermarks were taken

    def note(self, watermark: Watermark) -> None:
        """Take a watermark read from the log: the latest a producer said (a new relay leader
        may say an earlier instant at first: it is taken, a claim that stays true)."""
        if watermark.producer not in self.producers or watermark.topic != self.topic:
            return
        self._latest[watermark.producer] = (watermark, self._clock())
        self.heard += 1
        for waiter in self._waiting:
            waiter.set()

    async def next_word(self, timeout_s: float, since: int | None = None) -> None:
        """Return at the next watermark taken, or after ``timeout_s``; at once if one was
        taken after the ``since``-th (``Fence.heard``: the one the caller last judged by).

        A caller judges by a fence, then works for a while (a round of the scheduler takes
        about as long as the watermarks' interval): a watermark that came meanwhile may
        already allow more, and waiting for the one after it would add a whole interval."""
        if since is not None and self.heard > since:
            return
        heard = asyncio.Event()
        self._waiting.add(heard)
        try:
            await asyncio.wait_for(heard.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            self._waiting.discard(heard)

    def fence(self) -> Fence | None:
        """The earliest of the producers' latest watermarks, below the furthest of their
        offsets; ``None`` when there is no producer to wait for, or one was never heard from
        or not for longer than ``wait_s``."""
        if not self.producers:
            return None
        now = self._clock()
        said = []
        for producer in self.producers:
            known = self._latest.get(producer)
            if known is None or now - known[1] > self._wait_s:
                return None
            said.append(known[0])
        offsets: dict[int, int] = {}
        for watermark in said:
            for partition, offset in watermark.offsets.items():
                offsets[partition] = max(offset, offsets.get(partition, 0))
        return Fence(before=min(w.before for w in said), offsets=offsets, heard=self.heard)

    async def run(self, settings: Settings) -> None:
        """Read the watermarks topic from its end, forever (reconnecting after an error)."""
        if not self.producers:
            return
        topic = settings.topic_watermarks
        while True:
            consumer = AIOKafkaConsumer(
                **client_options(settings), group_id=None, enable_auto_commit=False
            )
            try:
                await consumer.start()
                partitions = await topic_partitions(consumer, topic)
                consumer.assign(partitions)
                await consumer.seek_to_end(*partitions)  # heartbeats come many times a second
                while True:
                    batches = await consumer.getmany(timeout_ms=1000)
                    for records in batches.values():
                        for record in records:
                            self._read(record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("watermarks of %s: %s; reading again", topic, exc)
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()

    def _read(self, value: bytes | None) -> None:
        try:
            self.note(decode_watermark(value or b""))
        except ValidationError as exc:
            log.warning("a record of the watermarks topic is no watermark: %s", exc)

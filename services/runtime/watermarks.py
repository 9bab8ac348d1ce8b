"""Reading producers' watermarks (``contracts.watermarks``): how far each producer a service
waits for has its decisions in the log.

``Watermarks.fence()`` is the instant before which every named producer's events are in the
log. A producer that goes silent (its relay behind on a full outbox, decisions in flight that
keep it from saying so, its process stopped) holds the fence where it last said, for up to
``wait_s``. ``None`` — the service falls back on its own margin — when there is nobody to
wait for, a producer was never heard from (a system without it), or one has been silent for
longer than ``wait_s`` (down: the service's own duties come first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from contracts.watermarks import Watermark, decode_watermark
from services.runtime.kafka import client_options, topic_partitions
from services.runtime.settings import Settings

log = logging.getLogger(__name__)


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
        self._latest: dict[str, tuple[datetime, float]] = {}  # producer → (before, heard at)

    def note(self, watermark: Watermark) -> None:
        """Take a watermark read from the log. A claim stays true once made, so a producer's
        fence never moves back (a new relay leader may say less at first)."""
        if watermark.producer not in self.producers or watermark.topic != self.topic:
            return
        before = watermark.before
        known = self._latest.get(watermark.producer)
        if known is not None and known[0] > before:
            before = known[0]
        self._latest[watermark.producer] = (before, self._clock())

    def fence(self) -> datetime | None:
        """The earliest of the producers' latest watermarks; ``None`` when there is no producer
        to wait for, or one was never heard from or not for longer than ``wait_s``."""
        if not self.producers:
            return None
        now = self._clock()
        fences = []
        for producer in self.producers:
            known = self._latest.get(producer)
            if known is None or now - known[1] > self._wait_s:
                return None
            fences.append(known[0])
        return min(fences)

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

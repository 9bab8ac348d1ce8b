"""Sending a plan the way the channels' systems would.

Each channel sends its own submissions in time order, concurrently with the other channels:
over its HTTP adapter with its ``X-Api-Key``, or, for a share of them, as a signed record on the
submissions topic (an adapter that buffers). A hotline agent who relied on the caller
directory and is told the caller is unknown asks for the name and sends the call again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer

from contracts import Channel
from contracts.submissions import SubmissionFormat, record_headers
from services.simulator.plan import Planned

PATHS = {
    SubmissionFormat.SUBMISSION: "/v1/complaints",
    SubmissionFormat.HOTLINE_CALL: "/v1/channels/hotline/calls",
    SubmissionFormat.APP_COMPLAINT: "/v1/channels/app/complaints",
    SubmissionFormat.SUPERVISION_CASE: "/v1/channels/supervision/cases",
}
_DIRECTORY_FIELDS = {"caller_name", "office", "unit"}


@dataclass(frozen=True)
class Sent:
    """What happened to one planned submission."""

    planned: Planned
    status: int | None  # the HTTP answer; None: published to the submissions topic
    complaint_id: UUID | None = None  # from a 202
    errors: list[dict[str, str]] = field(default_factory=list)  # from a 422
    asked_for_name: bool = False  # the directory did not know the caller (yet)

    @property
    def as_planned(self) -> bool:
        """Whether intake answered as the plan expects (topic records are judged later)."""
        if self.status is None:
            return True
        return (self.status == 202) == self.planned.accepted


@dataclass(frozen=True)
class Report:
    """Everything sent in one run."""

    sent: list[Sent]
    started_at: datetime

    def accepted_ids(self) -> set[UUID]:
        """Every complaint that must exist now: 202s, and good records sent to the topic."""
        ids = {s.complaint_id for s in self.sent if s.status == 202 and s.complaint_id}
        ids |= {
            s.planned.complaint_id for s in self.sent if s.status is None and s.planned.accepted
        }
        return ids

    def topic_flawed(self) -> list[Sent]:
        """Bad records sent to the topic: each must appear among the rejected submissions."""
        return [s for s in self.sent if s.status is None and not s.planned.accepted]

    def unexpected(self) -> list[Sent]:
        """HTTP answers that differ from the plan's expectation."""
        return [s for s in self.sent if not s.as_planned]


class Channels:
    """The channels' systems: keys, an HTTP client for intake, a producer for the topic."""

    def __init__(
        self,
        *,
        intake_url: str,
        keys: dict[Channel, str],
        kafka_bootstrap: str,
        submissions_topic: str,
        retry_delay_s: float = 0.5,
        kafka_options: dict[str, Any] | None = None,
    ) -> None:
        self.intake_url = intake_url.rstrip("/")
        self.keys = keys
        self.kafka_bootstrap = kafka_bootstrap
        self.submissions_topic = submissions_topic
        self.retry_delay_s = retry_delay_s
        # Security of the producer (services.runtime.kafka.client_options); PLAINTEXT if None.
        self.kafka_options = kafka_options or {}
        self._http: httpx.AsyncClient | None = None
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Channels:
        self._http = httpx.AsyncClient(timeout=30)
        self._producer = AIOKafkaProducer(
            **{**self.kafka_options, "bootstrap_servers": self.kafka_bootstrap},
            enable_idempotence=True,
        )
        await self._producer.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._http is not None:
            await self._http.aclose()

    async def send(self, planned: Planned) -> Sent:
        """Send one planned submission the way its channel would."""
        if planned.via == "topic":
            await self._publish(planned)
            return Sent(planned=planned, status=None)
        return await self._post(planned)

    async def _post(self, planned: Planned) -> Sent:
        assert self._http is not None and isinstance(planned.body, dict)
        body, asked = planned.body, False
        for attempt in range(8):
            resp = await self._http.post(
                self.intake_url + PATHS[planned.fmt],
                json=body,
                headers={"X-Api-Key": self.keys[planned.channel]},
            )
            if resp.status_code == 503:  # the log did not confirm: retry with the same id
                await asyncio.sleep(self.retry_delay_s * (attempt + 1))
                continue
            if resp.status_code == 422 and planned.accepted and self._directory_miss(resp):
                # The caller is not in the directory (yet): the agent asks and completes it.
                owner = planned.owner
                body = {**body, "caller_name": owner.name, "office": owner.office}
                body["unit"] = owner.unit
                asked = True
                continue
            break
        answer: dict[str, Any] = resp.json() if resp.content else {}
        return Sent(
            planned=planned,
            status=resp.status_code,
            complaint_id=UUID(answer["complaint_id"]) if resp.status_code == 202 else None,
            errors=list(answer.get("errors", [])),
            asked_for_name=asked,
        )

    @staticmethod
    def _directory_miss(resp: httpx.Response) -> bool:
        fields = {e["field"] for e in resp.json().get("errors", [])}
        return bool(fields) and fields <= _DIRECTORY_FIELDS

    async def _publish(self, planned: Planned) -> None:
        assert self._producer is not None
        if isinstance(planned.body, bytes):
            value = planned.body
        else:
            value = json.dumps(planned.body, ensure_ascii=False).encode()
        key = self.keys[planned.channel]
        fmt = planned.fmt
        if planned.flaw == "bad_signature":
            key = "not-" + key  # an adapter configured with a wrong key
        if planned.flaw == "wrong_format":
            fmt = SubmissionFormat.APP_COMPLAINT  # the hotline's adapter names the app's format
        await self._producer.send_and_wait(
            self.submissions_topic,
            value,
            key=f"{planned.channel.value}:{planned.submission_id}".encode(),
            headers=record_headers(planned.channel, key, fmt, value),
        )


async def send_all(channels: Channels, plan: Sequence[Planned]) -> Report:
    """Send a plan: each channel in time order, the three channels at the same time."""
    started_at = datetime.now(UTC)
    by_channel: dict[Channel, list[Planned]] = {}
    for planned in sorted(plan, key=lambda p: p.at):
        by_channel.setdefault(planned.channel, []).append(planned)

    async def one_channel(items: list[Planned]) -> list[Sent]:
        return [await channels.send(planned) for planned in items]

    results = await asyncio.gather(*(one_channel(items) for items in by_channel.values()))
    return Report(sent=[s for result in results for s in result], started_at=started_at)

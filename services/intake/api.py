"""Intake's HTTP API: channels submit complaints; ``202`` only once Kafka has the event."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, FastAPI, Header, HTTPException, Request, status
from pydantic import BaseModel

from contracts import Channel, ComplaintReceived, complaint_id_for, new_envelope, received_event_id
from contracts.intake import Submission
from services.intake.settings import IntakeSettings
from services.runtime.http import FieldErrors, install_common
from services.runtime.kafka import ensure_topics, make_broker, publish_event

log = logging.getLogger(__name__)


class Accepted(BaseModel):
    """The answer to an accepted submission: the ids a retry will get again."""

    complaint_id: UUID
    event_id: UUID


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """The intake service's ASGI app."""
    settings = settings or IntakeSettings()
    broker = make_broker(settings, client_id="intake")
    connected = asyncio.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ensure_topics(settings)
        await broker.start()
        connected.set()
        yield
        await broker.stop()

    app = FastAPI(
        title="Complaints intake",
        version="1",
        description="Channel adapters submit complaints here (物业客户投诉登记).",
        lifespan=lifespan,
    )

    async def broker_ready() -> bool:
        return connected.is_set() and await broker.ping(timeout=2)

    install_common(app, service="intake", readiness={"kafka": broker_ready})

    def channel_of(
        x_api_key: Annotated[str | None, Header(description="One key per channel")] = None,
    ) -> Channel:
        channel = settings.channel_for_key(x_api_key)
        if channel is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="X-Api-Key: missing or not a key of any channel",
            )
        return channel

    @app.post(
        "/v1/complaints",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        summary="Submit a complaint (the channel comes from the X-Api-Key credential)",
        responses={
            401: {"description": "No valid channel credential"},
            422: {"description": "A field is missing or invalid; each is named"},
            503: {"description": "The log could not confirm the write; retry with the same id"},
        },
    )
    async def submit(
        submission: Submission,
        channel: Annotated[Channel, Depends(channel_of)],
        request: Request,
    ) -> Accepted:
        received_at = datetime.now(UTC)
        if submission.occurred_at > received_at + settings.intake_clock_skew:
            raise FieldErrors([{"field": "occurred_at", "reason": "lies in the future"}])
        complaint_id = complaint_id_for(channel, submission.submission_id)
        envelope = new_envelope(
            ComplaintReceived.from_submission(channel, submission),
            event_id=received_event_id(complaint_id),
            complaint_id=complaint_id,
            occurred_at=submission.occurred_at,
            recorded_at=received_at,
            source=f"intake/{channel.value}",
            correlation_id=complaint_id,
        )
        try:
            await asyncio.wait_for(
                publish_event(broker, settings.topic_events, envelope),
                timeout=settings.publish_timeout_s,
            )
        except Exception as exc:  # any failure to get the ack must not become a 202
            log.warning("publish of %s failed: %s: %s", complaint_id, type(exc).__name__, exc)
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail="the event log did not confirm the write; retry with the same submission_id",
                headers={"Retry-After": "5"},
            ) from exc
        return Accepted(complaint_id=complaint_id, event_id=envelope.event_id)

    app.state.settings = settings
    app.state.broker = broker
    return app

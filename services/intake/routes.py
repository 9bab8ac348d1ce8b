"""Intake's HTTP routes: channels submit complaints; ``202`` only once Kafka has the event.

One generic endpoint (``POST /v1/complaints``, any channel) and one per channel format; the
channel always comes from the ``X-Api-Key`` credential, never from the body. The same adapters
judge these payloads and the records of the submissions topic, which intake also consumes.
"""

import asyncio
import logging
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field
from starlette.requests import HTTPConnection

from contracts import Channel
from contracts.intake import Submission
from contracts.submissions import (
    AppComplaint,
    HotlineCall,
    Reason,
    RecordRef,
    SupervisionCase,
)
from services.intake import store
from services.intake.adapters import Caller, Payload, Refused, judge_payload
from services.intake.settings import IntakeSettings
from services.runtime import vault
from services.runtime.app import PartsDep, parts_in
from services.runtime.auth import verify_token
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.http import FieldErrors
from services.runtime.kafka import publish_event

log = logging.getLogger(__name__)

router = APIRouter()
"""Every intake route (``services.intake.spec`` adds it to the app)."""


class Accepted(BaseModel):
    """The answer to an accepted submission: the ids a retry will get again."""

    complaint_id: UUID
    event_id: UUID


class RejectedSubmission(BaseModel):
    """A submissions-topic record intake refused: every reason, and where the record is."""

    rejection_id: UUID
    channel: Channel | None = Field(description="None when the signature did not verify")
    submission_id: str | None = Field(description="The channel's id, when it could be read")
    format: str | None = Field(description="The record's x-submission-format, as sent")
    reasons: list[Reason]
    record: RecordRef
    submitted_at: datetime = Field(description="The record's timestamp")
    rejected_at: datetime


class Rejections(BaseModel):
    """Refused submissions-topic records, newest first."""

    total: int = Field(description="How many match, beyond the items returned")
    items: list[RejectedSubmission]


CHANNEL_KEY: dict[str, Any] = {
    "name": "X-Api-Key",
    "scheme_name": "ChannelKey",
    "description": "A channel's key (one or more per channel: hotline, app, supervision); "
    "the channel of a submission is the key's, never the body's",
}
API_KEY = APIKeyHeader(auto_error=False, **CHANNEL_KEY)
"""The channel credential, declared as an OpenAPI security scheme."""

ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "In the log (acks=all): a retry with the same submission id gets the "
        "same ids",
        "headers": {
            "Location": {
                "description": "Where the complaint is read (the workflow's complaint; "
                "COMPLAINTS_INTAKE_COMPLAINT_URL)",
                "schema": {"type": "string"},
            }
        },
    },
    401: {"description": "No valid channel credential"},
    403: {"description": "The credential's channel does not speak this format"},
    422: {"description": "A field is missing or invalid; each is named with the reason"},
    503: {"description": "The log could not confirm the write; retry with the same id"},
}


class ChannelCredential(APIKeyHeader):
    """The ``X-Api-Key`` credential resolved to its channel (else 401), which must be
    ``owner``'s when one is given (else 403).

    One dependency that is also the OpenAPI security scheme: FastAPI spends about 20 µs a
    request on each dependency it solves, and the credential, the app's parts and the channel
    were three on every submission (190 against 152 µs a request, measured in process).
    """

    def __init__(self, owner: Channel | None = None) -> None:
        super().__init__(auto_error=False, **CHANNEL_KEY)
        self.owner = owner

    async def __call__(self, request: HTTPConnection) -> Channel:
        settings: IntakeSettings = parts_in(request).settings
        channel = settings.channel_for_key(request.headers.get(self.model.name))
        if channel is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="X-Api-Key: missing or not a key of any channel",
            )
        if self.owner is not None and channel is not self.owner:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"X-Api-Key: this is the {self.owner.value} channel's endpoint; "
                f"the key is the {channel.value} channel's",
            )
        return channel


AnyChannel = Annotated[Channel, Depends(ChannelCredential())]
Hotline = Annotated[Channel, Depends(ChannelCredential(Channel.HOTLINE))]
App = Annotated[Channel, Depends(ChannelCredential(Channel.APP))]
Supervision = Annotated[Channel, Depends(ChannelCredential(Channel.SUPERVISION))]


def _unavailable(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=what, headers={"Retry-After": "5"}
    )


async def accept(request: Request, channel: Channel, payload: Payload) -> Response:
    """Judge ``payload`` from ``channel``; seal its personal data; ``202`` once the log has it.

    The ``202`` is written here, from the ``Accepted`` just built: returned as a model, FastAPI
    validated and serialised it again through the route's response model, and made and merged
    a sub-response for the ``Location`` header (12 µs a request under load, measured with
    ``bench.ab_intake``). The routes still declare ``Accepted``: the OpenAPI is unchanged.
    """
    parts = parts_in(request)
    settings: IntakeSettings = parts.settings
    service = parts.service

    async def lookup(phone: str) -> Caller | None:
        try:
            async with service.pool.acquire() as conn:
                return await store.find_caller(conn, settings.pepper(), phone)
        except TRANSIENT_DB_ERRORS as exc:
            raise _unavailable(
                "the caller directory is unavailable; retry, or give the caller's "
                "name, office and unit"
            ) from exc

    received_at = parts.now()
    verdict = await judge_payload(
        channel,
        payload,
        received_at=received_at,
        clock_skew=settings.intake_clock_skew,
        lookup=lookup,
    )
    if isinstance(verdict, Refused):
        raise FieldErrors(verdict.errors())
    try:
        keys: vault.KeyMaker = parts.shared
        sealed = await vault.seal_received(
            partial(keys.key_for, service.pool), settings.pepper(), verdict.received
        )
    except TRANSIENT_DB_ERRORS as exc:
        raise _unavailable("the key vault is unavailable; retry with the same id") from exc
    envelope = verdict.envelope(sealed, recorded_at=received_at)
    try:
        async with asyncio.timeout(settings.publish_timeout_s):  # no task of its own
            await publish_event(service.broker, settings.topic_events, envelope)
    except Exception as exc:  # any failure to get the ack must not become a 202
        log.warning("publish of %s failed: %s: %s", verdict.complaint_id, type(exc).__name__, exc)
        raise _unavailable(
            "the event log did not confirm the write; retry with the same id"
        ) from exc
    answer = Accepted(complaint_id=verdict.complaint_id, event_id=verdict.event_id)
    return Response(
        answer.__pydantic_serializer__.to_json(answer),
        status.HTTP_202_ACCEPTED,
        headers={"Location": settings.location(verdict.complaint_id)},
        media_type="application/json",
    )


@router.post(
    "/v1/complaints",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="Submit a complaint (the channel comes from the X-Api-Key credential)",
    responses={k: v for k, v in ANSWERS.items() if k != 403},
)
async def submit(submission: Submission, channel: AnyChannel, request: Request) -> Response:
    return await accept(request, channel, submission)


@router.post(
    "/v1/channels/hotline/calls",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="客服热线: a call as the agent recorded it (name, office and unit may come "
    "from the caller directory)",
    responses=ANSWERS,
)
async def hotline_call(call: HotlineCall, channel: Hotline, request: Request) -> Response:
    return await accept(request, channel, call)


@router.post(
    "/v1/channels/app/complaints",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="业主APP: an owner's complaint with photo references and the chosen category",
    responses=ANSWERS,
)
async def app_complaint(complaint: AppComplaint, channel: App, request: Request) -> Response:
    return await accept(request, channel, complaint)


@router.post(
    "/v1/channels/supervision/cases",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    summary="服务监督热线: a case taken over the office's head (marked over_the_head)",
    responses=ANSWERS,
)
async def supervision_case(
    case: SupervisionCase, channel: Supervision, request: Request
) -> Response:
    return await accept(request, channel, case)


bearer = HTTPBearer(auto_error=False, description="A staff token from `complaints token`")


async def rejections_viewer(
    parts: PartsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_api_key: Annotated[str | None, Depends(API_KEY)] = None,
) -> Channel | None:
    """The channel whose rejections the caller may see; ``None``: staff, every channel."""
    settings: IntakeSettings = parts.settings
    channel = settings.channel_for_key(x_api_key)
    if channel is not None:
        return channel
    if credentials is not None:
        try:
            verify_token(settings, credentials.credentials)
        except ValueError:
            pass
        else:
            return None
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail="a channel's X-Api-Key or a staff bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.get(
    "/v1/submissions/rejected",
    response_model=Rejections,
    summary="Submissions-topic records intake refused, each with every reason",
    description="A channel's key sees its own channel's; a staff token sees every "
    "channel's (and records whose signature failed, with channel null). No personal data: "
    "reasons name fields, never their values.",
)
async def rejected(
    viewer: Annotated[Channel | None, Depends(rejections_viewer)],
    parts: PartsDep,
    channel: Annotated[Channel | None, Query(description="Only this channel's")] = None,
    since: Annotated[AwareDatetime | None, Query(description="Rejected at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Rejections:
    if viewer is not None:
        if channel not in (None, viewer):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail="channel: a channel sees only its own"
            )
        channel = viewer
    async with parts.service.pool.acquire() as conn:
        total, items = await store.rejections(conn, channel=channel, since=since, limit=limit)
    return Rejections(total=total, items=[RejectedSubmission.model_validate(i) for i in items])

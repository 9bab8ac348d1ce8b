"""Intake's HTTP routes: channels submit complaints; ``202`` only once Kafka has the event.

One generic endpoint (``POST /v1/complaints``, any channel) and one per channel format; the
channel always comes from the ``X-Api-Key`` credential, never from the body. The same adapters
judge these payloads and the records of the submissions topic, which intake also consumes.
"""

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import partial
from typing import Annotated, Any, ClassVar, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, Field

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

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


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


CHANNEL = "complaints.channel"
"""Where a ``ChannelRoute`` leaves the request's channel in its ASGI scope."""


class ChannelRoute(APIRoute):
    """A channel's submission route: the ``X-Api-Key`` credential is resolved to its channel
    (else 401), which must be ``owner``'s when the route has one (else 403), before FastAPI
    reads anything of the request, so a request without a valid key never gets a 422 of its
    body. The channel is left in the scope (``channel_of``).

    The credential was a FastAPI dependency. FastAPI solves each dependency through its
    general machinery at every request: about 20 µs of intake's 300 in process, for a header
    read and a dict lookup. Here it is one call before FastAPI's handler, and the OpenAPI
    operation names the ``ChannelKey`` scheme as the dependency did (``API_KEY`` declares the
    scheme itself; the OpenAPI document is the same as before).
    """

    owner: ClassVar[Channel | None] = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        security: dict[str, Any] = {"security": [{CHANNEL_KEY["scheme_name"]: []}]}
        kwargs["openapi_extra"] = {**security, **(kwargs.get("openapi_extra") or {})}
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        owner = self.owner

        async def checked(request: Request) -> Response:
            settings: IntakeSettings = parts_in(request).settings
            channel = settings.channel_for_key(request.headers.get(API_KEY.model.name))
            if channel is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    detail="X-Api-Key: missing or not a key of any channel",
                )
            if owner is not None and channel is not owner:
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN,
                    detail=f"X-Api-Key: this is the {owner.value} channel's endpoint; "
                    f"the key is the {channel.value} channel's",
                )
            request.scope[CHANNEL] = channel
            return await handle(request)

        return checked


def channel_of(request: Request) -> Channel:
    """The channel whose key a ``ChannelRoute`` accepted for ``request``."""
    channel: Channel = request.scope[CHANNEL]
    return channel


def _unavailable(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE, detail=what, headers={"Retry-After": "5"}
    )


async def accept(request: Request, payload: Payload) -> Response:
    """Judge ``payload`` from the request's channel (``channel_of``); seal its personal data;
    ``202`` once the log has it.

    The ``202`` is written here, from the ``Accepted`` just built: returned as a model, FastAPI
    validated and serialised it again through the route's response model, and made and merged
    a sub-response for the ``Location`` header (12 µs a request under load, measured with
    ``bench.ab_intake``). The routes still declare ``Accepted``: the OpenAPI is unchanged.
    """
    parts = parts_in(request)
    settings: IntakeSettings = parts.settings
    service = parts.service
    channel = channel_of(request)

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
        await publish_event(
            service.broker, settings.topic_events, envelope, within=settings.publish_timeout_s
        )
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


def submission_route(
    path: str, owner: Channel | None, **declared: Any
) -> Callable[[Endpoint], Endpoint]:
    """Add the decorated endpoint as ``owner``'s submission route (``None``: any channel's):
    ``POST path``, answered ``202 Accepted`` (``ChannelRoute`` checks the credential)."""
    name = f"{owner.value.title() if owner else 'AnyChannel'}Route"
    owned = type(name, (ChannelRoute,), {"owner": owner})  # the route's class: its owner

    def add(endpoint: Endpoint) -> Endpoint:
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            response_model=Accepted,
            route_class_override=owned,
            **declared,
        )
        return endpoint

    return add


@submission_route(
    "/v1/complaints",
    None,
    summary="Submit a complaint (the channel comes from the X-Api-Key credential)",
    responses={k: v for k, v in ANSWERS.items() if k != 403},
)
async def submit(submission: Submission, request: Request) -> Response:
    return await accept(request, submission)


@submission_route(
    "/v1/channels/hotline/calls",
    Channel.HOTLINE,
    summary="客服热线: a call as the agent recorded it (name, office and unit may come "
    "from the caller directory)",
    responses=ANSWERS,
)
async def hotline_call(call: HotlineCall, request: Request) -> Response:
    return await accept(request, call)


@submission_route(
    "/v1/channels/app/complaints",
    Channel.APP,
    summary="业主APP: an owner's complaint with photo references and the chosen category",
    responses=ANSWERS,
)
async def app_complaint(complaint: AppComplaint, request: Request) -> Response:
    return await accept(request, complaint)


@submission_route(
    "/v1/channels/supervision/cases",
    Channel.SUPERVISION,
    summary="服务监督热线: a case taken over the office's head (marked over_the_head)",
    responses=ANSWERS,
)
async def supervision_case(case: SupervisionCase, request: Request) -> Response:
    return await accept(request, case)


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

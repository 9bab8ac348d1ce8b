"""Erasing a complainant's personal data (PIPL Art. 47): on request, and by retention.

Erasure destroys the complainant's key in the vault (``services.runtime.vault``); every
projection opens their sealed fields at read time, so each shows ``已删除`` from the next read
on, and after any rebuild. In the same transaction the workflow's outbox gets a
``ComplainantErased`` (no name, no phone: the pseudonymous reference, the reason code, who,
when), published to the events topic by the relay.

``POST /v1/complainants/erasures`` (the company role only; ``complaints erase`` calls it) and
the daily retention job (complainants whose every complaint ended more than
``COMPLAINTS_RETENTION_YEARS`` ago) both end in ``erase``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated

import asyncpg
from fastapi import APIRouter, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import new_envelope
from contracts.intake import ID_NAMESPACE, Phone
from contracts.privacy import (
    ComplainantErased,
    ErasureReason,
    ErasureReference,
    complainant_stream_id,
)
from services.runtime import store as runtime_store
from services.runtime import vault
from services.runtime.app import PartsDep
from services.runtime.auth import CurrentStaff, StaffRole
from services.runtime.db import TRANSIENT_DB_ERRORS
from services.runtime.outbox import enqueue
from services.runtime.service import ConsumingService
from services.runtime.settings import Settings
from services.workflow import store

log = logging.getLogger(__name__)

RETENTION_ACTOR = "retention"
"""``erased_by`` of the retention job's erasures."""

ENDED = ("closed", "withdrawn", "merged")
"""Statuses in which a complaint is over (nothing more will be done for it)."""


async def erase(
    conn: asyncpg.Connection,
    settings: Settings,
    ref: str,
    *,
    reason: ErasureReason,
    reference: str | None,
    erased_by: str,
    now: datetime,
) -> vault.Erasure:
    """Destroy the complainant's key and record the audit event, in the caller's transaction.
    Erasing again changes nothing and records nothing (``erased`` is then ``False``)."""
    done = await vault.erase(conn, ref, reason=reason, reference=reference, erased_by=erased_by)
    if done.erased:
        body = ComplainantErased(
            complainant_ref=ref,
            reason=reason,
            reference=reference,
            erased_by=erased_by,
            erased_at=done.erased_at or now,
        )
        stream = complainant_stream_id(ref)
        envelope = new_envelope(
            body,
            event_id=uuid.uuid5(ID_NAMESPACE, f"ComplainantErased:{ref}:{body.erased_at}"),
            complaint_id=stream,
            occurred_at=body.erased_at,
            recorded_at=now,
            source="workflow/erasure",
            correlation_id=stream,
        )
        await enqueue(conn, store.SCHEMA, settings.topic_events, envelope)
    return done


class ErasureRequest(BaseModel):
    """Whom to erase, and why (a code, and the request's or order's number: no free text)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: Annotated[Phone, Field(description="The complainant's phone, in any written form")]
    reason: ErasureReason
    reference: ErasureReference | None = None


class ErasureAnswer(BaseModel):
    """What the erasure did."""

    complainant_ref: str
    erased: bool = Field(description="false: the complainant had been erased before")
    erased_at: AwareDatetime | None
    message: str


router = APIRouter()
"""``POST /v1/complainants/erasures``."""


@router.post(
    "/v1/complainants/erasures",
    response_model=ErasureAnswer,
    summary="Erase a complainant's personal data (PIPL Art. 47); the company role only",
    description="Destroys the complainant's key: their name, phone, description and demand "
    "read 已删除 everywhere from now on and after any rebuild. Audited by a "
    "ComplainantErased event carrying no personal data. Erasing twice says so.",
    responses={
        401: {"description": "No staff token, or not a valid one"},
        403: {"description": "Not the company role"},
        422: {"description": "A bad phone, reason or reference; each field named"},
        503: {"description": "The database is unavailable; retry"},
    },
)
async def erase_complainant(
    body: ErasureRequest, staff: CurrentStaff, parts: PartsDep
) -> ErasureAnswer:
    """Destroy the key of the complainant whose phone is given (the company role only)."""
    service, settings = parts.service, parts.settings
    if staff.role is not StaffRole.COMPANY:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"role: only the company role erases personal data, not {staff.role}",
        )
    ref = vault.complainant_ref(settings.pepper(), body.phone)
    try:
        async with service.pool.acquire() as conn, conn.transaction():
            done = await erase(
                conn,
                settings,
                ref,
                reason=body.reason,
                reference=body.reference,
                erased_by=staff.staff_id,
                now=parts.now(),
            )
    except TRANSIENT_DB_ERRORS as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="the key vault is unavailable; retry",
            headers={"Retry-After": "5"},
        ) from exc
    if service.relay is not None:
        service.relay.wake()
    log.info("complainant erased (reason %s, by %s)", body.reason, staff.staff_id)
    return ErasureAnswer(
        complainant_ref=ref,
        erased=done.erased,
        erased_at=done.erased_at,
        message="erased: the key is destroyed"
        if done.erased
        else "already erased before: nothing changed",
    )


async def expired_complainants(conn: asyncpg.Connection, *, ended_before: datetime) -> list[str]:
    """The complainants (references) whose every complaint has ended (closed, withdrawn,
    merged) and whose latest event is older than ``ended_before``: none of theirs is open."""
    return await store.complainants_ended_before(conn, list(ENDED), ended_before)


async def retention_sweep(
    conn: asyncpg.Connection, settings: Settings, *, now: datetime, years: float
) -> list[str]:
    """Erase, with reason ``retention``, every complainant not erased yet whose complaints all
    ended more than ``years`` before ``now``; the references erased."""
    cutoff = now - timedelta(days=365.25 * years)
    candidates = await expired_complainants(conn, ended_before=cutoff)
    gone = await vault.erased_refs(conn, candidates)
    erased = []
    for ref in candidates:
        if ref in gone:
            continue
        async with conn.transaction():
            done = await erase(
                conn,
                settings,
                ref,
                reason=ErasureReason.RETENTION,
                reference=None,
                erased_by=RETENTION_ACTOR,
                now=now,
            )
        if done.erased:
            erased.append(ref)
    return erased


class RetentionJob:
    """Runs the retention sweep every ``interval_s`` (a day by default) on one copy at a time
    (a session advisory lock; the others skip that round)."""

    def __init__(
        self,
        service: ConsumingService,
        settings: Settings,
        now: Callable[[], datetime],
        *,
        interval_s: float,
    ) -> None:
        self.service = service
        self.settings = settings
        self.now = now
        self.interval_s = interval_s

    async def run_once(self) -> list[str]:
        """One sweep, if no other copy is sweeping now; the references erased."""
        async with self.service.pool.acquire() as conn:
            if not await runtime_store.try_lock(conn, "retention"):
                return []
            try:
                erased = await retention_sweep(
                    conn, self.settings, now=self.now(), years=self.settings.retention_years
                )
            finally:
                await runtime_store.unlock(conn, "retention")
        if erased and self.service.relay is not None:
            self.service.relay.wake()
        if erased:
            log.info("retention: %d complainants erased", len(erased))
        return erased

    async def run(self) -> None:
        """Sweep, then sleep ``interval_s``; a database outage only postpones a round."""
        if self.settings.retention_years <= 0:
            log.info("retention: COMPLAINTS_RETENTION_YEARS is 0, nothing is erased by age")
            return
        while True:
            try:
                await self.run_once()
            except TRANSIENT_DB_ERRORS as exc:
                log.warning("retention: database unavailable (%s); next round", exc)
            except Exception:
                log.exception("retention: the sweep failed; next round")
            await asyncio.sleep(self.interval_s)

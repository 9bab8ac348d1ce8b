"""Workflow's staff API routes: a complaint's state and history, and one POST per command
(``services.workflow.spec`` adds them to the app, with the queue, the pages and the erasure)."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from contracts import ComplaintReceived, decode_event
from services.runtime import vault
from services.runtime.app import PartsDep
from services.runtime.auth import CurrentStaff, Staff, check_office, shown_complainant
from services.runtime.generations import Rebuilding
from services.runtime.http import FieldErrors, field_errors, problem
from services.runtime.outbox import deciding
from services.runtime.spec import Parts
from services.workflow import store
from services.workflow.commands import COMMANDS, Command
from services.workflow.domain import (
    CommandRejected,
    InvalidCommand,
    State,
    evolve,
    initial_state,
)
from services.workflow.handlers import Decided, handle_command
from services.workflow.permissions import acting_office, may_give, role_refusal
from services.workflow.views import CommandResult, ComplaintView


@dataclass(frozen=True)
class Workbench:
    """What the staff pages (``pages``) share with the API, so a page reads and acts exactly
    as the API does: ``load`` a complaint as a member of staff sees it (its state too), and
    ``give`` a command through the one path every command takes."""

    load: Callable[[UUID, Staff], Awaitable[tuple[State, dict[str, Any]]]]
    give: Callable[[UUID, str, dict[str, Any], Staff, str | None], Awaitable[Decided]]

    @classmethod
    def of(cls, parts: Parts) -> "Workbench":
        """The workbench of the app ``parts`` belong to."""
        return cls(load=partial(load, parts), give=partial(give, parts))


router = APIRouter()
"""A complaint's read and its commands."""


async def load(parts: Parts, complaint_id: UUID, staff: Staff) -> tuple[State, dict[str, Any]]:
    """A complaint as ``staff`` sees it, and its state (404 if none; 403 another office's)."""
    async with parts.service.pool.acquire() as conn:
        row = await store.summary(conn, complaint_id)
        if row is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        raw = await store.history(conn, complaint_id)
        state, history, personal = _fold_history(raw, parts.shared.ctx.pepper)
        # Opened at every read, never stored opened: an erasure shows on the next read.
        values = await vault.open_many(conn, list(personal.values()))
        opened = dict(zip(personal, values, strict=True))
    # The office asked to take the complaint over sees it before it accepts.
    request = state.office_request
    if not (request and staff.may_see_office(request.to_office)):
        _check_office(staff, row["office"])
    return state, render(row, state, history, staff, opened)


async def view(parts: Parts, complaint_id: UUID, staff: Staff) -> dict[str, Any]:
    """A complaint as ``staff`` sees it."""
    return (await load(parts, complaint_id, staff))[1]


async def give(
    parts: Parts,
    complaint_id: UUID,
    name: str,
    fields: dict[str, Any],
    staff: Staff,
    idempotency_key: str | None,
) -> Decided:
    """Give command ``name`` with ``fields`` (its body, less the actor) as ``staff``: the
    one way a command is given, from the API and from the workbench's forms alike.

    Raises ``HTTPException`` (403 role or office, 404, 503 rebuilding), ``FieldErrors``
    (bad input) and ``CommandRejected`` (the procedure forbids it now)."""
    command_type = COMMANDS[name]
    if not may_give(staff.role, name):
        raise HTTPException(403, detail=f"role: a {staff.role.value} may not {name} a complaint")
    try:
        command = command_type.model_validate({**fields, "actor": staff.actor.model_dump()})
    except ValidationError as exc:  # the cause: the pages word its errors in zh-CN
        raise FieldErrors(field_errors(exc.errors())) from exc
    refusal = role_refusal(staff.role, command)
    if refusal is not None:
        raise HTTPException(403, detail=refusal)

    def authorize(state: State) -> None:
        # The office the complaint belongs to now; for accepting a transfer to another
        # office, the office asked to take it.
        _check_office(staff, acting_office(name, state) or "")

    try:
        async with parts.service.write() as conn:
            # Before the clock is read: the relay's watermark never passes a decision in flight.
            await deciding(conn, store.SCHEMA)
            decided = await handle_command(
                conn,
                parts.shared.ctx,
                parts.shared.rules,
                complaint_id,
                command,
                now=parts.now(),
                idempotency_key=idempotency_key,
                authorize=authorize,
            )
    except InvalidCommand as invalid:
        raise FieldErrors([{"field": invalid.field, "reason": invalid.reason}]) from None
    except Rebuilding as exc:
        raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
    if decided is None:
        raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
    if parts.service.relay is not None:
        parts.service.relay.wake()
    return decided


@router.get(
    "/v1/complaints/{complaint_id}",
    summary="A complaint: state, next deadline, history",
    response_model=ComplaintView,
)
async def get_complaint(complaint_id: UUID, staff: CurrentStaff, parts: PartsDep) -> dict[str, Any]:
    return await view(parts, complaint_id, staff)


def add_command_route(name: str, command_type: type[Command]) -> None:
    """``POST /v1/complaints/{id}/<name>``: the command given through ``give``."""
    body_model = _body_model(command_type)

    async def run(
        complaint_id: UUID,
        body: body_model,  # type: ignore[valid-type]
        staff: CurrentStaff,
        parts: PartsDep,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> Any:
        try:
            decided = await give(
                parts,
                complaint_id,
                name,
                body.model_dump(),  # type: ignore[attr-defined]
                staff,
                idempotency_key,
            )
        except CommandRejected as rejected:
            return _conflict(rejected)
        return {
            "replayed": decided.replayed,
            "events": [{"event_id": e.event_id, "type": e.type} for e in decided.events],
            "complaint": await view(parts, complaint_id, staff),
        }

    router.post(
        f"/v1/complaints/{{complaint_id}}/{name}",
        summary=(command_type.__doc__ or name).strip().splitlines()[0],
        response_model=CommandResult,
        responses={
            403: {"description": "Not this role's command, or not this staff's office"},
            404: {"description": "No such complaint (yet)"},
            409: {"description": "The procedure forbids it now; current state and reason"},
            422: {"description": "Bad input; each field named"},
        },
        name=f"command_{name.replace('-', '_').replace('/', '_')}",
    )(run)


def _body_model(command_type: type[Command]) -> type[BaseModel]:
    """The request body of a command: its fields less ``actor``, which comes from the token."""
    fields: dict[str, Any] = {
        n: (f.annotation, f) for n, f in command_type.model_fields.items() if n != "actor"
    }
    return create_model(
        f"{command_type.__name__}Request",
        __config__=ConfigDict(extra="forbid", str_strip_whitespace=True),
        __doc__=command_type.__doc__,
        **fields,
    )


def _check_office(staff: Staff, office: str) -> None:
    check_office(staff, office)


def _conflict(rejected: CommandRejected) -> JSONResponse:
    state = rejected.state
    return problem(
        status.HTTP_409_CONFLICT,
        rejected.reason,
        complaint_status=state.status.value,
        version=state.version,
    )


def _fold_history(
    raw_history: list[str], pepper: bytes
) -> tuple[State, list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """The state a complaint's stored history folds to, that history as staff see it, and the
    personal fields (sealed, as the log has them) of its receipts by position in the history."""
    history: list[dict[str, Any]] = []
    personal: dict[int, dict[str, Any]] = {}
    state = initial_state()
    for raw in raw_history:
        envelope, data = decode_event(raw)
        state = evolve(state, data)
        if isinstance(data, ComplaintReceived):
            personal[len(history)] = vault.personal_of(pepper, data)
        history.append(
            {
                "event_id": envelope.event_id,
                "type": envelope.type,
                "occurred_at": envelope.occurred_at,
                "recorded_at": envelope.recorded_at,
                "source": envelope.source,
                "data": envelope.data,
            }
        )
    return state, history, personal


def render(
    row: dict[str, Any],
    state: State,
    history: list[dict[str, Any]],
    staff: Staff,
    opened: dict[int, vault.Opened],
) -> dict[str, Any]:
    """A complaint as staff see it. The receipt's sealed fields are shown opened (``已删除``
    once the complainant is erased), never sealed; the owner's name and phone whole only to
    its own office (``services.runtime.auth.shown_complainant``)."""
    for n, item in enumerate(history):
        if n in opened:
            now = opened[n]
            item["data"] = {
                **item["data"],
                "complainant": shown_complainant(staff, row["office"], now.complainant()),
                "description": now.description,
                "demand": now.demand,
            }
    return {**_stored(row), **_judged(state), **_handled(state), "history": history}


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """What the complaint's stored row says: where it is, its status and next deadline."""
    deadline = (
        {"kind": row["next_deadline_kind"], "at": row["next_deadline"]}
        if row["next_deadline"]
        else None
    )
    return {
        "complaint_id": row["complaint_id"],
        "office": row["office"],
        "unit": row["unit"],
        "channel": row["channel"],
        "status": row["status"],
        "major": row["major"],
        "escalation_level": row["escalation_level"],
        "version": row["version"],
        "next_deadline": deadline,
    }


def _judged(state: State) -> dict[str, Any]:
    """How the complaint was judged and routed: major, validity, category, departments,
    transfers."""
    request = state.office_request
    return {
        "major_rule": state.major_rule,
        "major_by_person": state.major_by_person,
        "over_the_head": state.over_the_head,
        "validity": state.validity,
        "category": state.category,
        "priority": state.priority,
        "rejudged": state.rejudged,
        "proposed_department": state.proposed_department,
        "department": state.department,
        "helper_department": state.helper_department,
        "deadline": state.deadline,
        "transfers": state.transfers,
        "sent_back": state.sent_back,
        "office_request": (
            {"to_office": request.to_office, "reason": request.reason, "by": request.by}
            if request
            else None
        ),
        "office_transfers": state.office_transfers,
    }


def _handled(state: State) -> dict[str, Any]:
    """How it is being handled: cause, plans, replies, promises, revisits, suspension, end."""
    suspension = state.suspension
    return {
        "cause": state.cause,
        "plans": [{"plan_id": p.plan_id, "plan": p.text, "status": p.status} for p in state.plans],
        "replies": state.replies,
        "answered": state.answered,
        "reply_due": state.reply_due,
        "commitments": list(state.commitments),
        "open_commitment": state.open_commitment,
        "revisits": state.revisits,
        "revisit_attempts": state.revisit_attempts,
        "satisfied": state.satisfied,
        "resolved_on_the_spot": state.resolved_on_the_spot,
        "revisit_due": state.revisit_due,
        "suspension": (
            {
                "suspension_no": suspension.suspension_no,
                "awaiting": suspension.awaiting,
                "reason": suspension.reason,
                "until": suspension.until,
                "since": suspension.since,
            }
            if suspension
            else None
        ),
        "outcome": state.outcome,
        "summary": state.summary,
        "reopened": state.reopened,
        "preventive_measures": state.preventive_measures,
        "owner": state.owner.model_dump() if state.owner else None,
    }


for _name, _command_type in COMMANDS.items():  # once the helpers above are defined
    add_command_route(_name, _command_type)

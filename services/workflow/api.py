"""Workflow's staff API: a complaint's state and history, and one POST per command."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import FastAPI, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from contracts import ComplaintReceived, decode_event
from services.runtime import vault
from services.runtime.auth import CurrentStaff, Staff, StaffRole, check_office, shown_complainant
from services.runtime.generations import Rebuilding
from services.runtime.http import FieldErrors, field_errors, install_common, problem
from services.runtime.login import install_login
from services.runtime.service import ConsumingService
from services.workflow import erasure, pages, queue, store
from services.workflow.commands import COMMANDS, Command
from services.workflow.domain import (
    CommandRejected,
    InvalidCommand,
    State,
    evolve,
    initial_state,
    load_routing_rules,
)
from services.workflow.handlers import Context, Decided, Rules, handle_command
from services.workflow.permissions import acting_office, may_give, role_refusal
from services.workflow.policy import load_office_policy
from services.workflow.projection import StateProjection
from services.workflow.settings import WorkflowSettings
from services.workflow.views import CommandResult, ComplaintView

HERE = Path(__file__).parent
CONSUMER = "state.v1"

Clock = Callable[[], datetime]

WORKBENCH_ROLES = (
    StaffRole.CS_AGENT,
    StaffRole.CS_HEAD,
    StaffRole.DEPARTMENT,
    StaffRole.SUPERVISOR,
    StaffRole.PROJECT_MANAGER,
)
"""The office roles local mode's login offers for each office of the routing rules."""


@dataclass(frozen=True)
class Workbench:
    """What the staff pages (``pages``) share with the API, so a page reads and acts exactly
    as the API does: ``load`` a complaint as a member of staff sees it (its state too), and
    ``give`` a command through the one path every command takes."""

    load: Callable[[UUID, Staff], Awaitable[tuple[State, dict[str, Any]]]]
    give: Callable[[UUID, str, dict[str, Any], Staff, str | None], Awaitable[Decided]]


def create_app(settings: WorkflowSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """The workflow service's ASGI app."""
    settings = settings or WorkflowSettings()
    now = clock or (lambda: datetime.now(UTC))
    service = ConsumingService(
        name="workflow",
        settings=settings,
        schema="workflow",
        migrations=[HERE / "schema.sql"],
        projection_tables=["complaints", "history"],
        durable=[HERE / "durable.sql"],
    )
    office_policy = load_office_policy(settings.workflow_policy_file)
    ctx = Context(
        consumer=f"workflow.{CONSUMER}",
        topic=settings.topic_events,
        rules=Rules(
            routing=load_routing_rules(settings.workflow_routing_file),
            major=office_policy.major,
            office=office_policy,
        ),
        pepper=settings.pepper(),
    )
    service.add_projection(CONSUMER, StateProjection(ctx))
    relay = service.add_outbox()
    retention = erasure.RetentionJob(
        service, settings, now, interval_s=settings.retention_interval_s
    )
    service.add_task("retention", retention.run)

    app = FastAPI(
        title="Complaints workflow",
        version="1",
        description="The complaint lifecycle (投诉处理流程): staff commands and complaint state.",
        lifespan=service.lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.clock = now
    app.state.office_policy = office_policy  # the pages ask the decider which forms apply
    app.include_router(queue.router)
    app.include_router(pages.router)
    install_login(app, offices=list(ctx.rules.routing.offices), roles=WORKBENCH_ROLES)
    app.include_router(erasure.router(service, settings, now))
    install_common(app, service="workflow", readiness=service.readiness())

    async def load(complaint_id: UUID, staff: Staff) -> tuple[State, dict[str, Any]]:
        async with service.pool.acquire() as conn:
            row = await store.summary(conn, complaint_id)
            if row is None:
                raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
            raw = await store.history(conn, complaint_id)
            state, history, personal = _fold_history(raw, ctx.pepper)
            # Opened at every read, never stored opened: an erasure shows on the next read.
            values = await vault.open_many(conn, list(personal.values()))
            opened = dict(zip(personal, values, strict=True))
        # The office asked to take the complaint over sees it before it accepts.
        request = state.office_request
        if not (request and staff.may_see_office(request.to_office)):
            _check_office(staff, row["office"])
        return state, render(row, state, history, staff, opened)

    async def view(complaint_id: UUID, staff: Staff) -> dict[str, Any]:
        return (await load(complaint_id, staff))[1]

    async def give(
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
            raise HTTPException(
                403, detail=f"role: a {staff.role.value} may not {name} a complaint"
            )
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
            async with service.write() as conn:
                decided = await handle_command(
                    conn,
                    ctx,
                    complaint_id,
                    command,
                    now=now(),
                    idempotency_key=idempotency_key,
                    authorize=authorize,
                )
        except InvalidCommand as invalid:
            raise FieldErrors([{"field": invalid.field, "reason": invalid.reason}]) from None
        except Rebuilding as exc:
            raise HTTPException(503, detail=str(exc), headers={"Retry-After": "5"}) from None
        if decided is None:
            raise HTTPException(404, detail=f"complaint_id: no complaint {complaint_id}")
        relay.wake()
        return decided

    app.state.workbench = Workbench(load=load, give=give)

    @app.get(
        "/v1/complaints/{complaint_id}",
        summary="A complaint: state, next deadline, history",
        response_model=ComplaintView,
    )
    async def get_complaint(complaint_id: UUID, staff: CurrentStaff) -> dict[str, Any]:
        return await view(complaint_id, staff)

    def add_command_route(name: str, command_type: type[Command]) -> None:
        body_model = _body_model(command_type)

        async def run(
            complaint_id: UUID,
            body: body_model,  # type: ignore[valid-type]
            staff: CurrentStaff,
            request: Request,
            idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
        ) -> Any:
            try:
                decided = await give(
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
                "complaint": await view(complaint_id, staff),
            }

        app.post(
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

    for name, command_type in COMMANDS.items():
        add_command_route(name, command_type)

    return app


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
        "major_rule": state.major_rule,
        "major_by_person": state.major_by_person,
        "over_the_head": state.over_the_head,
        "escalation_level": row["escalation_level"],
        "version": row["version"],
        "next_deadline": deadline,
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
            {
                "to_office": state.office_request.to_office,
                "reason": state.office_request.reason,
                "by": state.office_request.by,
            }
            if state.office_request
            else None
        ),
        "office_transfers": state.office_transfers,
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
                "suspension_no": state.suspension.suspension_no,
                "awaiting": state.suspension.awaiting,
                "reason": state.suspension.reason,
                "until": state.suspension.until,
                "since": state.suspension.since,
            }
            if state.suspension
            else None
        ),
        "outcome": state.outcome,
        "summary": state.summary,
        "reopened": state.reopened,
        "preventive_measures": state.preventive_measures,
        "owner": state.owner.model_dump() if state.owner else None,
        "history": history,
    }

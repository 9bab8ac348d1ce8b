"""The one app factory: a service's ASGI app, built from its spec (``services.runtime.spec``).

Routes are module-level ``APIRouter``s; what they need at a request comes through the
dependencies below (``PartsDep``: the settings, the ``now`` callable, the running service and
the service's shared rules), never through a closure over the app being built.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.requests import HTTPConnection

from services.runtime.consumer.reactor import Reacting
from services.runtime.http import add_routes, install_common
from services.runtime.service import ConsumingService
from services.runtime.settings import Settings
from services.runtime.spec import Now, Parts, Processes, ServiceSpec


def utc_now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def build_app(
    spec: ServiceSpec, settings: Settings | None = None, now: Now | None = None
) -> FastAPI:
    """``spec``'s app: its service (pool, migrations, consumers, outbox, tasks) run by the app's
    lifespan, its routers, and the probes, metrics and error format every service has."""
    settings = settings or spec.settings()
    service = ConsumingService(
        name=spec.name,
        settings=settings,
        schema=spec.schema,
        migrations=list(spec.migrations),
        projection_tables=list(spec.legacy_tables),
        functions=list(spec.functions),
        durable=list(spec.durable),
        plan_each_query=spec.plan_each_query,
    )
    if now is None:  # nothing injected: a lane process can build the same service
        service.spec_name = spec.name
    parts = Parts(
        settings=settings, now=now or utc_now, service=service, shared=spec.shared(settings)
    )
    _add_consumers(spec, parts)
    if spec.outbox:
        service.add_outbox(watermarks=parts.now if spec.watermarks else None)
    elif spec.watermarks:
        raise ValueError(f"{spec.name}: watermarks are said by the outbox's relay (outbox=True)")
    for task in spec.tasks:
        service.add_task(task.name, task.build(parts))
    for name, refresh in spec.gauges:
        service.monitor.add(name, refresh)
    app = FastAPI(
        title=spec.title, version="1", description=spec.description, lifespan=service.lifespan
    )
    app.state.parts = parts
    app.state.settings = settings
    app.state.service = service
    app.state.now = parts.now
    install_common(app, service=spec.name, readiness=service.readiness())
    for router in spec.routers:
        add_routes(app, router)
    if spec.install is not None:
        spec.install(app, parts)
    return app


def _add_consumers(spec: ServiceSpec, parts: Parts) -> None:
    """The spec's consumers, each projection with the automatic rules that read its state."""
    settings, service = parts.settings, parts.service
    projections = {}
    for consumer in spec.consumers:
        deadletter_topic = str(getattr(settings, consumer.deadletter_topic))
        if isinstance(consumer, Processes):
            service.add_processor(
                consumer.name,
                consumer.build(parts),
                topic=consumer.topic_of(settings),
                deadletter_topic=deadletter_topic,
            )
            continue
        projections[consumer.name] = projection = consumer.build(parts)
        service.add_projection(
            consumer.name,
            projection,
            topic=consumer.topic_of(settings),
            durable=consumer.processor,
            deadletter_topic=deadletter_topic,
        )
    for reaction in spec.reactions:
        rules = f"{spec.name}: the rules {reaction.name!r}"
        if not spec.outbox:
            raise ValueError(f"{rules} emit events: the spec needs its outbox (outbox=True)")
        reacting = projections.get(reaction.reads)
        if not isinstance(reacting, Reacting):
            raise ValueError(
                f"{rules} read {reaction.reads!r}: no projection of that name runs rules "
                "(react_with)"
            )
        reacting.react_with(reaction.build(parts))


def parts_in(request: HTTPConnection) -> Parts:
    """The parts of the app serving ``request`` (for a dependency that already has it)."""
    parts: Parts = request.app.state.parts
    return parts


async def parts_of(request: Request) -> Parts:  # async: a plain def hops to a worker thread
    """The parts of the app serving ``request``."""
    return parts_in(request)


PartsDep = Annotated[Parts, Depends(parts_of)]
"""A route's settings, ``now``, service and shared rules."""

"""What a service is, declared once (``services/<name>/spec.py``).

A ``ServiceSpec`` names the service, its schema and its SQL, the consumers it runs — the
projections it keeps and the processors that emit events — the automatic rules that react to
events with events (``Reacts``), its background tasks, what it publishes, and its HTTP
routers. Everything that needs to know a service reads its spec: the one app factory
(``services.runtime.app.build_app``), the CLI (which consumer groups exist), the
API-document generator (routes and publishers) and the checks of the compose file. Nothing
builds an app to find out what a service consists of.

Factories in a spec receive ``Parts``: the settings, the ``now`` callable, the running
``ConsumingService`` and the service's ``shared`` objects (its rules, built once from the
settings), so a projection, a task and a route all see the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI

from services.runtime.consumer import Projection
from services.runtime.consumer.processor import Processor
from services.runtime.consumer.reactor import Reactor
from services.runtime.monitor import GaugeRefresh
from services.runtime.settings import Settings

if TYPE_CHECKING:
    from services.runtime.service import ConsumingService

Now = Callable[[], datetime]
"""The current instant (``datetime.now(UTC)``; a test's fixed clock)."""


@dataclass(frozen=True)
class Parts:
    """What a spec's factories are built from: one set per app."""

    settings: Any  # the service's own Settings subclass
    now: Now
    service: ConsumingService
    shared: Any  # ``ServiceSpec.shared(settings)``: the service's rules, policies, keys


@dataclass(frozen=True)
class Consumes:
    """A consumer of events of the log: a projection (rows rebuilt from the log by
    generations) or, with ``processor``, one whose effects are decisions (durable, never
    rebuilt: the SLA's notifier)."""

    name: str  # its offsets are stored as ``<service>.<name>``
    build: Callable[[Parts], Projection]
    topic: str = "topic_events"  # the setting naming the topic it reads
    processor: bool = False
    deadletter_topic: str = "topic_deadletter"  # the setting naming where poison goes

    def topic_of(self, settings: Settings) -> str:
        """The topic it reads under ``settings``."""
        return str(getattr(settings, self.topic))


@dataclass(frozen=True)
class Processes:
    """A processor: it reads a topic's records as they are — not events of the log (a
    channel's submissions) — and emits events through the outbox
    (``services.runtime.consumer.processor``). Durable: never rebuilt."""

    name: str  # its offsets are stored as ``<service>.<name>``
    build: Callable[[Parts], Processor]
    topic: str  # the setting naming the topic it reads
    deadletter_topic: str = "topic_deadletter"  # the setting naming where poison goes

    def topic_of(self, settings: Settings) -> str:
        """The topic it reads under ``settings``."""
        return str(getattr(settings, self.topic))


@dataclass(frozen=True)
class Reacts:
    """Automatic rules (``services.runtime.consumer.reactor``): events of the log cause events
    of the service's own. The rules read the state of a projection (``reads``: a ``Consumes``
    of the same spec), so they run inside its consumer, in its transaction, after each event
    it folds; they run once per causing event (their journal is durable, never rebuilt) and
    their events leave through the service's outbox."""

    name: str
    build: Callable[[Parts], Reactor[Any]]
    reads: str  # the name of the ``Consumes`` whose projection's state the rules read


@dataclass(frozen=True)
class Task:
    """A background loop the service runs while it is up (a scheduler, a relay, a job)."""

    name: str
    build: Callable[[Parts], Callable[[], Coroutine[Any, Any, None]]]


@dataclass(frozen=True)
class Publishes:
    """Events the service appends to a topic (for the AsyncAPI document)."""

    topic: str  # the setting naming the topic
    contracts: tuple[str, ...]  # the contracts modules whose events it appends there


@dataclass(frozen=True)
class ServiceSpec:
    """One service, declared once."""

    name: str
    title: str
    description: str
    settings: type[Settings]
    port: int  # the default; ``COMPLAINTS_<NAME>_PORT`` overrides it
    schema: str
    migrations: Sequence[Path]  # the projection's tables (run in each generation's schema)
    durable: Sequence[Path] = ()  # tables that are not projections (never dropped)
    functions: Sequence[Path] = ()  # stable objects over the views (SQL functions)
    legacy_tables: Sequence[str] = ()  # projection tables an older release kept in the schema
    # Plan each execution, no generic plans (``create_pool``): for reads with optional
    # filters, and for tables that start empty (a new system, a new generation) and are read
    # by key as they grow, which a generic plan made early would scan whole until analysed.
    plan_each_query: bool = False
    shared: Callable[[Any], Any] = field(default=lambda settings: None)
    consumers: Sequence[Consumes | Processes] = ()
    reactions: Sequence[Reacts] = ()
    tasks: Sequence[Task] = ()
    outbox: bool = False
    # Its relay publishes watermarks (services.runtime.outbox, "Watermarks"): its decisions
    # can stop another service's clocks, and that service waits for them (the workflow's).
    watermarks: bool = False
    publishes: Sequence[Publishes] = ()
    gauges: Sequence[tuple[str, GaugeRefresh]] = ()  # its own gauges, refreshed by the monitor
    routers: Sequence[APIRouter] = ()
    install: Callable[[FastAPI, Parts], None] | None = None  # what a router cannot declare

    def consumer_name(self, consumer: Consumes | Processes) -> str:
        """``consumer``'s name as its offsets are stored."""
        return f"{self.name}.{consumer.name}"

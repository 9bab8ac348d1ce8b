"""The services of the platform, named once.

``SERVICES`` maps each service to its default port: the local launcher reads it before
anything but the standard library is known to work, so this module imports nothing else.
Everything else a service is — schema, consumers, publishers, routes — is in its spec
(``services/<name>/spec.py``), which ``spec(name)`` and ``specs()`` load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.runtime.spec import ServiceSpec

SERVICES: dict[str, int] = {"intake": 8001, "workflow": 8002, "sla": 8003, "reporting": 8004}
"""Every service, in the order they start, with its default port."""

CONSUMING_COPIES: dict[str, int] = {"intake": 8011}
"""Services that ``make up`` and docker-compose.yml run as two copies, with the port of the
second: the public copy serves HTTP only (``COMPLAINTS_ROLE=http``), the one beside it runs
the consumers, rebuilds and relay (the default role). Under load, intake's consumers then take
no share of the core that answers the channels (bench/README.md, "Intake's consumers in a
copy of their own")."""

PROCESSES: dict[str, str] = {
    key: name
    for name in SERVICES
    for key in ((name, f"{name}-consumers") if name in CONSUMING_COPIES else (name,))
}
"""Every process ``make up`` and docker-compose.yml run, by its name there, to the service it
is a copy of."""


def spec(name: str) -> ServiceSpec:
    """The spec of service ``name``."""
    if name not in SERVICES:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}")
    found: ServiceSpec = importlib.import_module(f"services.{name}.spec").SPEC
    return found


def specs() -> dict[str, ServiceSpec]:
    """Every service's spec, by name."""
    return {name: spec(name) for name in SERVICES}

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


def spec(name: str) -> ServiceSpec:
    """The spec of service ``name``."""
    if name not in SERVICES:
        raise ValueError(f"service must be one of {', '.join(SERVICES)}")
    found: ServiceSpec = importlib.import_module(f"services.{name}.spec").SPEC
    return found


def specs() -> dict[str, ServiceSpec]:
    """Every service's spec, by name."""
    return {name: spec(name) for name in SERVICES}

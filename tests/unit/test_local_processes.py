"""What ``make up`` starts (``deploy.local.stack.processes``): one process per service, and
for a service of ``CONSUMING_COPIES`` a public copy that serves HTTP only and a copy beside it
on its own port that consumes, with its own log and pid file."""

from __future__ import annotations

from deploy.local.stack import Process, processes
from services.catalog import CONSUMING_COPIES, PROCESSES, SERVICES


def test_every_service_runs_and_intake_as_two_copies() -> None:
    found = {p.key: p for p in processes({})}
    assert list(found) == list(PROCESSES)
    assert set(PROCESSES.values()) == set(SERVICES)
    assert found["intake"] == Process("intake", "intake", 8001, {"COMPLAINTS_ROLE": "http"})
    assert found["intake-consumers"] == Process(
        "intake-consumers",
        "intake",
        CONSUMING_COPIES["intake"],
        {"COMPLAINTS_INTAKE_PORT": str(CONSUMING_COPIES["intake"]), "COMPLAINTS_ROLE": "all"},
    )
    for name in ("workflow", "sla", "reporting"):  # one copy, every role
        assert found[name] == Process(name, name, SERVICES[name])
    ports = [p.port for p in found.values()]
    assert len(set(ports)) == len(ports)


def test_a_port_set_in_the_environment_moves_the_public_copy_only() -> None:
    found = {p.key: p for p in processes({"COMPLAINTS_INTAKE_PORT": "9101"})}
    assert found["intake"].port == 9101
    assert found["intake-consumers"].port == CONSUMING_COPIES["intake"]


def test_a_copy_of_role_http_knows_its_consumers_and_runs_none() -> None:
    from services.intake.spec import SPEC
    from services.runtime.app import build_app

    subscribed = {}
    for role in ("all", "http"):
        service = build_app(SPEC, SPEC.settings(role=role)).state.service
        assert [c.name for c in service.consumers] == [
            "intake.callers.v1",
            "intake.submissions.v1",
            "intake.rejections.v1",
        ]
        subscribed[role] = len(service.broker.subscribers)
    assert subscribed == {"all": 3, "http": 0}

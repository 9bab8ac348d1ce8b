"""The observability profile of docker-compose.yml, checked without a Docker engine: what it
starts, that Prometheus scrapes what the services serve, that the Grafana dashboard queries
metrics the code really exports, and that health checks ask for readiness."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import services.intake.api
import services.reporting.api
import services.sla.api
import services.workflow.api
from services import catalog
from services.runtime import probe

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = tuple(catalog.SERVICES)
PROCESSES = catalog.PROCESSES  # each compose service that runs one of ours → its service
PROMETHEUS: dict[str, Any] = yaml.safe_load(
    (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text()
)
DASHBOARD: dict[str, Any] = json.loads(
    (ROOT / "deploy" / "grafana" / "dashboards" / "complaints.json").read_text()
)
# Imported for their side effect: every service's metrics are registered.
assert services.intake.api and services.workflow.api and services.sla.api
assert services.reporting.api


def profiles(name: str) -> list[str]:
    return list(COMPOSE["services"][name].get("profiles", []))


def mounts(name: str) -> dict[str, str]:
    """Container path → host path of a service's bind mounts."""
    out = {}
    for volume in COMPOSE["services"][name].get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("./"):
            out[container] = host
    return out


def test_monitoring_is_behind_a_profile_and_the_default_stack_stays_small() -> None:
    default = {n for n in COMPOSE["services"] if not profiles(n)}
    assert default == {"kafka", "postgres", *PROCESSES}
    assert profiles("prometheus") == ["observability"]
    assert profiles("grafana") == ["observability"]
    assert {"prometheus-data", "grafana-data"} <= set(COMPOSE["volumes"])


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_health_checks_ask_for_readiness(name: str) -> None:
    check = COMPOSE["services"][name]["healthcheck"]["test"]
    port = COMPOSE["services"][name]["environment"][f"COMPLAINTS_{PROCESSES[name].upper()}_PORT"]
    assert check == ["CMD", "python", "-m", "services.runtime.probe", "--ready", port]


def test_the_probe_takes_ready_before_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    class Answer:
        status = 200

        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *_: object) -> None:
            return None

    def urlopen(url: str, timeout: float) -> Answer:
        asked.append(url)
        return Answer()

    monkeypatch.setattr(probe.urllib.request, "urlopen", urlopen)
    assert probe.main(["--ready", "8004"]) == 0
    assert probe.main(["8004"]) == 0
    assert asked == ["http://127.0.0.1:8004/readyz", "http://127.0.0.1:8004/healthz"]


def test_prometheus_scrapes_every_copy_of_every_service_on_its_port() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    assert set(jobs) == set(PROCESSES)
    for name, job in jobs.items():
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name] and name in COMPOSE["services"]
        variable = f"COMPLAINTS_{PROCESSES[name].upper()}_PORT"
        port = COMPOSE["services"][name]["environment"][variable]
        assert sd["port"] == int(port), name
        assert job.get("metrics_path", "/metrics") == "/metrics"
    assert mounts("prometheus")["/etc/prometheus/prometheus.yml"] == (
        "./deploy/prometheus/prometheus.yml"
    )


def test_grafana_is_provisioned_from_files_in_deploy() -> None:
    grafana = mounts("grafana")
    provisioning = ROOT / grafana["/etc/grafana/provisioning"]
    dashboards = ROOT / grafana["/var/lib/grafana/dashboards"]
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"
    ]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "9090:9090" in COMPOSE["services"]["prometheus"]["ports"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "complaints.yml").read_text())[
        "providers"
    ]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert (dashboards / "complaints.json").exists()
    panels = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    assert all(p["datasource"]["uid"] == source["uid"] for p in panels)


def exported_names() -> set[str]:
    """Every series name the code's registry can expose."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
        "summary": ("", "_sum", "_count", "_created"),
    }
    names = set()
    for family in REGISTRY.collect():
        for suffix in suffixes.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def dashboard_queries() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


def test_every_metric_the_dashboard_queries_exists_in_the_code() -> None:
    exported = exported_names()
    queried = {m for expr in dashboard_queries() for m in re.findall(r"complaints_\w+", expr)}
    assert queried, "the dashboard queries nothing"
    missing = queried - exported
    assert not missing, f"the dashboard queries metrics the code never exports: {missing}"


def test_the_dashboard_shows_what_operators_watch() -> None:
    queried = " ".join(dashboard_queries())
    for metric in (
        "complaints_consumer_lag",
        "complaints_events_consumed_total",
        "complaints_events_published_total",
        "complaints_outbox_backlog",
        "complaints_sla_alerts_total",
        "complaints_sla_alert_lateness_seconds_bucket",
        "complaints_dead_letters_total",
        "complaints_dead_letters_recorded",
        "complaints_http_request_seconds_bucket",
        "complaints_consumer_progress_ratio",
        "complaints_sla_timers_open",
    ):
        assert metric in queried, metric


class _ComposeLoader(yaml.SafeLoader):
    """Reads Compose's merge tags (``!override``, ``!reset``) as plain values."""


_ComposeLoader.add_constructor(
    "!override",
    lambda loader, node: loader.construct_sequence(node),  # type: ignore[arg-type]
)


def test_the_scale_override_frees_reporting_from_one_host_port() -> None:
    text = (ROOT / "deploy" / "compose.scale.yml").read_text()
    override = yaml.load(text, Loader=_ComposeLoader)
    assert override["services"]["reporting"]["ports"] == ["8004-8007:8004"]
    assert "ports: !override" in text


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_as_its_spec_declares(name: str) -> None:
    spec = catalog.spec(name)
    service = COMPOSE["services"][name]
    assert service["command"] == ["python", "-m", f"services.{spec.name}"]
    assert service["ports"] == [f"{spec.port}:{spec.port}"]
    assert f"COMPLAINTS_{name.upper()}_PORT" in service["environment"]

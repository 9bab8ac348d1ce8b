"""docker-compose.yml keeps every event: whatever a stateful service writes lands in a named
volume, so `down`/`up`, `up --force-recreate` and a newer image lose nothing.

There is no Docker engine here, so the compose model (the YAML) is read: where each stateful
service writes is derived from the variables and flags its image reads (KAFKA_LOG_DIRS, PGDATA,
--storage.tsdb.path, GF_PATHS_DATA — or the image's default when they are unset), and that place
must lie inside a mount of a named volume declared at the top level. Each rule is also run on
broken copies of the model, to show it fails when it should.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from services import catalog

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

# The image's public default cluster id (apache/kafka's configureDefaults): every
# unconfigured broker in the world has it.
KAFKA_IMAGE_DEFAULT_CLUSTER_ID = "5L6g3nShT-eMCtK--X86sw"


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["A=b", ...]
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _flag(service: dict[str, Any], name: str) -> str | None:
    command = service.get("command") or []
    for i, arg in enumerate(command):
        if arg.startswith(f"{name}="):
            return str(arg.split("=", 1)[1])
        if arg == name and i + 1 < len(command):
            return str(command[i + 1])
    return None


def _image(service: dict[str, Any]) -> str:
    return str(service.get("image", "")).split(":")[0]


def writes(service: dict[str, Any]) -> list[str]:
    """Where the service's image keeps its state, from its configuration (or the image's
    default when the configuration says nothing). Empty for a stateless service."""
    image, env = _image(service), _env(service)
    if image == "apache/kafka":
        # The image's configureDefaults: /tmp/kraft-combined-logs, inside the container.
        dirs = env.get("KAFKA_LOG_DIRS", "/tmp/kraft-combined-logs")
        return [d.strip() for d in dirs.split(",") if d.strip()]
    if image == "postgres":
        # Not the image's default: it moved between versions (18: /var/lib/postgresql/18/docker),
        # so an upgrade must be told where the old cluster is.
        return [env.get("PGDATA", "(PGDATA unset: the image's default moves between versions)")]
    if image == "prom/prometheus":
        path = _flag(service, "--storage.tsdb.path") or "data/"
        return [str(PurePosixPath("/prometheus") / path)]  # relative to the image's WORKDIR
    if image == "grafana/grafana":
        return [env.get("GF_PATHS_DATA", "/var/lib/grafana")]
    return []


STATEFUL_IMAGES = {"apache/kafka", "postgres", "prom/prometheus", "grafana/grafana"}


def named_volume_mounts(model: dict[str, Any], service: dict[str, Any]) -> list[str]:
    """The container paths of ``service`` backed by a named volume declared in ``model``."""
    declared = set(model.get("volumes") or {})
    targets = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):  # long syntax
            source, target = volume.get("source"), volume.get("target")
            if volume.get("type", "volume") != "volume":
                continue
        else:
            parts = str(volume).split(":")
            if len(parts) < 2:
                continue  # "/path" alone: an anonymous volume, gone with the container
            source, target = parts[0], parts[1]
        if source in declared and target:
            targets.append(str(target))
    return targets


def _inside(path: str, mount: str) -> bool:
    p, m = PurePosixPath(path), PurePosixPath(mount)
    return p.is_absolute() and (p == m or m in p.parents)


def unsafe_writes(model: dict[str, Any]) -> list[str]:
    """Every place a stateful service writes outside a named volume (empty: all safe)."""
    problems = []
    for name, service in (model.get("services") or {}).items():
        mounts = named_volume_mounts(model, service)
        for path in writes(service):
            if not any(_inside(path, m) for m in mounts):
                problems.append(f"{name} writes {path} outside a named volume (mounts: {mounts})")
    return problems


def unpinned_images(model: dict[str, Any]) -> list[str]:
    """Images that are not pinned to an exact version (no tag, ``latest``, or a bare major)."""
    bad = []
    for name, service in (model.get("services") or {}).items():
        image = service.get("image")
        if image is None:
            continue  # built from deploy/Dockerfile: its FROM line is checked below
        tag = str(image).partition(":")[2]
        if not re.fullmatch(r"v?\d+\.\d+(\.\d+)?(-[\w.]+)?", tag):
            bad.append(f"{name}: {image}")
    return bad


def _stateful(model: dict[str, Any]) -> set[str]:
    return {n for n, s in model["services"].items() if _image(s) in STATEFUL_IMAGES}


def test_every_stateful_service_writes_inside_a_named_volume() -> None:
    assert {"kafka", "postgres"} <= _stateful(COMPOSE)
    assert unsafe_writes(COMPOSE) == []
    # The places really are the volumes, not vacuously empty.
    assert writes(COMPOSE["services"]["kafka"]) == ["/var/lib/kafka/data"]
    assert writes(COMPOSE["services"]["postgres"]) == ["/var/lib/postgresql/data"]


def _without_mount(model: dict[str, Any], service: str, volume: str) -> dict[str, Any]:
    broken = copy.deepcopy(model)
    mounts = broken["services"][service]["volumes"]
    broken["services"][service]["volumes"] = [m for m in mounts if not m.startswith(f"{volume}:")]
    return broken


@pytest.mark.parametrize(
    ("service", "volume"),
    [
        ("kafka", "kafka-data"),
        ("postgres", "pg-data"),
        ("prometheus", "prometheus-data"),
        ("grafana", "grafana-data"),
    ],
)
def test_the_check_fails_when_a_stateful_volume_is_removed(service: str, volume: str) -> None:
    problems = unsafe_writes(_without_mount(COMPOSE, service, volume))
    assert len(problems) == 1 and problems[0].startswith(f"{service} writes "), problems


def test_the_check_fails_when_the_volume_is_undeclared_or_anonymous() -> None:
    undeclared = copy.deepcopy(COMPOSE)
    del undeclared["volumes"]["kafka-data"]
    assert [p.split()[0] for p in unsafe_writes(undeclared)] == ["kafka"]

    anonymous = copy.deepcopy(COMPOSE)
    anonymous["services"]["postgres"]["volumes"][0] = "/var/lib/postgresql/data"
    assert [p.split()[0] for p in unsafe_writes(anonymous)] == ["postgres"]


@pytest.mark.parametrize(
    ("service", "variable", "value"),
    [
        ("kafka", "KAFKA_LOG_DIRS", None),  # unset: the image writes to /tmp/kraft-combined-logs
        ("kafka", "KAFKA_LOG_DIRS", "/var/lib/kafka/data,/tmp/spill"),
        ("postgres", "PGDATA", None),
        ("postgres", "PGDATA", "/var/lib/postgresql/18/docker"),
    ],
)
def test_the_check_follows_where_the_configuration_says_it_writes(
    service: str, variable: str, value: str | None
) -> None:
    broken = copy.deepcopy(COMPOSE)
    env = broken["services"][service]["environment"]
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    problems = unsafe_writes(broken)
    assert len(problems) == 1 and problems[0].startswith(f"{service} writes "), problems


def test_kafka_keeps_one_fixed_cluster_id() -> None:
    env = _env(COMPOSE["services"]["kafka"])
    cluster_id = env["CLUSTER_ID"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id), cluster_id  # a base64 UUID
    assert cluster_id != KAFKA_IMAGE_DEFAULT_CLUSTER_ID
    assert "${" not in cluster_id  # fixed in the file, not left to whoever runs it


def test_images_are_pinned_to_exact_versions() -> None:
    assert unpinned_images(COMPOSE) == []
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    bases = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.M)
    assert bases and all(re.search(r":\d+\.\d+\.\d+", b) for b in bases), bases


@pytest.mark.parametrize("image", ["postgres", "postgres:latest", "postgres:15", "a/b:stable"])
def test_the_pin_check_fails_on_moving_tags(image: str) -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["postgres"]["image"] = image
    assert unpinned_images(broken) == [f"postgres: {image}"]


def test_the_kafka_health_check_starts_no_jvm() -> None:
    check = COMPOSE["services"]["kafka"]["healthcheck"]["test"]
    line = " ".join(check)
    assert "/opt/kafka" not in line and "java" not in line and ".sh" not in line, line
    assert check[:3] == ["CMD", "bash", "-c"]
    listeners = _env(COMPOSE["services"]["kafka"])["KAFKA_LISTENERS"]
    port = re.search(r"PLAINTEXT://[^:,]*:(\d+)", listeners)
    assert port and check[3] == f"exec 3<>/dev/tcp/127.0.0.1/{port.group(1)}"


def test_services_run_in_production_mode_unless_told_otherwise() -> None:
    for name in catalog.SERVICES:
        env = COMPOSE["services"][name]["environment"]
        assert env["COMPLAINTS_ENV"] == "${COMPLAINTS_ENV:-production}", name
        # no development password as a fallback
        assert ":-complaints}" not in env["COMPLAINTS_DATABASE_URL"], name
    password = COMPOSE["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password == "${COMPLAINTS_DB_PASSWORD:-}", password


def test_make_runs_compose_in_production_mode_unless_the_caller_says_otherwise() -> None:
    # The Makefile exports COMPLAINTS_ENV=local for make up/test; compose must not inherit it.
    makefile = (ROOT / "Makefile").read_text()
    compose_lines = [line for line in makefile.splitlines() if "docker compose" in line]
    assert compose_lines
    for line in compose_lines:
        if line.lstrip().startswith("#") or "##" in line:
            continue
        assert "COMPLAINTS_ENV=$(or $(CALLER_COMPLAINTS_ENV),production) docker compose" in line

"""docker-compose.yml cannot be run here (no Docker engine), so check what can be checked:
every service's command exists in the package, and every variable it sets is one it reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.intake.settings import IntakeSettings
from services.reporting.settings import ReportingSettings
from services.runtime.settings import Settings
from services.sla.settings import SlaSettings
from services.workflow.settings import WorkflowSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SETTINGS: dict[str, type[Settings]] = {
    "intake": IntakeSettings,
    "workflow": WorkflowSettings,
    "sla": SlaSettings,
    "reporting": ReportingSettings,
}
DEFAULT_PORTS = {"intake": 8001, "workflow": 8002, "sla": 8003, "reporting": 8004}


def env_names(settings: type[Settings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def test_compose_runs_every_service_and_the_infrastructure() -> None:
    default = {n for n, s in COMPOSE["services"].items() if not s.get("profiles")}
    assert default == {"kafka", "postgres", *SETTINGS}  # monitoring is behind a profile
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:4.")
    assert "kafka-data" in COMPOSE["volumes"] and "pg-data" in COMPOSE["volumes"]


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_service_command_is_a_module_of_the_package(name: str) -> None:
    service = COMPOSE["services"][name]
    module = module_of(service["command"])
    assert module == f"services.{name}"
    assert importlib.util.find_spec(module) is not None
    assert (ROOT / "deploy" / "Dockerfile").exists()
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_variable_compose_sets_is_one_the_service_reads(name: str) -> None:
    environment = COMPOSE["services"][name]["environment"]
    unknown = set(environment) - env_names(SETTINGS[name])
    assert not unknown, f"{name} sets variables its settings never read: {unknown}"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_health_check_probes_the_port_the_service_listens_on(name: str) -> None:
    service = COMPOSE["services"][name]
    port = service["environment"][f"COMPLAINTS_{name.upper()}_PORT"]
    assert int(port) == DEFAULT_PORTS[name]
    check = service["healthcheck"]["test"]
    assert module_of(check[1:]) == "services.runtime.probe"
    assert importlib.util.find_spec("services.runtime.probe") is not None
    assert check[-1] == port
    assert service["ports"] == [f"{port}:{port}"]
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_postgres_gets_the_same_roles_as_local_mode() -> None:
    mounts = COMPOSE["services"]["postgres"]["volumes"]
    assert any(m.startswith("./deploy/postgres/init.sql:") for m in mounts)
    assert (ROOT / "deploy" / "postgres" / "init.sql").exists()


def test_postgres_gets_a_buffer_cache_sized_for_the_reporting_tables() -> None:
    """Compose and local mode both start PostgreSQL with more than its 128MB default, and
    local mode refuses a size it cannot pass on, naming the variable."""
    from deploy.local.infra import InfraConfig, InfraError

    command = COMPOSE["services"]["postgres"]["command"]
    assert command[:2] == ["postgres", "-c"]
    assert command[2] == "shared_buffers=${COMPLAINTS_PG_SHARED_BUFFERS:-1GB}"
    assert InfraConfig.from_env({"COMPLAINTS_PG_SHARED_BUFFERS": "512MB"}).pg_shared_buffers == (
        "512MB"
    )
    size = InfraConfig.from_env({}).pg_shared_buffers
    assert size.endswith("MB") and 128 <= int(size[:-2]) <= 4096
    with pytest.raises(InfraError, match="COMPLAINTS_PG_SHARED_BUFFERS"):
        InfraConfig.from_env({"COMPLAINTS_PG_SHARED_BUFFERS": "1GB -c fsync=off"})


def test_postgres_checkpoints_with_room_for_the_log_in_both_modes() -> None:
    """Compose and local mode both let 8GB of write-ahead log build up between checkpoints
    (at PostgreSQL's 1GB, heavy writes checkpointed every 11-95 s), and local mode refuses a size it
    cannot pass on, naming the variable."""
    from deploy.local.infra import InfraConfig, InfraError

    command = COMPOSE["services"]["postgres"]["command"]
    assert command[3:] == ["-c", "max_wal_size=${COMPLAINTS_PG_MAX_WAL_SIZE:-8GB}"]
    assert InfraConfig.from_env({}).pg_max_wal_size == "8GB"
    assert InfraConfig.from_env({"COMPLAINTS_PG_MAX_WAL_SIZE": "2GB"}).pg_max_wal_size == "2GB"
    with pytest.raises(InfraError, match="COMPLAINTS_PG_MAX_WAL_SIZE"):
        InfraConfig.from_env({"COMPLAINTS_PG_MAX_WAL_SIZE": "8GB -c fsync=off"})

"""docker-compose.yml cannot be run here (no Docker engine), so check what can be checked:
every service's command exists in the package, and every variable it sets is one it reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from services import catalog
from services.catalog import CONSUMING_COPIES
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
# Each compose service that runs one of ours: (which service, its port)
PROCESSES = {
    key: (name, CONSUMING_COPIES[name] if key.endswith("-consumers") else DEFAULT_PORTS[name])
    for key, name in catalog.PROCESSES.items()
}


def env_names(settings: type[Settings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{name}".upper() for name in settings.model_fields}


def module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def test_compose_runs_every_service_and_the_infrastructure() -> None:
    default = {n for n, s in COMPOSE["services"].items() if not s.get("profiles")}
    assert default == {"kafka", "postgres", *PROCESSES}  # monitoring is behind a profile
    assert COMPOSE["services"]["kafka"]["image"].startswith("apache/kafka:4.")
    assert "kafka-data" in COMPOSE["volumes"] and "pg-data" in COMPOSE["volumes"]


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_service_command_is_a_module_of_the_package(name: str) -> None:
    service = COMPOSE["services"][name]
    module = module_of(service["command"])
    assert module == f"services.{PROCESSES[name][0]}"
    assert importlib.util.find_spec(module) is not None
    assert (ROOT / "deploy" / "Dockerfile").exists()
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_every_variable_compose_sets_is_one_the_service_reads(name: str) -> None:
    environment = COMPOSE["services"][name]["environment"]
    unknown = set(environment) - env_names(SETTINGS[PROCESSES[name][0]])
    assert not unknown, f"{name} sets variables its settings never read: {unknown}"


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_health_check_probes_the_port_the_service_listens_on(name: str) -> None:
    service = COMPOSE["services"][name]
    of, default_port = PROCESSES[name]
    port = service["environment"][f"COMPLAINTS_{of.upper()}_PORT"]
    assert int(port) == default_port
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


@pytest.mark.parametrize("name", sorted(CONSUMING_COPIES))
def test_a_service_run_as_two_copies_has_one_that_consumes(name: str) -> None:
    """The public copy serves HTTP only; the copy beside it has the default role, which runs
    the consumers: without it nothing would read intake's topics. Both have the same keys."""
    public = COMPOSE["services"][name]["environment"]
    consuming = COMPOSE["services"][f"{name}-consumers"]["environment"]
    assert public["COMPLAINTS_ROLE"] == "http"
    assert consuming["COMPLAINTS_ROLE"] == "all" == Settings.model_fields["role"].default
    assert {k: v for k, v in public.items() if not k.endswith(("_PORT", "_ROLE"))} == {
        k: v for k, v in consuming.items() if not k.endswith(("_PORT", "_ROLE"))
    }

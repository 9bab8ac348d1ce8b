"""The whole system as local processes: Kafka and PostgreSQL (``infra``), then the four services.

    python -m deploy.local.stack up       # start what is not running; return when all are healthy
    python -m deploy.local.stack down     # stop everything, keep the data
    python -m deploy.local.stack reset    # stop everything and wipe the data
    python -m deploy.local.stack status

Service logs go to ``$COMPLAINTS_HOME/logs/<service>.log`` (default ``.local/logs``).
Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local import infra
from services.catalog import CONSUMING_COPIES, PROCESSES, SERVICES

REPO = Path(__file__).resolve().parents[2]


def service_port(name: str, env: Mapping[str, str] = os.environ) -> int:
    """The port a service listens on: ``COMPLAINTS_<NAME>_PORT`` or its default."""
    return int(env.get(f"COMPLAINTS_{name.upper()}_PORT", SERVICES[name]))


@dataclass(frozen=True)
class Process:
    """One process of the system: ``key`` names its log and pid files."""

    key: str
    service: str
    port: int
    env: dict[str, str] = field(default_factory=dict)  # beside the shared environment


def processes(env: Mapping[str, str] = os.environ) -> list[Process]:
    """Every process ``up`` starts (``PROCESSES``): one per service, two for a service of
    ``CONSUMING_COPIES`` (its public copy serves HTTP only; ``<name>-consumers`` consumes)."""
    found = []
    for key, name in PROCESSES.items():
        if name not in CONSUMING_COPIES:
            found.append(Process(key, name, service_port(name, env)))
        elif key == name:
            found.append(Process(key, name, service_port(name, env), {"COMPLAINTS_ROLE": "http"}))
        else:
            port = CONSUMING_COPIES[name]
            copy_env = {f"COMPLAINTS_{name.upper()}_PORT": str(port), "COMPLAINTS_ROLE": "all"}
            found.append(Process(key, name, port, copy_env))
    return found


def healthy(
    port: int,
    host: str = "127.0.0.1",
    timeout: float = 1.0,
    path: str = "/healthz",
    service: str | None = None,
) -> bool:
    """Whether ``path`` (``/healthz``: the process answers; ``/readyz``: it is ready for
    load) answers 200 on ``port``; with ``service``, only if that service answers (its
    ``/healthz`` names it), not another process on the port."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=timeout) as resp:
            if resp.status != 200:
                return False
            return service is None or json.loads(resp.read()).get("service") == service
    except (urllib.error.URLError, OSError, ValueError):
        return False


def start_service(
    name: str,
    *,
    env: Mapping[str, str],
    log_path: Path,
    pid_path: Path | None = None,
    cwd: Path = REPO,
) -> subprocess.Popen[bytes]:
    """Start ``python -m services.<name>`` detached, its output appended to ``log_path``
    (``cwd``: the checkout whose code runs; another one to compare two trees)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"],
            cwd=cwd,
            env=dict(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if pid_path is not None:
        pid_path.parent.mkdir(parents=True, exist_ok=True)
        pid_path.write_text(str(proc.pid))
    return proc


def wait_healthy(
    ports: Mapping[str, int],
    *,
    timeout: float,
    logs: Path,
    path: str = "/healthz",
    services: Mapping[str, str] | None = None,
) -> None:
    """Return once every service answers ``path`` (see ``healthy``); else fail naming the
    ones that do not. ``services``: key → the service that must be the one answering."""
    deadline = time.monotonic() + timeout
    waiting = dict(ports)
    named = services or {}
    while waiting and time.monotonic() < deadline:
        waiting = {
            n: p for n, p in waiting.items() if not healthy(p, path=path, service=named.get(n))
        }
        if waiting:
            time.sleep(0.3)
    if waiting:
        names = ", ".join(sorted(waiting))
        raise SystemExit(
            f"no 200 from {path} after {timeout:.0f}s: {names} (see {logs}/<service>.log)"
        )


def _pid_alive(pid_path: Path) -> int | None:
    try:
        pid = int(pid_path.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def complaint_url(workflow_port: int) -> str:
    """Where intake's ``202`` points (``Location``) when everything runs on this machine: the
    complaint on the workflow service."""
    return f"http://127.0.0.1:{workflow_port}/v1/complaints/{{complaint_id}}"


def sla_url(sla_port: int) -> str:
    """Where the workflow's pages read a complaint's clocks when everything runs on this
    machine: the SLA service."""
    return f"http://127.0.0.1:{sla_port}"


def workbench_url(workflow_port: int) -> str:
    """Where the robots' messages link to when everything runs on this machine: the staff
    workbench (the workflow service's pages)."""
    return f"http://127.0.0.1:{workflow_port}"


def up(cfg: infra.InfraConfig) -> None:
    """Start Kafka, PostgreSQL and every service that is not already answering."""
    infra.ensure_kafka(cfg)
    infra.ensure_postgres(cfg)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    logs = cfg.home / "logs"
    ports = {name: service_port(name) for name in SERVICES}
    env.setdefault("COMPLAINTS_INTAKE_COMPLAINT_URL", complaint_url(ports["workflow"]))
    env.setdefault("COMPLAINTS_SLA_URL", sla_url(ports["sla"]))
    env.setdefault("COMPLAINTS_WORKBENCH_URL", workbench_url(ports["workflow"]))
    running = processes(env)
    for proc in running:
        if healthy(proc.port, service=proc.service):
            print(f"{proc.key}: already running on :{proc.port}")
            continue
        start_service(
            proc.service,
            env={**env, **proc.env},
            log_path=logs / f"{proc.key}.log",
            pid_path=cfg.home / "run" / f"{proc.key}.pid",
        )
        print(f"{proc.key}: starting on :{proc.port}")
    wait_healthy(
        {proc.key: proc.port for proc in running},
        timeout=90,
        logs=logs,
        services={proc.key: proc.service for proc in running},
    )
    listening = ", ".join(f"{proc.key} :{proc.port}" for proc in running)
    print(f"all services healthy: {listening}")
    print(f"logs: {logs}")


def down(cfg: infra.InfraConfig) -> None:
    """Stop the services (SIGTERM, then SIGKILL after 15 s), then Kafka and PostgreSQL."""
    procs = {}
    for proc in processes():
        pid_path = cfg.home / "run" / f"{proc.key}.pid"
        pid = _pid_alive(pid_path)
        if pid is not None:
            os.killpg(pid, signal.SIGTERM)
            procs[proc.key] = (pid, pid_path)
    deadline = time.monotonic() + 15
    for name, (pid, pid_path) in procs.items():
        while _pid_alive(pid_path) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _pid_alive(pid_path):
            os.killpg(pid, signal.SIGKILL)
        pid_path.unlink(missing_ok=True)
        print(f"{name}: stopped")
    infra.stop_all(cfg)


def status(cfg: infra.InfraConfig) -> dict[str, object]:
    """What runs now: infrastructure and each service's health."""
    state: dict[str, object] = dict(infra.status(cfg))
    for proc in processes():
        state[proc.key] = "healthy" if healthy(proc.port, service=proc.service) else "down"
    return state


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m deploy.local.stack")
    parser.add_argument("command", choices=["up", "down", "reset", "status"])
    args = parser.parse_args(argv)
    cfg = infra.InfraConfig.from_env()
    if args.command == "up":
        up(cfg)
    elif args.command == "down":
        down(cfg)
    elif args.command == "reset":
        down(cfg)
        infra.reset(cfg)
    else:
        for key, value in status(cfg).items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

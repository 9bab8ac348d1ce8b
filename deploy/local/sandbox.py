"""An isolated copy of the whole system on the real broker and database: its own database,
its own topics, the four services as processes on free ports. Used by the tests and by the
benchmark, so that neither touches the data of ``make up``.

Unlike ``infra`` and ``stack`` this needs the virtualenv (asyncpg, aiokafka).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local import stack

_HANDED_OUT: set[int] = set()
"""Every port ``free_port`` has returned in this process."""


def free_port() -> int:
    """A TCP port nobody listens on right now, and never returned before in this process.

    A port is free until its service binds it, which may be long after it was chosen (a
    system's ports are chosen together, its services started one by one): without the second
    rule a copy started meanwhile could be handed a port chosen for a service not started
    yet, and that service's health check would then be answered by the copy."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def create_database(admin_url: str, name: str) -> str:
    """Create database ``name`` (fresh) next to ``admin_url``'s; return its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return with_database(admin_url, name)


async def drop_database(admin_url: str, name: str, *, attempts: int = 20) -> None:
    """Drop database ``name``, disconnecting whoever is still connected.

    An autovacuum worker (woken by a bulk load) runs as the superuser, and ``FORCE`` may not
    terminate it for the application's role (a million complaints' tables kept one busy for
    longer than ten seconds of retries). A plain ``DROP DATABASE`` has PostgreSQL stop its
    own autovacuum workers: after a refused ``FORCE`` the next attempt is a plain one (which
    in turn fails while a client is still connected: then ``FORCE`` again).
    """
    conn = await asyncpg.connect(admin_url)
    force = True
    try:
        for attempt in range(attempts):
            try:
                await conn.execute(
                    f'DROP DATABASE IF EXISTS "{name}"' + (" WITH (FORCE)" if force else "")
                )
                return
            except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError) as refused:
                if attempt == attempts - 1:
                    raise
                force = isinstance(refused, asyncpg.ObjectInUseError)
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


def topic_names(prefix: str) -> dict[str, str]:
    """The events, submissions, dead-letter and watermarks topic names under ``prefix``."""
    kinds = ("events", "submissions", "deadletter", "watermarks")
    return {kind: f"{prefix}.complaints.{kind}" for kind in kinds}


async def delete_topics(bootstrap: str, topics: Iterable[str]) -> None:
    """Delete those of ``topics`` that exist, and the topics named after them (the
    submissions topic's ``.rejected`` and ``.deadletter``)."""
    names = list(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = sorted(t for t in existing if any(t == n or t.startswith(f"{n}.") for n in names))
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def environment(
    *, bootstrap: str, database_url: str, topics: Mapping[str, str], **extra: str
) -> dict[str, str]:
    """The ``COMPLAINTS_*`` environment of a sandboxed system, with a free port per service."""
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "COMPLAINTS_ENV": "local",
        "COMPLAINTS_KAFKA_BOOTSTRAP": bootstrap,
        "COMPLAINTS_DATABASE_URL": database_url,
        "COMPLAINTS_TOPIC_EVENTS": topics["events"],
        "COMPLAINTS_TOPIC_SUBMISSIONS": topics["submissions"],
        "COMPLAINTS_TOPIC_DEADLETTER": topics["deadletter"],
        "COMPLAINTS_TOPIC_WATERMARKS": topics["watermarks"],
        **extra,
    }
    for name in stack.SERVICES:
        env[f"COMPLAINTS_{name.upper()}_PORT"] = str(free_port())
    env.setdefault(
        "COMPLAINTS_INTAKE_COMPLAINT_URL",
        stack.complaint_url(int(env["COMPLAINTS_WORKFLOW_PORT"])),
    )
    env.setdefault("COMPLAINTS_SLA_URL", stack.sla_url(int(env["COMPLAINTS_SLA_PORT"])))
    env.setdefault(
        "COMPLAINTS_WORKBENCH_URL", stack.workbench_url(int(env["COMPLAINTS_WORKFLOW_PORT"]))
    )
    return env


@dataclass
class RunningSystem:
    """A sandboxed system's environment, and how to reach, crash and restart its services."""

    env: dict[str, str]
    database_url: str
    topics: dict[str, str]
    urls: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: Path = Path()

    copy_ports: dict[str, int] = field(default_factory=dict)

    def start(self, name: str, copy: int = 1, *, role: str | None = None) -> str:
        """Start (or restart) one service and wait for its health check; return its key.

        ``copy`` > 1 starts another copy of the service (key ``<name>-<copy>``, e.g.
        ``workflow-2``) on a port of its own, kept for its restarts; its URL is
        ``urls[key]``, and ``kill``/``stop`` take the key. ``role``: its ``COMPLAINTS_ROLE``
        (``http``: it serves HTTP only; by default it runs everything).
        """
        key = name if copy == 1 else f"{name}-{copy}"
        env = self.env if role is None else {**self.env, "COMPLAINTS_ROLE": role}
        if copy == 1:
            port = int(self.env[f"COMPLAINTS_{name.upper()}_PORT"])
        else:
            port = self.copy_ports.setdefault(key, free_port())
            env = {**env, f"COMPLAINTS_{name.upper()}_PORT": str(port)}
        self.procs[key] = stack.start_service(name, env=env, log_path=self.logs / f"{key}.log")
        stack.wait_healthy({key: port}, timeout=60, logs=self.logs, services={key: name})
        self.urls[key] = f"http://127.0.0.1:{port}"
        return key

    def start_as_deployed(self, name: str) -> list[str]:
        """Start ``name``'s copies as ``make up`` runs them (``stack.processes``: for intake, a
        copy that serves HTTP only, key ``name``, and one that consumes, ``<name>-2``), each
        with its role and on this system's ports. Returns their keys."""
        copies = [p for p in stack.processes(self.env) if p.service == name]
        return [
            self.start(name, copy=n, role=p.env.get("COMPLAINTS_ROLE"))
            for n, p in enumerate(copies, start=1)
        ]

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until every running service answers ``/readyz`` with 200: consumers assigned
        and warm-up done (what compose's health checks wait for before load comes)."""
        ports = {
            key: int(url.rsplit(":", 1)[1]) for key, url in self.urls.items() if key in self.procs
        }
        stack.wait_healthy(ports, timeout=timeout, logs=self.logs, path="/readyz")

    def kill(self, name: str) -> None:
        """SIGKILL one service: no shutdown hooks, no flushing (a crash)."""
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(timeout=10)

    def stop(self, name: str) -> None:
        """SIGTERM one service and wait: it leaves its consumer group cleanly."""
        proc = self.procs.pop(name)
        proc.terminate()
        proc.wait(timeout=20)

    def stop_all(self) -> None:
        """Terminate every service this system started."""
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()

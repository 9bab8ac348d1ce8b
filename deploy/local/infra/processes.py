"""Process and port helpers: pid files, locks, waiting for ports, stopping processes."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from deploy.local.infra.config import (
    InfraConfig,
    InfraError,
)

log = logging.getLogger("deploy.local.infra")


# --------------------------------------------------------------------------------------------
# process / port helpers
# --------------------------------------------------------------------------------------------


def _port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    """True when the process exists and is not a zombie (reaps it if it is our child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().split()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return f"(no {path})"
    return "\n".join(data.splitlines()[-lines:])


@contextlib.contextmanager
def _locked(cfg: InfraConfig, name: str) -> Iterator[None]:
    """Serialise concurrent ``up``/``down`` of the same home (pytest-xdist, two shells...)."""
    with _file_lock(cfg.run_dir / f"{name}.lock"):
        yield


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _terminate(pid: int, grace: float) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.2)
    log.warning("pid %s still alive after %.0fs: SIGKILL", pid, grace)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.1)


def _clean_env() -> dict[str, str]:
    """Environment for tools: no stray PGHOST/PGPASSWORD/... of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = env.get("LC_ALL") or "C.UTF-8"
    return env


def _run(
    cmd: list[str], what: str, timeout: float | None = None, **kw
) -> subprocess.CompletedProcess:
    kw.setdefault("env", _clean_env())
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise InfraError(f"{what}: timed out after {timeout}s") from None
    if proc.returncode != 0:
        raise InfraError(
            f"{what} failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
        )
    return proc


# Popen objects of the brokers started by this process: kept so that they are not garbage
# collected (ResourceWarning) and so that a dead child is reaped (see _pid_alive).
_CHILDREN: list[subprocess.Popen[bytes]] = []

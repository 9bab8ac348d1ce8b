"""The local PostgreSQL: a cluster from the Debian packages, its roles and the platform database."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from deploy.local.infra.config import (
    _PG_SUPERUSER,
    _PG_SYSTEM_USER,
    POSTGRES_INIT_SQL,
    InfraConfig,
    InfraError,
)
from deploy.local.infra.processes import (
    _cmdline,
    _locked,
    _pid_alive,
    _port_open,
    _read_pid,
    _run,
    _tail,
    _terminate,
)

log = logging.getLogger("deploy.local.infra")


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _pg_bin_dir() -> Path:
    override = os.environ.get("COMPLAINTS_PG_BIN")
    if override:
        return Path(override)
    candidates = []
    for postgres in Path("/usr/lib/postgresql").glob("*/bin/postgres"):
        with contextlib.suppress(ValueError):
            candidates.append((float(postgres.parent.parent.name), postgres.parent))
    if candidates:
        return max(candidates)[1]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).resolve().parent
    raise InfraError("PostgreSQL binaries not found: run deploy/local/bootstrap.sh")


def _as_pg_owner() -> list[str]:
    """Command prefix to run server-side tools: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(_PG_SYSTEM_USER)
    except KeyError:
        raise InfraError(
            f"running as root and there is no '{_PG_SYSTEM_USER}' system user to run "
            "PostgreSQL as (apt-get install postgresql creates it)"
        ) from None
    return ["runuser", "-u", _PG_SYSTEM_USER, "--"]


def _chown_to_pg(*paths: Path, recursive: bool = False) -> None:
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam(_PG_SYSTEM_USER)
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid)
        if recursive and path.is_dir():
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), user.pw_uid, user.pw_gid)


def _pg_running_pid(cfg: InfraConfig) -> int | None:
    """Pid of the postmaster of this home's data directory, if it is running."""
    pid = _read_pid(cfg.pg_data_dir / "postmaster.pid")
    if (
        pid is not None
        and _pid_alive(pid)
        and any("postgres" in part for part in _cmdline(pid)[:1])
    ):
        return pid
    return None


def _clear_stale_postmaster_pid(cfg: InfraConfig) -> None:
    """Before a start: postgres refuses to start while the pid in ``postmaster.pid`` exists."""
    lock = cfg.pg_data_dir / "postmaster.pid"
    pid = _read_pid(lock)
    if pid is None:
        return
    # A SIGKILLed postmaster stays a zombie until init reaps it (seconds in some containers).
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and not _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _pid_alive(pid) and not any("postgres" in part for part in _cmdline(pid)[:1]):
        # e.g. after a reboot the pid belongs to an unrelated process now
        log.warning("removing stale %s (pid %s is not a postmaster)", lock, pid)
        lock.unlink(missing_ok=True)


def _pg_initdb(cfg: InfraConfig, bin_dir: Path) -> None:
    data = cfg.pg_data_dir
    if (data / "PG_VERSION").exists():
        return
    if data.exists() and any(data.iterdir()):
        log.warning("%s holds a half-done initdb: removing it", data)
        shutil.rmtree(data)
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(data, 0o700)
    _chown_to_pg(data)
    prefix = _as_pg_owner()
    if prefix:
        probe = subprocess.run([*prefix, "test", "-w", str(data)], capture_output=True)
        if probe.returncode != 0:
            raise InfraError(
                f"the '{_PG_SYSTEM_USER}' user cannot reach {data}: a parent folder of "
                f"COMPLAINTS_HOME={cfg.home} is not traversable by it (e.g. under /root); "
                "choose a COMPLAINTS_HOME elsewhere"
            )
    log.info("initdb %s", data)
    base = [
        *prefix,
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        _PG_SUPERUSER,
        "--encoding=UTF8",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
    ]
    try:
        _run([*base, "--locale=C.UTF-8"], "initdb", timeout=120, cwd=data)
    except InfraError as exc:
        log.warning("initdb with C.UTF-8 failed, retrying with --no-locale: %s", exc)
        for child in data.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        _run([*base, "--no-locale"], "initdb", timeout=120, cwd=data)


def _psql(cfg: InfraConfig, bin_dir: Path, *args: str, sql: str | None = None) -> str:
    cmd = [
        str(bin_dir / "psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        str(cfg.pg_socket_dir),
        "-p",
        str(cfg.pg_port),
        "-U",
        _PG_SUPERUSER,
        "-d",
        "postgres",
        "-v",
        f"app_user={cfg.pg_user}",
        "-v",
        f"app_password={cfg.pg_password}",
        "-v",
        f"app_db={cfg.pg_dbname}",
        *args,
    ]
    return _run(cmd, "psql", timeout=60, input=sql).stdout


def _pg_apply_init(cfg: InfraConfig, bin_dir: Path) -> None:
    """Roles (init.sql), then the application database (outside any transaction)."""
    _psql(cfg, bin_dir, "-f", str(POSTGRES_INIT_SQL))
    _psql(
        cfg,
        bin_dir,
        sql=(
            "SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')\n"
            "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = :'app_db')\n"
            "\\gexec\n"
        ),
    )


def ensure_postgres(cfg: InfraConfig, timeout: float = 30) -> None:
    """Make sure PostgreSQL answers on ``cfg.pg_host:cfg.pg_port``: reuse whatever listens
    there, else initdb (once) and start this home's cluster; then apply deploy/postgres/init.sql
    and create the application database (idempotent) when the cluster is ours."""
    deadline = time.monotonic() + timeout
    with _locked(cfg, "postgres"):
        ours = _pg_running_pid(cfg)
        if ours is None and _port_open(cfg.pg_host, cfg.pg_port):
            log.info(
                "PostgreSQL already answering on %s:%s (not started by this home: reused)",
                cfg.pg_host,
                cfg.pg_port,
            )
            return
        bin_dir = _pg_bin_dir()
        if ours is not None:
            _pg_adopt(cfg, bin_dir, ours, deadline)
            return
        _pg_prepare_dirs(cfg, bin_dir)
        started = time.monotonic()
        log.info("starting PostgreSQL on %s:%s", cfg.pg_host, cfg.pg_port)
        _pg_start(cfg, bin_dir, deadline)
        pid = _read_pid(cfg.pg_data_dir / "postmaster.pid")
        if pid:
            cfg.pg_pid_file.write_text(f"{pid}\n")
        _pg_apply_init(cfg, bin_dir)
        log.info(
            "PostgreSQL ready (pid %s) on %s:%s in %.1fs",
            pid,
            cfg.pg_host,
            cfg.pg_port,
            time.monotonic() - started,
        )


def _pg_adopt(cfg: InfraConfig, bin_dir: Path, ours: int, deadline: float) -> None:
    """This home's cluster runs (maybe still starting): wait for its port, then apply the
    init script (idempotent)."""
    while not _port_open(cfg.pg_host, cfg.pg_port):
        if time.monotonic() > deadline or not _pid_alive(ours):
            raise InfraError(
                f"this home's PostgreSQL (pid {ours}) runs but does not answer on "
                f"{cfg.pg_host}:{cfg.pg_port} (port changed? run `down` first)\n"
                f"--- {cfg.pg_log_file} ---\n{_tail(cfg.pg_log_file)}"
            )
        time.sleep(0.2)
    _pg_apply_init(cfg, bin_dir)
    cfg.pg_pid_file.write_text(f"{ours}\n")
    log.info("PostgreSQL already running (pid %s) on %s:%s", ours, cfg.pg_host, cfg.pg_port)


def _pg_prepare_dirs(cfg: InfraConfig, bin_dir: Path) -> None:
    """The data directory (initdb once), the socket directory and the log, owned by the
    PostgreSQL system user; a stale ``postmaster.pid`` removed."""
    for folder in (cfg.data_dir, cfg.logs_dir, cfg.run_dir):
        folder.mkdir(parents=True, exist_ok=True)
    _pg_initdb(cfg, bin_dir)
    cfg.pg_socket_dir.mkdir(parents=True, exist_ok=True)
    cfg.pg_log_file.touch()
    _chown_to_pg(cfg.pg_socket_dir, cfg.pg_log_file)
    if os.geteuid() == 0 and cfg.pg_data_dir.stat().st_uid != pwd.getpwnam(_PG_SYSTEM_USER).pw_uid:
        _chown_to_pg(cfg.pg_data_dir, recursive=True)  # e.g. restored/copied as root
    _clear_stale_postmaster_pid(cfg)


def _pg_start(cfg: InfraConfig, bin_dir: Path, deadline: float) -> None:
    """``pg_ctl start`` this home's cluster and wait for it; its log's tail on failure."""
    options = (
        f"-p {cfg.pg_port} -k {cfg.pg_socket_dir} -c listen_addresses={cfg.pg_host} "
        f"-c max_connections=200 -c shared_buffers={cfg.pg_shared_buffers} "
        f"-c max_wal_size={cfg.pg_max_wal_size}"
    )
    remaining = max(5, int(deadline - time.monotonic()))
    try:
        _run(
            [
                *_as_pg_owner(),
                str(bin_dir / "pg_ctl"),
                "start",
                "-w",
                "-t",
                str(remaining),
                "-D",
                str(cfg.pg_data_dir),
                "-l",
                str(cfg.pg_log_file),
                "-o",
                options,
            ],
            "pg_ctl start",
            timeout=remaining + 10,
            cwd=cfg.pg_data_dir,
        )
    except InfraError as exc:
        raise InfraError(
            f"{exc}\n--- last 40 lines of {cfg.pg_log_file} ---\n{_tail(cfg.pg_log_file)}"
        ) from None


def stop_postgres(cfg: InfraConfig, timeout: float = 60) -> bool:
    """``pg_ctl stop -m fast`` this home's cluster. Returns whether something was stopped."""
    with _locked(cfg, "postgres"):
        pid = _pg_running_pid(cfg)
        if pid is None:
            cfg.pg_pid_file.unlink(missing_ok=True)
            return False
        log.info("stopping PostgreSQL (pid %s)", pid)
        try:
            _run(
                [
                    *_as_pg_owner(),
                    str(_pg_bin_dir() / "pg_ctl"),
                    "stop",
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(timeout)),
                    "-D",
                    str(cfg.pg_data_dir),
                ],
                "pg_ctl stop",
                timeout=timeout + 10,
                cwd=cfg.pg_data_dir,
            )
        except InfraError as exc:
            log.warning("%s; terminating pid %s", exc, pid)
            _terminate(pid, grace=10)
        cfg.pg_pid_file.unlink(missing_ok=True)
        return True

"""Local infrastructure without Docker: a single-node Apache Kafka (KRaft, combined broker and
controller) run from Maven Central jars, and a PostgreSQL cluster from the Debian packages, both
as plain processes whose state lives under ``COMPLAINTS_HOME`` (default ``<repo>/.local``).

    python -m deploy.local.infra up|down|reset|status|env

Run ``deploy/local/bootstrap.sh`` first on a fresh machine (apt packages, Kafka jars, venv).
Standard library only.

Layout under ``home``::

    cache/kafka-4.1.1/lib/       broker classpath (bootstrap.sh, or fetched here with mvn)
    data/kafka/server.properties generated broker config
    data/kafka/log/              Kafka log dir (meta.properties, topics, __cluster_metadata)
    data/postgres/               PostgreSQL data directory
    logs/kafka/server.log        broker log (log4j2), logs/kafka/kafka.out (JVM stdout/stderr)
    logs/postgres.log            PostgreSQL server log
    run/kafka.pid, run/postgres.pid, run/postgres/ (unix socket), run/*.lock
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

log = logging.getLogger("deploy.local.infra")

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_VERSION = "4.1.1"
KAFKA_POM_DIR = REPO_ROOT / "deploy" / "local" / "kafka"
KAFKA_LOG4J_CONFIG = KAFKA_POM_DIR / "log4j2.yaml"
POSTGRES_INIT_SQL = REPO_ROOT / "deploy" / "postgres" / "init.sql"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_KAFKA_CONTROLLER_PORT = 9093
DEFAULT_DATABASE_URL = "postgresql://complaints:complaints@127.0.0.1:55432/complaints"

_KAFKA_MAIN_CLASS = "kafka.Kafka"
_PG_SUPERUSER = "postgres"
_PG_SYSTEM_USER = "postgres"  # the Debian package's system user, used when we are root
_MAX_UNIX_SOCKET_PATH = 100  # sun_path is 108 bytes including ".s.PGSQL.<port>"


class InfraError(RuntimeError):
    """Something of the local infrastructure could not be started or stopped."""


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def _loopback(host: str) -> str:
    """Address to bind/advertise: IP literals as given, names (``localhost``...) as 127.0.0.1."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return host


@dataclass
class InfraConfig:
    home: Path = field(default_factory=lambda: REPO_ROOT / ".local")
    kafka_host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = DEFAULT_KAFKA_CONTROLLER_PORT
    kafka_heap: str = "512m"
    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_user: str = "complaints"
    pg_password: str = "complaints"
    pg_dbname: str = "complaints"
    # Broker jar cache; default home/cache/kafka-<version>. Point several homes (e.g. pytest
    # tmp homes) at one cache with COMPLAINTS_KAFKA_CACHE to fetch the jars only once.
    kafka_cache: Path | None = None

    def __post_init__(self) -> None:
        self.home = Path(self.home).expanduser().absolute()
        if self.kafka_cache is not None:
            self.kafka_cache = Path(self.kafka_cache).expanduser().absolute()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> InfraConfig:
        env = os.environ if environ is None else environ
        home = Path(env.get("COMPLAINTS_HOME") or REPO_ROOT / ".local")

        bootstrap = env.get("COMPLAINTS_KAFKA_BOOTSTRAP") or DEFAULT_KAFKA_BOOTSTRAP
        first = bootstrap.split(",")[0].strip()
        first = re.sub(r"^[A-Za-z_]+://", "", first)  # tolerate PLAINTEXT://host:port
        khost, _, kport = first.rpartition(":")
        if not khost or not kport.isdigit():
            raise InfraError(f"COMPLAINTS_KAFKA_BOOTSTRAP={bootstrap!r}: expected host:port")
        khost = khost.strip("[]")

        ctl = env.get("COMPLAINTS_KAFKA_CONTROLLER_PORT") or str(DEFAULT_KAFKA_CONTROLLER_PORT)
        if not ctl.isdigit():
            raise InfraError(f"COMPLAINTS_KAFKA_CONTROLLER_PORT={ctl!r}: expected a port number")

        url = env.get("COMPLAINTS_DATABASE_URL") or DEFAULT_DATABASE_URL
        parts = urlsplit(url)
        if not parts.scheme.startswith("postgres"):
            raise InfraError(f"COMPLAINTS_DATABASE_URL={url!r}: expected postgresql://...")
        try:
            pg_port = parts.port or 5432
        except ValueError as exc:
            raise InfraError(f"COMPLAINTS_DATABASE_URL={url!r}: {exc}") from None

        return cls(
            home=home,
            kafka_host=_loopback(khost),
            kafka_port=int(kport),
            kafka_controller_port=int(ctl),
            pg_host=_loopback(parts.hostname or "127.0.0.1"),
            pg_port=pg_port,
            pg_user=unquote(parts.username or "complaints"),
            pg_password=unquote(parts.password or ""),
            pg_dbname=unquote(parts.path.lstrip("/")) or "complaints",
            kafka_cache=Path(env["COMPLAINTS_KAFKA_CACHE"])
            if env.get("COMPLAINTS_KAFKA_CACHE")
            else None,
        )

    # --- derived paths ------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def kafka_cache_dir(self) -> Path:
        return self.kafka_cache or self.home / "cache" / f"kafka-{KAFKA_VERSION}"

    @property
    def kafka_lib_dir(self) -> Path:
        return self.kafka_cache_dir / "lib"

    @property
    def kafka_data_dir(self) -> Path:
        return self.data_dir / "kafka"

    @property
    def kafka_log_dirs(self) -> Path:
        return self.kafka_data_dir / "log"

    @property
    def kafka_properties(self) -> Path:
        return self.kafka_data_dir / "server.properties"

    @property
    def kafka_logs_dir(self) -> Path:
        return self.logs_dir / "kafka"

    @property
    def kafka_pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def pg_log_file(self) -> Path:
        return self.logs_dir / "postgres.log"

    @property
    def pg_pid_file(self) -> Path:
        return self.run_dir / "postgres.pid"

    @property
    def pg_socket_dir(self) -> Path:
        preferred = self.run_dir / "postgres"
        if len(str(preferred / f".s.PGSQL.{self.pg_port}")) <= _MAX_UNIX_SOCKET_PATH:
            return preferred
        # Deep home folder: unix socket paths are limited to ~107 bytes.
        tag = hashlib.sha1(str(self.home).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"complaints-pg-{tag}"

    # --- client-side strings ------------------------------------------------------------------
    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return (
            f"postgresql://{quote(self.pg_user, safe='')}:{quote(self.pg_password, safe='')}"
            f"@{self.pg_host}:{self.pg_port}/{quote(self.pg_dbname, safe='')}"
        )


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


# --------------------------------------------------------------------------------------------
# Kafka wire protocol: just enough to tell "a Kafka broker that serves metadata" from anything
# else listening on the port, without third-party packages.
# --------------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str | None:
        n = self.take(">h")
        if n < 0:
            return None
        value = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return value


def _kafka_call(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> _Reader:
    client_id = b"complaints-infra"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)

    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by peer")
            buf += chunk
        return buf

    (size,) = struct.unpack(">i", exact(4))
    if not 4 <= size <= 64 * 1024 * 1024:
        raise ConnectionError(f"implausible response size {size}")
    reader = _Reader(exact(size))
    if reader.take(">i") != corr:
        raise ConnectionError("correlation id mismatch")
    return reader


def kafka_probe(host: str, port: int, timeout: float = 2.0) -> dict | None:
    """ApiVersions + Metadata against ``host:port``. Returns ``{"cluster_id", "controller_id",
    "brokers": [(id, host, port)], "topics": [names]}`` or None when nothing answers like a
    Kafka broker (closed port, other protocol, broker still starting)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # ApiVersions v0 (every broker version accepts it).
            r = _kafka_call(sock, 18, 0, 1, b"")
            if r.take(">h") != 0:
                return None
            ranges = {}
            for _ in range(r.take(">i")):
                key, lo, hi = r.take(">h"), r.take(">h"), r.take(">h")
                ranges[key] = (lo, hi)
            if 3 not in ranges:
                return None
            lo, hi = ranges[3]
            version = max(lo, 4)
            if version > min(hi, 8):  # v4..v8: same non-flexible layout for what we read
                return None
            # Metadata: all topics (null array), no auto-creation.
            body = struct.pack(">i?", -1, False)
            if version >= 8:
                body += struct.pack(">??", False, False)
            r = _kafka_call(sock, 3, version, 2, body)
            r.take(">i")  # throttle_time_ms
            brokers = []
            for _ in range(r.take(">i")):
                node_id = r.take(">i")
                bhost = r.string()
                bport = r.take(">i")
                r.string()  # rack
                brokers.append((node_id, bhost, bport))
            cluster_id = r.string()
            controller_id = r.take(">i")
            topics = []
            for _ in range(r.take(">i")):
                r.take(">h")  # error_code
                name = r.string()
                r.take(">?")  # is_internal
                for _ in range(r.take(">i")):
                    r.take(">h")
                    r.take(">i")
                    r.take(">i")
                    if version >= 7:
                        r.take(">i")  # leader_epoch
                    for _ in range(3 if version >= 5 else 2):  # replicas, isr, offline
                        for _ in range(r.take(">i")):
                            r.take(">i")
                if version >= 8:
                    r.take(">i")  # topic_authorized_operations
                topics.append(name)
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return None
    return {
        "cluster_id": cluster_id,
        "controller_id": controller_id,
        "brokers": brokers,
        "topics": sorted(t for t in topics if t),
    }


def _kafka_ready(cfg: InfraConfig) -> dict | None:
    info = kafka_probe(cfg.kafka_host, cfg.kafka_port)
    if info and info["cluster_id"] and info["brokers"]:
        return info
    return None


# --------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise InfraError("java not found (Kafka 4 needs Java 17+): run deploy/local/bootstrap.sh")
    return java


def ensure_kafka_jars(cfg: InfraConfig) -> Path:
    """The broker classpath folder; fetched with Maven when bootstrap.sh has not done it."""
    marker = cfg.kafka_cache_dir / ".complete"
    if marker.exists() and cfg.kafka_lib_dir.is_dir():
        return cfg.kafka_lib_dir
    with _file_lock(cfg.kafka_cache_dir.parent / f".{cfg.kafka_cache_dir.name}.lock"):
        if marker.exists() and cfg.kafka_lib_dir.is_dir():  # fetched while we waited
            return cfg.kafka_lib_dir
        _fetch_kafka_jars(cfg, marker)
    return cfg.kafka_lib_dir


def _fetch_kafka_jars(cfg: InfraConfig, marker: Path) -> None:
    mvn = shutil.which("mvn")
    if not mvn:
        raise InfraError(
            f"no Kafka jars in {cfg.kafka_lib_dir} and no mvn: run deploy/local/bootstrap.sh"
        )
    log.info("fetching Kafka %s jars into %s", KAFKA_VERSION, cfg.kafka_lib_dir)
    tmp = cfg.kafka_cache_dir / "lib.tmp"
    cfg.kafka_cache_dir.mkdir(parents=True, exist_ok=True)
    for stale in (cfg.kafka_lib_dir, tmp):
        shutil.rmtree(stale, ignore_errors=True)
    marker.unlink(missing_ok=True)
    proc = subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        cwd=KAFKA_POM_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0 or not (tmp / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        raise InfraError(
            f"mvn copy-dependencies failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
        )
    tmp.rename(cfg.kafka_lib_dir)
    marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))


SINGLE_NODE = {
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "false",
}
"""What a one-broker KRaft cluster needs: every internal topic with one copy, no waiting for
other members, topics made only by the services (with their settings)."""


def _kafka_server_properties(cfg: InfraConfig) -> str:
    host, port, ctl = cfg.kafka_host, cfg.kafka_port, cfg.kafka_controller_port
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{ctl}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{ctl}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(cfg.kafka_log_dirs),
        "num.partitions": "6",
        **SINGLE_NODE,
        # After a SIGKILL the restarted broker cannot register until the session of its previous
        # incarnation expires (default 9 s + heartbeat): faster restarts for fault tests.
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "1000",
        # Retention is left to the topic configs (no broker-wide log.retention.ms override).
    }
    lines = [
        "# Generated by deploy/local/infra.py on every start; edits are overwritten.",
        *(f"{key}={value}" for key, value in props.items()),
    ]
    return "\n".join(lines) + "\n"


def _kafka_format(cfg: InfraConfig, java: str, classpath: str) -> None:
    """Format the log dir once (KRaft, standalone controller). Never again: the cluster id
    lives in meta.properties and a restart must reuse the same directory."""
    if (cfg.kafka_log_dirs / "meta.properties").exists():
        return
    tool = [java, "-Xmx256m", "-cp", classpath, "kafka.tools.StorageTool"]
    cluster_id = _run([*tool, "random-uuid"], "kafka StorageTool random-uuid", timeout=60)
    cluster_id = cluster_id.stdout.strip().splitlines()[-1]
    log.info("formatting %s (cluster id %s)", cfg.kafka_log_dirs, cluster_id)
    _run(
        [*tool, "format", "--standalone", "-t", cluster_id, "-c", str(cfg.kafka_properties)],
        "kafka StorageTool format",
        timeout=60,
    )


def _kafka_pid(cfg: InfraConfig) -> int | None:
    """Pid of the broker this home started, if it is still running; drops a stale pid file."""
    pid = _read_pid(cfg.kafka_pid_file)
    if pid is None:
        return None
    cmd = _cmdline(pid)
    if _pid_alive(pid) and _KAFKA_MAIN_CLASS in cmd and str(cfg.kafka_properties) in cmd:
        return pid
    log.info("removing stale %s (pid %s)", cfg.kafka_pid_file, pid)
    cfg.kafka_pid_file.unlink(missing_ok=True)
    return None


def _kafka_failure(cfg: InfraConfig, what: str) -> InfraError:
    server_log = cfg.kafka_logs_dir / "server.log"
    out = cfg.kafka_logs_dir / "kafka.out"
    return InfraError(
        f"{what}\n--- last 40 lines of {server_log} ---\n{_tail(server_log)}"
        f"\n--- last 40 lines of {out} ---\n{_tail(out)}"
    )


def _wait_kafka(cfg: InfraConfig, pid: int, deadline: float) -> dict:
    while True:
        info = _kafka_ready(cfg)
        if info:
            return info
        if not _pid_alive(pid):
            cfg.kafka_pid_file.unlink(missing_ok=True)
            raise _kafka_failure(cfg, f"Kafka broker (pid {pid}) exited during start-up")
        if time.monotonic() > deadline:
            raise _kafka_failure(
                cfg,
                f"Kafka broker (pid {pid}) not serving metadata on {cfg.kafka_bootstrap} in time",
            )
        time.sleep(0.25)


def ensure_kafka(cfg: InfraConfig, timeout: float = 60) -> None:
    """Make sure a Kafka broker serves ``cfg.kafka_bootstrap``: reuse whatever Kafka already
    answers there, else format (once) and start the local broker and wait for its metadata."""
    deadline = time.monotonic() + timeout
    with _locked(cfg, "kafka"):
        pid = _kafka_pid(cfg)
        if _kafka_ready(cfg):
            log.info(
                "Kafka already serving %s%s",
                cfg.kafka_bootstrap,
                f" (pid {pid})" if pid else " (not started by this home: reused)",
            )
            return
        if pid is not None:  # ours, still starting (or stuck): wait for it
            log.info("Kafka pid %s is starting; waiting", pid)
            _wait_kafka(cfg, pid, deadline)
            return
        if _port_open(cfg.kafka_host, cfg.kafka_port):
            # Someone else's broker may be starting: give it a moment before giving up.
            give_up = min(deadline, time.monotonic() + 10)
            while time.monotonic() < give_up:
                time.sleep(0.5)
                if _kafka_ready(cfg):
                    log.info("Kafka on %s (not ours) became ready: reused", cfg.kafka_bootstrap)
                    return
            raise InfraError(
                f"port {cfg.kafka_bootstrap} is taken by something that does not answer as a "
                "Kafka broker; stop it or choose another COMPLAINTS_KAFKA_BOOTSTRAP"
            )
        if _port_open(cfg.kafka_host, cfg.kafka_controller_port):
            raise InfraError(
                f"controller port {cfg.kafka_host}:{cfg.kafka_controller_port} is already in "
                "use; set COMPLAINTS_KAFKA_CONTROLLER_PORT"
            )

        java = _java()
        classpath = f"{ensure_kafka_jars(cfg)}/*"
        for folder in (cfg.kafka_log_dirs, cfg.kafka_logs_dir, cfg.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        cfg.kafka_properties.write_text(_kafka_server_properties(cfg))
        _kafka_format(cfg, java, classpath)

        started = time.monotonic()
        out = open(cfg.kafka_logs_dir / "kafka.out", "ab")
        try:
            proc = subprocess.Popen(
                [
                    java,
                    f"-Xms{cfg.kafka_heap}",
                    f"-Xmx{cfg.kafka_heap}",
                    "-XX:+UseG1GC",
                    "-XX:MaxGCPauseMillis=20",
                    "-Djava.awt.headless=true",
                    f"-Dkafka.logs.dir={cfg.kafka_logs_dir}",
                    f"-Dlog4j2.configurationFile={KAFKA_LOG4J_CONFIG}",
                    "-cp",
                    classpath,
                    _KAFKA_MAIN_CLASS,
                    str(cfg.kafka_properties),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cfg.kafka_data_dir,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            out.close()
        _CHILDREN.append(proc)
        cfg.kafka_pid_file.write_text(f"{proc.pid}\n")
        log.info("Kafka starting (pid %s) on %s", proc.pid, cfg.kafka_bootstrap)
        try:
            _wait_kafka(cfg, proc.pid, deadline)
        except InfraError:
            if _pid_alive(proc.pid):  # started here and not ready in time: don't leave it half-up
                _terminate(proc.pid, grace=10)
            cfg.kafka_pid_file.unlink(missing_ok=True)
            raise
        log.info("Kafka ready on %s in %.1fs", cfg.kafka_bootstrap, time.monotonic() - started)


def stop_kafka(cfg: InfraConfig, grace: float = 30) -> bool:
    """SIGTERM (controlled shutdown) the broker of this home; SIGKILL after ``grace`` s.
    Returns whether something was stopped."""
    with _locked(cfg, "kafka"):
        pid = _kafka_pid(cfg)
        if pid is None:
            return False
        log.info("stopping Kafka (pid %s)", pid)
        _terminate(pid, grace)
        cfg.kafka_pid_file.unlink(missing_ok=True)
        return True


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
            # Ours and running (maybe still starting): wait for the port, then init (idempotent).
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
            return

        for folder in (cfg.data_dir, cfg.logs_dir, cfg.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        _pg_initdb(cfg, bin_dir)
        socket_dir = cfg.pg_socket_dir
        socket_dir.mkdir(parents=True, exist_ok=True)
        cfg.pg_log_file.touch()
        _chown_to_pg(socket_dir, cfg.pg_log_file)
        if (
            os.geteuid() == 0
            and cfg.pg_data_dir.stat().st_uid != pwd.getpwnam(_PG_SYSTEM_USER).pw_uid
        ):
            _chown_to_pg(cfg.pg_data_dir, recursive=True)  # e.g. restored/copied as root
        _clear_stale_postmaster_pid(cfg)

        options = (
            f"-p {cfg.pg_port} -k {socket_dir} -c listen_addresses={cfg.pg_host} "
            "-c max_connections=200"
        )
        started = time.monotonic()
        log.info("starting PostgreSQL on %s:%s", cfg.pg_host, cfg.pg_port)
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


# --------------------------------------------------------------------------------------------
# whole stack
# --------------------------------------------------------------------------------------------


def up(cfg: InfraConfig, timeout: float = 60) -> None:
    """``ensure_postgres`` then ``ensure_kafka``."""
    ensure_postgres(cfg, timeout=max(30, timeout / 2))
    ensure_kafka(cfg, timeout=timeout)


def stop_all(cfg: InfraConfig) -> None:
    """Stop this home's broker and PostgreSQL; data is kept. Harmless when nothing runs."""
    errors = []
    for stop in (stop_kafka, stop_postgres):
        try:
            stop(cfg)
        except Exception as exc:  # stop the other one anyway
            errors.append(f"{stop.__name__}: {exc}")
    if errors:
        raise InfraError("; ".join(errors))


def reset(cfg: InfraConfig) -> None:
    """Stop everything and delete ``home/data`` (topics, cluster id, databases). Keeps the jar
    cache and the logs."""
    stop_all(cfg)
    data = cfg.data_dir
    if cfg.home.resolve() == Path("/"):
        raise InfraError(f"refusing to delete {data} (COMPLAINTS_HOME is /)")
    if data.exists():
        log.info("deleting %s", data)
        shutil.rmtree(data)
    for pid_file in (cfg.kafka_pid_file, cfg.pg_pid_file):
        pid_file.unlink(missing_ok=True)


def status(cfg: InfraConfig) -> dict:
    """What answers on the configured ports and what this home started (JSON-serialisable)."""
    kafka_pid = _kafka_pid(cfg)
    info = kafka_probe(cfg.kafka_host, cfg.kafka_port)
    pg_pid = _pg_running_pid(cfg)
    return {
        "home": str(cfg.home),
        "kafka": {
            "bootstrap": cfg.kafka_bootstrap,
            "running": bool(info and info["brokers"]),
            "pid": kafka_pid,  # None: not started by this home (or not running)
            "cluster_id": info["cluster_id"] if info else None,
            "topics": info["topics"] if info else [],
            "formatted": (cfg.kafka_log_dirs / "meta.properties").exists(),
            "jars_cached": (cfg.kafka_cache_dir / ".complete").exists(),
        },
        "postgres": {
            "address": f"{cfg.pg_host}:{cfg.pg_port}",
            "running": _port_open(cfg.pg_host, cfg.pg_port),
            "pid": pg_pid,
            "initialized": (cfg.pg_data_dir / "PG_VERSION").exists(),
            "database_url": cfg.database_url,
        },
    }


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.infra",
        description="Local Kafka + PostgreSQL for the complaint platform (no Docker).",
    )
    parser.add_argument("command", choices=["up", "down", "reset", "status", "env"])
    parser.add_argument("--only", choices=["kafka", "postgres"], help="up/down just one of them")
    parser.add_argument("--timeout", type=float, default=60, help="start-up timeout (s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[infra] %(message)s", stream=sys.stderr)
    cfg = InfraConfig.from_env()
    try:
        if args.command == "up":
            if args.only == "kafka":
                ensure_kafka(cfg, timeout=args.timeout)
            elif args.only == "postgres":
                ensure_postgres(cfg, timeout=max(30, args.timeout / 2))
            else:
                up(cfg, timeout=args.timeout)
            print(json.dumps(status(cfg), indent=2))
        elif args.command == "down":
            if args.only == "kafka":
                stop_kafka(cfg)
            elif args.only == "postgres":
                stop_postgres(cfg)
            else:
                stop_all(cfg)
        elif args.command == "reset":
            reset(cfg)
        elif args.command == "status":
            print(json.dumps(status(cfg), indent=2))
        elif args.command == "env":
            print(f"export COMPLAINTS_HOME={cfg.home}")
            print(f"export COMPLAINTS_KAFKA_BOOTSTRAP={cfg.kafka_bootstrap}")
            print(f"export COMPLAINTS_KAFKA_CONTROLLER_PORT={cfg.kafka_controller_port}")
            print(f"export COMPLAINTS_DATABASE_URL={cfg.database_url}")
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())

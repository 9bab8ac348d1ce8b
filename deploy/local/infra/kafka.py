"""The local Kafka: a single-node KRaft broker from Maven Central jars, and a wire-protocol probe
that tells a broker serving metadata from anything else on the port."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

from deploy.local.infra.config import (
    _KAFKA_MAIN_CLASS,
    DEPENDENCY_PLUGIN,
    KAFKA_LOG4J_CONFIG,
    KAFKA_POM_DIR,
    KAFKA_VERSION,
    InfraConfig,
    InfraError,
)
from deploy.local.infra.processes import (
    _CHILDREN,
    _cmdline,
    _file_lock,
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
            version = _metadata_version(sock)
            if version is None:
                return None
            # Metadata: all topics (null array), no auto-creation.
            body = struct.pack(">i?", -1, False)
            if version >= 8:
                body += struct.pack(">??", False, False)
            return _read_metadata(_kafka_call(sock, 3, version, 2, body), version)
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return None


def _metadata_version(sock: socket.socket) -> int | None:
    """The Metadata version to ask (v4..v8: the same non-flexible layout for what is read),
    from ApiVersions v0 (every broker version accepts it); None if the broker offers none."""
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
    return None if version > min(hi, 8) else version


def _read_metadata(r: _Reader, version: int) -> dict:
    """The brokers, cluster id, controller and topic names of a Metadata response."""
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
        "# Generated by deploy/local/infra on every start; edits are overwritten.",
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
        if _kafka_reused(cfg, deadline):
            return
        java = _java()
        classpath = f"{ensure_kafka_jars(cfg)}/*"
        for folder in (cfg.kafka_log_dirs, cfg.kafka_logs_dir, cfg.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        cfg.kafka_properties.write_text(_kafka_server_properties(cfg))
        _kafka_format(cfg, java, classpath)
        started = time.monotonic()
        proc = _start_kafka(cfg, java, classpath)
        log.info("Kafka starting (pid %s) on %s", proc.pid, cfg.kafka_bootstrap)
        try:
            _wait_kafka(cfg, proc.pid, deadline)
        except InfraError:
            if _pid_alive(proc.pid):  # started here and not ready in time: don't leave it half-up
                _terminate(proc.pid, grace=10)
            cfg.kafka_pid_file.unlink(missing_ok=True)
            raise
        log.info("Kafka ready on %s in %.1fs", cfg.kafka_bootstrap, time.monotonic() - started)


def _kafka_reused(cfg: InfraConfig, deadline: float) -> bool:
    """Whether a broker already serves (or, ours, is starting to serve) the bootstrap address;
    an error when its ports are taken by something else."""
    pid = _kafka_pid(cfg)
    if _kafka_ready(cfg):
        log.info(
            "Kafka already serving %s%s",
            cfg.kafka_bootstrap,
            f" (pid {pid})" if pid else " (not started by this home: reused)",
        )
        return True
    if pid is not None:  # ours, still starting (or stuck): wait for it
        log.info("Kafka pid %s is starting; waiting", pid)
        _wait_kafka(cfg, pid, deadline)
        return True
    if _port_open(cfg.kafka_host, cfg.kafka_port):
        # Someone else's broker may be starting: give it a moment before giving up.
        give_up = min(deadline, time.monotonic() + 10)
        while time.monotonic() < give_up:
            time.sleep(0.5)
            if _kafka_ready(cfg):
                log.info("Kafka on %s (not ours) became ready: reused", cfg.kafka_bootstrap)
                return True
        raise InfraError(
            f"port {cfg.kafka_bootstrap} is taken by something that does not answer as a "
            "Kafka broker; stop it or choose another COMPLAINTS_KAFKA_BOOTSTRAP"
        )
    if _port_open(cfg.kafka_host, cfg.kafka_controller_port):
        raise InfraError(
            f"controller port {cfg.kafka_host}:{cfg.kafka_controller_port} is already in "
            "use; set COMPLAINTS_KAFKA_CONTROLLER_PORT"
        )
    return False


def _start_kafka(cfg: InfraConfig, java: str, classpath: str) -> subprocess.Popen[bytes]:
    """Start the broker of this home, detached; its output appended to ``kafka.out``."""
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
    return proc


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

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
import json
import logging
import shutil
import sys
from pathlib import Path

from deploy.local.infra.config import (
    _KAFKA_MAIN_CLASS,
    _MAX_UNIX_SOCKET_PATH,
    _PG_SUPERUSER,
    _PG_SYSTEM_USER,
    DEFAULT_DATABASE_URL,
    DEFAULT_KAFKA_BOOTSTRAP,
    DEFAULT_KAFKA_CONTROLLER_PORT,
    DEPENDENCY_PLUGIN,
    KAFKA_LOG4J_CONFIG,
    KAFKA_POM_DIR,
    KAFKA_VERSION,
    POSTGRES_INIT_SQL,
    REPO_ROOT,
    InfraConfig,
    InfraError,
    _loopback,
)
from deploy.local.infra.kafka import (
    SINGLE_NODE,
    _fetch_kafka_jars,
    _java,
    _kafka_call,
    _kafka_failure,
    _kafka_format,
    _kafka_pid,
    _kafka_ready,
    _kafka_server_properties,
    _Reader,
    _wait_kafka,
    ensure_kafka,
    ensure_kafka_jars,
    kafka_probe,
    stop_kafka,
)
from deploy.local.infra.postgres import (
    _as_pg_owner,
    _chown_to_pg,
    _clear_stale_postmaster_pid,
    _pg_apply_init,
    _pg_bin_dir,
    _pg_initdb,
    _pg_running_pid,
    _psql,
    ensure_postgres,
    stop_postgres,
)
from deploy.local.infra.processes import (
    _CHILDREN,
    _clean_env,
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

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_KAFKA_BOOTSTRAP",
    "DEFAULT_KAFKA_CONTROLLER_PORT",
    "DEPENDENCY_PLUGIN",
    "KAFKA_LOG4J_CONFIG",
    "KAFKA_POM_DIR",
    "KAFKA_VERSION",
    "POSTGRES_INIT_SQL",
    "REPO_ROOT",
    "SINGLE_NODE",
    "_CHILDREN",
    "_KAFKA_MAIN_CLASS",
    "_MAX_UNIX_SOCKET_PATH",
    "_PG_SUPERUSER",
    "_PG_SYSTEM_USER",
    "InfraConfig",
    "InfraError",
    "_Reader",
    "_as_pg_owner",
    "_chown_to_pg",
    "_clean_env",
    "_clear_stale_postmaster_pid",
    "_cmdline",
    "_fetch_kafka_jars",
    "_file_lock",
    "_java",
    "_kafka_call",
    "_kafka_failure",
    "_kafka_format",
    "_kafka_pid",
    "_kafka_ready",
    "_kafka_server_properties",
    "_locked",
    "_loopback",
    "_main",
    "_pg_apply_init",
    "_pg_bin_dir",
    "_pg_initdb",
    "_pg_running_pid",
    "_pid_alive",
    "_port_open",
    "_psql",
    "_read_pid",
    "_run",
    "_tail",
    "_terminate",
    "_wait_kafka",
    "ensure_kafka",
    "ensure_kafka_jars",
    "ensure_postgres",
    "kafka_probe",
    "log",
    "reset",
    "status",
    "stop_all",
    "stop_kafka",
    "stop_postgres",
    "up",
]

log = logging.getLogger("deploy.local.infra")


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

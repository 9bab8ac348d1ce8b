"""Configuration of the local infrastructure: where its state lives, its ports and URLs, and the
versions it runs."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

log = logging.getLogger("deploy.local.infra")


REPO_ROOT = Path(__file__).resolve().parents[3]
KAFKA_VERSION = "4.1.1"
KAFKA_POM_DIR = REPO_ROOT / "deploy" / "local" / "kafka"
KAFKA_LOG4J_CONFIG = KAFKA_POM_DIR / "log4j2.yaml"
POSTGRES_INIT_SQL = REPO_ROOT / "deploy" / "postgres" / "init.sql"
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_KAFKA_CONTROLLER_PORT = 9093
DEFAULT_DATABASE_URL = "postgresql://complaints:complaints@127.0.0.1:55432/complaints"
DEFAULT_PG_MAX_WAL_SIZE = "8GB"  # write-ahead log between checkpoints (see InfraConfig)

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


def _pg_size(env: Mapping[str, str], name: str, default: str, units: str, examples: str) -> str:
    """A PostgreSQL size setting from ``env`` (else ``default``): digits and one of ``units``,
    nothing else, since it goes on ``pg_ctl``'s command line; refused naming the variable."""
    value = env.get(name) or default
    if not re.fullmatch(rf"[0-9]+({units})", value):
        raise InfraError(f"{name}={value!r}: expected a size such as {examples}")
    return value


def default_shared_buffers() -> str:
    """A quarter of this machine's memory in MB, between 128MB and 4GB."""
    try:
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (ValueError, OSError):
        return "128MB"
    return f"{max(128, min(4096, memory_mb // 4))}MB"


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
    # PostgreSQL's buffer cache (its default, 128MB, holds a tenth of the reporting tables of a
    # million complaints): COMPLAINTS_PG_SHARED_BUFFERS, else a quarter of the memory (at most
    # 4GB, at least 128MB), PostgreSQL's own advice for a server of 1GB or more.
    pg_shared_buffers: str = field(default_factory=default_shared_buffers)
    # How much write-ahead log PostgreSQL lets accumulate before a checkpoint
    # (COMPLAINTS_PG_MAX_WAL_SIZE). At its default, 1GB, the heavy phases of ``make bench``
    # (rebuilds, seeding 100,000 timers, loading a million complaints) started checkpoints
    # 11-95 s apart ("checkpoints are occurring too frequently"), each writing up to 120,000
    # buffers while the next figure was measured, and each followed by full page images in
    # the log for every page written again. At 8GB they come with ``checkpoint_timeout``
    # (5 min) under such writes too (bench/README.md, "Checkpoints, the live gate…"). The log
    # takes up to this much disk between checkpoints.
    pg_max_wal_size: str = DEFAULT_PG_MAX_WAL_SIZE
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

        shared_buffers = _pg_size(
            env,
            "COMPLAINTS_PG_SHARED_BUFFERS",
            default_shared_buffers(),
            "kB|MB|GB",
            "1GB or 512MB",
        )
        max_wal_size = _pg_size(
            env, "COMPLAINTS_PG_MAX_WAL_SIZE", DEFAULT_PG_MAX_WAL_SIZE, "MB|GB", "8GB or 2048MB"
        )

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
            pg_shared_buffers=shared_buffers,
            pg_max_wal_size=max_wal_size,
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

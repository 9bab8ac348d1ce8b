"""One configuration surface: ``COMPLAINTS_*`` environment variables, the same names everywhere.

Every service checks its configuration when it starts (``load_settings``): a value that does not
parse, and outside local mode every missing or unsafe secret (a development key, the development
token secret, a default database password), is named with the reason and the process exits
non-zero at once — never a service that reports healthy and then answers 500.
"""

from __future__ import annotations

import contextlib
import os
import re
import ssl
import sys
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import ClassVar, Literal, NamedTuple, TypeVar
from urllib.parse import unquote, urlsplit

from aiokafka.helpers import create_ssl_context
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "COMPLAINTS_"
EXIT_CONFIG = 78  # sysexits.h EX_CONFIG: "configuration error"

DEV_STAFF_TOKEN_SECRET = "dev-staff-secret-only-for-local-mode"
"""Signs staff tokens in local mode. It is in the repository, so anyone can mint tokens with it."""

DEFAULT_DB_PASSWORDS = frozenset({"complaints", "postgres", "password", "analyst", "changeme"})
"""Passwords of the development setup and the usual defaults: refused outside local mode."""

DEV_VAULT_PEPPER = "dev-vault-pepper-only-for-local-mode"
"""Keys complainant references in local mode. Public in the repository: anyone could compute
the reference of a phone number with it."""

MIN_SECRET_LENGTH = 32
"""Shortest staff token secret accepted outside local mode (HS256: 256 bits of key)."""


class Environment(StrEnum):
    """``local`` accepts the development credentials; ``production`` refuses them."""

    LOCAL = "local"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Settings every service reads. Each service subclasses it for its own port and knobs."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # Whether this service verifies staff tokens (then it needs the token secret).
    uses_staff_tokens: ClassVar[bool] = False

    env: Environment = Environment.LOCAL
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: str = "postgresql://complaints:complaints@127.0.0.1:55432/complaints"
    topic_events: str = "complaints.events"
    topic_submissions: str = "complaints.submissions"
    topic_deadletter: str = "complaints.deadletter"
    # Producers' watermarks (contracts.watermarks): kept an hour, only the latest matters.
    topic_watermarks: str = "complaints.watermarks"
    # How often a relay that publishes watermarks (the workflow's) says how far its decisions
    # are in the log while it has nothing else to publish: the floor of the SLA's alerts'
    # lateness. Each round costs a few statements and a write to Kafka; at 20 ms, about a
    # tenth of a core of this 2-core machine while idle (bench/README.md, "SLA timers").
    watermark_interval_s: float = 0.02
    events_partitions: int = 6
    # Kafka for real deployments (docs/operations.md, "Kafka for real deployments"): how the
    # clients authenticate and encrypt, and how many copies of each topic the brokers keep.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    # PEM files. No CA file: the system's trusted CAs verify the brokers. A client certificate
    # (and its key, unless the certificate file holds it) only where the brokers require one.
    kafka_ssl_cafile: str = ""
    kafka_ssl_certfile: str = ""
    kafka_ssl_keyfile: str = ""
    kafka_ssl_key_password: str = ""
    # Topics are created with these; existing topics with fewer are refused at start.
    # acks=all waits for the in-sync replicas, and a write is refused while fewer than
    # min.insync.replicas of them are in sync: 3 and 2 survive one broker lost.
    kafka_replication_factor: int = 1
    kafka_min_insync_replicas: int = 1
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    # ``json`` (one object per line, for log collectors) or ``text`` (for a person reading).
    log_format: Literal["json", "text"] = "json"
    # How often each service refreshes the gauges it computes (consumer lag, backlogs, timers).
    metrics_interval_s: float = 5.0
    db_pool_size: int = 10
    # A copy stopped inside a transaction (a hung process, a paused machine) keeps its locks,
    # and a complaint it locked waits with it: its connection stays open, so PostgreSQL would
    # not notice for hours. PostgreSQL ends a session idle inside a transaction this long; the
    # transaction rolls back and the copy retries on a new connection. No transaction here
    # waits on the application for more than seconds (a batch's fold, a report's other
    # period). 0: never.
    db_idle_in_transaction_s: float = 30.0
    # Rebuilds (services.runtime.builder): how often each copy looks for a generation to
    # build, how many records a batch of the builder holds, and how close to the log's end
    # the new generation must be before the swap (which then catches up under the live lock).
    rebuild_poll_s: float = 1.0
    rebuild_batch: int = 5000
    rebuild_swap_lag: int = 2000
    # How long the swap waits for readers to let go of the stable views before it lets go
    # itself and tries again. Below PostgreSQL's deadlock_timeout (1 s), so that when a
    # reader holding one view waits for another the swap already holds, the swap gives way,
    # never the reader; and a reader whose work spans connections (the monthly report's
    # earlier periods, read in its snapshot) can never wait on the swap for good.
    rebuild_swap_lock_timeout_s: float = 0.5
    # A projection whose rows are keyed by complaint (``parallel_build``) is built by this
    # many lanes at once, each reading its own share of the partitions: one lane folds while
    # another waits for PostgreSQL.
    rebuild_lanes: int = 2
    # Each lane in a process of its own (services.runtime.lanes), so that the lanes fold on
    # as many cores as the machine has; false: the lanes share the service's one process.
    rebuild_lane_processes: bool = True
    # What this copy runs. ``all``: its HTTP API, consumers, rebuilds, outbox relay and
    # background tasks. ``http``: its HTTP API only, with copies of role ``all`` beside it
    # that consume: under load the consumers take no share of the core that answers requests
    # (intake's public copy in docker-compose.yml and ``make up``; docs/operations.md,
    # "Copies that only serve HTTP").
    role: Literal["all", "http"] = "all"
    # How long a producer may wait for the broker's acknowledgement before the caller is told
    # the write failed (intake answers 503 then, never a false 202).
    publish_timeout_s: float = 10.0
    # Signs staff bearer tokens. Empty in local mode means the development secret.
    staff_token_secret: str = ""
    # Several secrets at once, by key id (JSON {"2026-11": "…", "2026-05": "…"}): tokens carry
    # the id of the secret that signed them and any listed secret verifies. New tokens are
    # signed by the secret staff_token_key_id names, else by staff_token_secret (tokens without
    # a key id, which only it verifies), else by the first listed. This is how the secret is
    # rotated without an outage (docs/operations.md, "Rotating credentials").
    staff_token_secrets: dict[str, str] = {}
    staff_token_key_id: str = ""
    # The secret pepper of complainant references (services.runtime.vault): a reference is the
    # HMAC-SHA256 of the normalised phone under it. Empty in local mode means the development
    # pepper. Never change it on a running system: every stored reference would stop matching
    # (docs/operations.md, "Personal data").
    vault_pepper: str = ""
    # Complainants whose every complaint closed more than this many years ago are erased by
    # the workflow's daily retention job (0: never).
    retention_years: float = 3.0
    # How often the retention job looks (seconds; a day).
    retention_interval_s: float = 86400.0
    # How long the submissions topic keeps the channels' records (they are in clear): long
    # enough for intake to be down a while, short enough not to be a second register. Applied
    # when the topic is created and on every start.
    submissions_retention_ms: int = 7 * 24 * 3600 * 1000

    @property
    def submissions_deadletter_topic(self) -> str:
        """Where intake's submissions processor dead-letters a record it cannot process: apart
        from ``complaints.deadletter`` (kept forever) because the record is in clear, and kept
        only as long as the submissions topic."""
        return f"{self.topic_submissions}.deadletter"

    def problems(self) -> list[Problem]:
        """Every missing or unsafe variable for the mode the service runs in (empty: fine).

        Local mode accepts the development credentials; any other mode refuses them. Services
        add their own variables (``super().problems() + [...]``).
        """
        kafka = self.kafka_problems()
        if self.env is Environment.LOCAL:
            return kafka
        found = [*kafka, *_database_url_problems(self.database_url), *self._pepper_problems()]
        if self.uses_staff_tokens:
            found += self._token_problems()
        return found

    def warnings(self) -> list[Problem]:
        """Variables that are allowed but unsafe for the mode (printed at start, not refused).

        Production with a single copy of the log, or with no room for a broker to be lost,
        is allowed (the one-broker compose file runs like that) but said out loud.
        """
        if self.env is Environment.LOCAL:
            return []
        found = []
        rf, isr = self.kafka_replication_factor, self.kafka_min_insync_replicas
        if rf == 1:
            found.append(
                Problem(
                    variable("kafka_replication_factor"),
                    "1: the log exists on one broker only; losing its disk loses events "
                    "(3 with COMPLAINTS_KAFKA_MIN_INSYNC_REPLICAS=2 survives one broker lost)",
                )
            )
        elif isr == 1:
            found.append(
                Problem(
                    variable("kafka_min_insync_replicas"),
                    f"1 with replication factor {rf}: an acknowledged write may exist on one "
                    "broker only",
                )
            )
        elif isr >= rf:
            found.append(
                Problem(
                    variable("kafka_min_insync_replicas"),
                    f"{isr} with replication factor {rf}: one broker down stops every write",
                )
            )
        if self.kafka_security_protocol == "PLAINTEXT":
            found.append(
                Problem(
                    variable("kafka_security_protocol"),
                    "PLAINTEXT: events travel unencrypted and any client may write to the log "
                    "(SASL_SSL is the production setting)",
                )
            )
        return found

    def kafka_problems(self) -> list[Problem]:
        """Kafka settings that cannot work together, in any mode."""
        return [*self._sasl_problems(), *self._tls_problems(), *self._count_problems()]

    def _sasl_problems(self) -> list[Problem]:
        """SASL credentials missing for a SASL protocol, or given for another."""
        found = []
        protocol = self.kafka_security_protocol
        sasl = protocol.startswith("SASL_")
        for field in ("kafka_sasl_username", "kafka_sasl_password"):
            value = getattr(self, field)
            if sasl and not value:
                found.append(
                    Problem(
                        variable(field),
                        f"not set; COMPLAINTS_KAFKA_SECURITY_PROTOCOL={protocol} authenticates "
                        f"with {self.kafka_sasl_mechanism}",
                    )
                )
            elif value and not sasl:
                found.append(
                    Problem(
                        variable(field),
                        f"set, but COMPLAINTS_KAFKA_SECURITY_PROTOCOL={protocol} does not use "
                        "SASL (SASL_PLAINTEXT or SASL_SSL would)",
                    )
                )
        return found

    def _tls_problems(self) -> list[Problem]:
        """TLS files given for a protocol without TLS, unreadable, incomplete, or that do not
        load."""
        found = []
        protocol = self.kafka_security_protocol
        tls = protocol.endswith("SSL")
        files = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
        for field in files:
            path = getattr(self, field)
            if not path:
                continue
            if not tls:
                found.append(
                    Problem(
                        variable(field),
                        f"set, but COMPLAINTS_KAFKA_SECURITY_PROTOCOL={protocol} does not use "
                        "TLS (SSL or SASL_SSL would)",
                    )
                )
            elif not os.path.isfile(path) or not os.access(path, os.R_OK):
                found.append(Problem(variable(field), f"{path!r} is not a readable file"))
        if self.kafka_ssl_keyfile and not self.kafka_ssl_certfile:
            found.append(
                Problem(
                    variable("kafka_ssl_keyfile"),
                    "set without COMPLAINTS_KAFKA_SSL_CERTFILE (the client certificate it "
                    "belongs to)",
                )
            )
        if tls and not any(p.variable in {variable(f) for f in files} for p in found):
            try:
                kafka_ssl_context(self)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                found.append(
                    Problem(
                        variable("kafka_ssl_cafile"),
                        f"the TLS files do not load ({exc}); PEM files expected "
                        "(CA file, certificate file, key file)",
                    )
                )
        return found

    def _count_problems(self) -> list[Problem]:
        """Replication, in-sync replicas, partitions, rebuild lanes and timeouts that cannot be."""
        found = []
        rf, isr = self.kafka_replication_factor, self.kafka_min_insync_replicas
        if rf < 1:
            found.append(Problem(variable("kafka_replication_factor"), f"{rf}; at least 1"))
        if isr < 1:
            found.append(Problem(variable("kafka_min_insync_replicas"), f"{isr}; at least 1"))
        elif isr > rf >= 1:
            found.append(
                Problem(
                    variable("kafka_min_insync_replicas"),
                    f"{isr} is more than COMPLAINTS_KAFKA_REPLICATION_FACTOR={rf}: "
                    "every write would be refused",
                )
            )
        if self.events_partitions < 1:
            found.append(
                Problem(variable("events_partitions"), f"{self.events_partitions}; at least 1")
            )
        if self.rebuild_lanes < 1:
            found.append(Problem(variable("rebuild_lanes"), f"{self.rebuild_lanes}; at least 1"))
        if not self.rebuild_swap_lock_timeout_s > 0:
            found.append(
                Problem(
                    variable("rebuild_swap_lock_timeout_s"),
                    f"{self.rebuild_swap_lock_timeout_s}; more than 0 (0 would wait for good)",
                )
            )
        if not self.db_idle_in_transaction_s >= 0:
            found.append(
                Problem(
                    variable("db_idle_in_transaction_s"),
                    f"{self.db_idle_in_transaction_s}; 0 (never) or more",
                )
            )
        return found

    def _pepper_problems(self) -> list[Problem]:
        name, pepper = variable("vault_pepper"), self.vault_pepper
        if not pepper:
            return [Problem(name, "not set; complainant references are keyed with it")]
        if pepper == DEV_VAULT_PEPPER:
            return [Problem(name, "is the development pepper, public in the repository")]
        if len(pepper) < MIN_SECRET_LENGTH:
            return [
                Problem(
                    name, f"{len(pepper)} characters; at least {MIN_SECRET_LENGTH} are required"
                )
            ]
        return []

    def pepper(self) -> bytes:
        """The pepper of complainant references (the development one in local mode only)."""
        if self.vault_pepper:
            return self.vault_pepper.encode()
        if self.env is Environment.LOCAL:
            return DEV_VAULT_PEPPER.encode()
        raise RuntimeError("COMPLAINTS_VAULT_PEPPER is not set")

    def _token_problems(self) -> list[Problem]:
        if not self.staff_token_secrets:
            return _token_secret_problems(variable("staff_token_secret"), self.staff_token_secret)
        found = []
        if self.staff_token_secret:  # still verifying the tokens signed before key ids
            found += _token_secret_problems(variable("staff_token_secret"), self.staff_token_secret)
        for kid, secret in self.staff_token_secrets.items():
            found += _token_secret_problems(f"{variable('staff_token_secrets')}[{kid!r}]", secret)
        if self.staff_token_key_id and self.staff_token_key_id not in self.staff_token_secrets:
            listed = ", ".join(sorted(self.staff_token_secrets))
            found.append(
                Problem(
                    variable("staff_token_key_id"),
                    f"{self.staff_token_key_id!r} is none of the key ids of "
                    f"{variable('staff_token_secrets')} ({listed})",
                )
            )
        return found


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of every Kafka client: verifies the brokers (and their host names)
    against the CA file, else the system's CAs; presents the client certificate if given."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None,
        certfile=settings.kafka_ssl_certfile or None,
        keyfile=settings.kafka_ssl_keyfile or None,
        password=settings.kafka_ssl_key_password or None,
    )
    return context


class Problem(NamedTuple):
    """A configuration variable that keeps a service from starting, and why."""

    variable: str
    reason: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.reason}"


def variable(field: str) -> str:
    """The variable of a settings field: ``database_url`` → ``COMPLAINTS_DATABASE_URL``."""
    return f"{ENV_PREFIX}{field}".upper()


def _database_url_problems(url: str) -> list[Problem]:
    name = variable("database_url")
    try:
        parts = urlsplit(url)
        password = unquote(parts.password) if parts.password is not None else ""
        user = unquote(parts.username or "")
    except ValueError as exc:
        return [Problem(name, f"not a valid URL ({exc})")]
    if not password:
        return [
            Problem(
                name,
                "has no password (postgresql://user:password@host:port/db; "
                "in Docker set COMPLAINTS_DB_PASSWORD)",
            )
        ]
    if password.lower() in DEFAULT_DB_PASSWORDS or password == user:
        known = password.lower() in DEFAULT_DB_PASSWORDS
        what = f"a development default ({password!r})" if known else "the user name"
        return [
            Problem(
                name,
                f"the password is {what}; set a secret one (in Docker: COMPLAINTS_DB_PASSWORD)",
            )
        ]
    return []


def _token_secret_problems(name: str, secret: str) -> list[Problem]:
    if not secret:
        return [Problem(name, "not set; it signs staff tokens (e.g. `openssl rand -hex 32`)")]
    if secret == DEV_STAFF_TOKEN_SECRET:
        return [Problem(name, "is the development secret, public in the repository")]
    if len(secret) < MIN_SECRET_LENGTH:
        return [
            Problem(name, f"{len(secret)} characters; at least {MIN_SECRET_LENGTH} are required")
        ]
    return []


S = TypeVar("S", bound=Settings)


def _field_of(loc: tuple[int | str, ...] | str) -> str:
    return str(loc[0] if isinstance(loc, tuple) and loc else loc)


def read_settings(cls: type[S]) -> tuple[S | None, list[Problem]]:
    """The settings from the environment, and every problem with them.

    A variable that does not parse is reported and then left out (its default applies), so
    that the remaining checks still run and one start names every variable to fix.
    """
    broken: dict[str, Problem] = {}
    for _ in range(len(cls.model_fields) + 1):
        try:
            with _without(p.variable for p in broken.values()):
                settings = cls()
        except ValidationError as exc:
            errors = exc.errors()
            for error in errors:
                field = _field_of(error["loc"])
                rest = ".".join(str(part) for part in error["loc"][1:])
                where = f" (at {rest})" if rest else ""
                broken.setdefault(field, Problem(variable(field), f"{error['msg']}{where}"))
        except SettingsError as exc:  # e.g. a JSON value that is not JSON
            match = re.search(r'field "(\w+)"', str(exc))
            if match is None or variable(match.group(1)) in {p.variable for p in broken.values()}:
                return None, [*broken.values(), Problem(f"{ENV_PREFIX}*", str(exc))]
            cause = f": {exc.__cause__}" if exc.__cause__ else ""
            field = match.group(1)
            broken[field] = Problem(variable(field), f"not valid JSON{cause}")
        else:
            named = {p.variable for p in broken.values()}
            return settings, [
                *broken.values(),
                *(p for p in settings.problems() if p.variable not in named),
            ]
    return None, list(broken.values())


@contextlib.contextmanager
def _without(variables: Iterable[str]) -> Iterator[None]:
    """The process environment without ``variables`` (any case), restored afterwards."""
    names = {v.upper() for v in variables}
    saved = {k: v for k, v in os.environ.items() if k.upper() in names}
    for key in saved:
        del os.environ[key]
    try:
        yield
    finally:
        os.environ.update(saved)


def load_settings(cls: type[S], service: str) -> S:
    """The settings of ``service``, or exit with ``EXIT_CONFIG`` naming every variable to fix."""
    settings, problems = read_settings(cls)
    if settings is None or problems:
        refuse(service, problems, settings)
    assert settings is not None
    for warning in settings.warnings():
        print(f"{service}: warning: {warning}", file=sys.stderr, flush=True)
    return settings


def refuse(service: str, problems: list[Problem], settings: Settings | None = None) -> None:
    """Print every problem on stderr and exit with ``EXIT_CONFIG``."""
    mode = settings.env.value if settings is not None else "?"
    lines = [
        f"{service}: refusing to start (COMPLAINTS_ENV={mode}): "
        f"{len(problems)} configuration variable(s) to fix",
        *(f"  {problem}" for problem in problems),
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
    raise SystemExit(EXIT_CONFIG)

"""One configuration surface: ``COMPLAINTS_*`` environment variables, the same names everywhere."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    """``local`` accepts the development credentials; ``production`` refuses them."""

    LOCAL = "local"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Settings every service reads. Each service subclasses it for its own port and knobs."""

    model_config = SettingsConfigDict(env_prefix="COMPLAINTS_", extra="ignore")

    env: Environment = Environment.LOCAL
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: str = "postgresql://complaints:complaints@127.0.0.1:55432/complaints"
    topic_events: str = "complaints.events"
    topic_submissions: str = "complaints.submissions"
    topic_deadletter: str = "complaints.deadletter"
    events_partitions: int = 6
    host: str = "127.0.0.1"
    log_level: str = "INFO"
    # ``json`` (one object per line, for log collectors) or ``text`` (for a person reading).
    log_format: Literal["json", "text"] = "json"
    # How often each service refreshes the gauges it computes (consumer lag, backlogs, timers).
    metrics_interval_s: float = 5.0
    db_pool_size: int = 10
    # Rebuilds (services.runtime.builder): how often each copy looks for a generation to
    # build, how many records a batch of the builder holds, and how close to the log's end
    # the new generation must be before the swap (which then catches up under the live lock).
    rebuild_poll_s: float = 1.0
    rebuild_batch: int = 5000
    rebuild_swap_lag: int = 2000
    # How long a producer may wait for the broker's acknowledgement before the caller is told
    # the write failed (intake answers 503 then, never a false 202).
    publish_timeout_s: float = 10.0
    # Signs staff bearer tokens. Empty in local mode means the development secret.
    staff_token_secret: str = ""

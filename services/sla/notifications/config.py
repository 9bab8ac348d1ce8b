"""Who hears of which alert: the alert kinds and the notifications file (targets, rules,
delivery), checked with every fault named."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts import ComplaintReceived
from contracts.lifecycle import (
    ComplaintEscalated,
    ComplaintOfficeTransferred,
    EscalationLevel,
    MajorComplaintFlagged,
    Role,
)
from contracts.sla import SlaBreached, SlaWarning

HERE = Path(__file__).parents[1]  # the SLA service's directory


DEFAULT_FILE = HERE / "notifications.yaml"


class AlertKind(StrEnum):
    """Which kind of alert a delivery reports."""

    WARNING = "warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    MAJOR = "major"

    @property
    def label(self) -> str:
        """The zh-CN label used in messages and on pages."""
        return _ALERT_LABELS[self]


_ALERT_LABELS = {
    AlertKind.WARNING: "即将超时",
    AlertKind.BREACH: "超时",
    AlertKind.ESCALATION: "升级",
    AlertKind.MAJOR: "重大投诉",
}


ALERT_EVENTS: dict[str, AlertKind] = {
    SlaWarning.event_type: AlertKind.WARNING,
    SlaBreached.event_type: AlertKind.BREACH,
    ComplaintEscalated.event_type: AlertKind.ESCALATION,
    MajorComplaintFlagged.event_type: AlertKind.MAJOR,
}
"""The event type of each alert kind (what the notifier consumes, with the office events)."""


OFFICE_EVENTS = frozenset({ComplaintReceived.event_type, ComplaintOfficeTransferred.event_type})


class NotificationConfigError(ValueError):
    """A notifications file that cannot be used: every problem, each naming its field."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


class Target(BaseModel):
    """One group robot: where it is, how it is signed, whose group it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
            description="Unique; part of every delivery's id, so never rename a live target",
        ),
    ]
    kind: Literal["wecom", "dingtalk"]
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    secret_env: Annotated[
        str,
        Field(
            pattern=r"^[A-Z_][A-Z0-9_]*$",
            description="The environment variable holding the signing secret (never the file)",
        ),
    ]
    office: Annotated[
        str | None, Field(min_length=1, max_length=50, description="管理处; null: every office")
    ] = None
    role: Role
    per_minute: Annotated[
        int | None,
        Field(ge=1, le=1000, description="POSTs a minute at most (default: delivery.per_minute)"),
    ] = None
    throttle_block_s: Annotated[
        float | None,
        Field(
            gt=0,
            le=86400,
            description="How long the robot is left alone after it throttled us "
            "(default: delivery.throttle_block_s)",
        ),
    ] = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return value


class Rule(BaseModel):
    """Which roles hear of one alert kind (for escalations: optionally only some levels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert: AlertKind
    roles: Annotated[list[Role], Field(min_length=1)]
    levels: Annotated[
        list[EscalationLevel] | None,
        Field(description="escalation only: the levels reached that this rule is for"),
    ] = None


class Delivery(BaseModel):
    """How deliveries are sent, paced and retried."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A failing delivery is retried until it is this old (counted from its creation, or from
    # an operator's retry), then dead: a robot down for an hour or a night loses nothing.
    give_up_after_s: Annotated[float, Field(gt=0, le=30 * 86400)] = 86400.0
    # Optionally also dead after this many failed attempts (none by default: by age only).
    max_attempts: Annotated[int | None, Field(ge=1, le=10000)] = None
    backoff_base_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = 600.0
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    # Each robot takes 20 messages a minute (DingTalk, WeCom) and blocks the sender for 10
    # minutes beyond: at most this many POSTs to one target in any minute, and a throttled
    # answer (HTTP 429, WeCom 45009, DingTalk 130101) leaves the target alone this long, not
    # counted as an attempt. A target may set its own (``per_minute``, ``throttle_block_s``).
    per_minute: Annotated[int, Field(ge=1, le=1000)] = 19
    throttle_block_s: Annotated[float, Field(gt=0, le=86400)] = 600.0
    # Alerts recorded longer than this before the notifier first started (its watermark,
    # stored once) are not sent: a notifier deployed on a long log does not post its history;
    # a notifier that stalled reads every alert since it started, however old.
    max_age_s: Annotated[float, Field(gt=0)] = 86400.0


class NotificationFile(BaseModel):
    """The file's shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delivery: Delivery = Delivery()
    rules: list[Rule] = []
    targets: list[Target] = []


@dataclass(frozen=True)
class Notifications:
    """A checked configuration, with each target's secret read from the environment."""

    delivery: Delivery
    rules: tuple[Rule, ...]
    targets: Mapping[str, Target]
    secrets: Mapping[str, str]  # target name → secret

    def per_minute(self, target: str) -> int:
        """At most this many POSTs a minute to ``target``."""
        known = self.targets.get(target)
        return (known.per_minute if known else None) or self.delivery.per_minute

    def throttle_block_s(self, target: str) -> float:
        """How long ``target`` is left alone after it answered that we send too much."""
        known = self.targets.get(target)
        return (known.throttle_block_s if known else None) or self.delivery.throttle_block_s

    def targets_for(
        self, kind: AlertKind, office: str | None, level: EscalationLevel | None = None
    ) -> list[Target]:
        """The targets an alert of ``kind`` about a complaint of ``office`` goes to, by name."""
        roles: set[Role] = set()
        for rule in self.rules:
            if rule.alert is not kind:
                continue
            if rule.levels is not None and (level is None or level not in rule.levels):
                continue
            roles |= set(rule.roles)
        return sorted(
            (
                t
                for t in self.targets.values()
                if t.role in roles and (t.office is None or t.office == office)
            ),
            key=lambda t: t.name,
        )


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def parse_notifications(
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    source: str = "notifications.yaml",
    require_secrets: bool = True,
) -> Notifications:
    """Check a notifications file's text; raise ``NotificationConfigError`` naming every field
    at fault (``targets[1].secret_env: …``).

    ``require_secrets=False`` lets a secret be missing (it is then empty): for reading the
    wiring without running it (the CLI); the service refuses to start without every secret
    (``SlaSettings.problems``)."""
    environ = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NotificationConfigError(source, [f"(file): not YAML: {exc}"]) from None
    try:
        parsed = NotificationFile.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        raise NotificationConfigError(
            source, [f"{_field(e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from None
    problems: list[str] = []
    targets: dict[str, Target] = {}
    secrets: dict[str, str] = {}
    for n, target in enumerate(parsed.targets):
        if target.name in targets:
            problems.append(f"targets[{n}].name: {target.name!r} is used by another target")
        targets[target.name] = target
        secret = environ.get(target.secret_env, "")
        if not secret and require_secrets:
            problems.append(
                f"targets[{n}].secret_env: the environment variable {target.secret_env} "
                "is not set (or empty)"
            )
        secrets[target.name] = secret
    for n, rule in enumerate(parsed.rules):
        if rule.levels is not None and rule.alert is not AlertKind.ESCALATION:
            problems.append(f"rules[{n}].levels: only an escalation rule may name levels")
    if parsed.delivery.backoff_max_s < parsed.delivery.backoff_base_s:
        problems.append("delivery.backoff_max_s: must not be less than backoff_base_s")
    if parsed.delivery.give_up_after_s < parsed.delivery.backoff_max_s:
        problems.append(
            "delivery.give_up_after_s: must not be less than backoff_max_s (a delivery would "
            "die before its next attempt)"
        )
    if problems:
        raise NotificationConfigError(source, problems)
    return Notifications(
        delivery=parsed.delivery, rules=tuple(parsed.rules), targets=targets, secrets=secrets
    )


def load_notifications(
    path: Path = DEFAULT_FILE,
    environ: Mapping[str, str] | None = None,
    *,
    require_secrets: bool = True,
) -> Notifications:
    """Read and check a notifications file (``COMPLAINTS_NOTIFICATIONS_FILE``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotificationConfigError(path, [f"(file): cannot be read: {exc}"]) from None
    return parse_notifications(
        text, environ=environ, source=str(path), require_secrets=require_secrets
    )

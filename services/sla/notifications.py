"""Notifications (通知): who hears of which alert, the robots' message shapes, their signatures.

Pure code, no I/O but reading the configuration file and the environment: the consumer that
turns alerts into deliveries and the worker that sends them are ``services.sla.notifier``.

An *alert* is one of four facts in the log, each delivered to the group robots of the people
responsible for it:

- ``warning``: ``SlaWarning`` (a timer used its warning share, 即将超时),
- ``breach``: ``SlaBreached`` (a deadline or its hard limit was missed, 超时),
- ``escalation``: the workflow's ``ComplaintEscalated`` (升级; the event names the level),
- ``major``: the workflow's ``MajorComplaintFlagged`` (重大投诉, by a rule or by hand).

Who gets what is data (``notifications.yaml``): *targets* are group robots, each of one office
(or of every office) and one role; *rules* say which roles hear of which alert kind. A target
is sent an alert when its role is in a matching rule and its office is the complaint's.

Messages are markdown in the JSON shape of the WeCom group robot (企业微信群机器人) or the
DingTalk custom robot (钉钉自定义机器人), and never carry personal data: the complaint id,
its office, what happened (timers by their zh-CN labels) and the deadline, and a link to the
complaint on the staff workbench — not the owner's name, phone or unit. Free text (the office
name) has its markdown metacharacters escaped.

Throttling: an answer that says the sender is over the robot's rate (HTTP 429, WeCom errcode
45009, DingTalk errcode 130101) is ``RobotAnswer.throttled``: the worker waits the robot's
block window out without counting an attempt.

Signatures: DingTalk's documented scheme (``timestamp`` in ms and
``sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))`` as query parameters). A
WeCom robot has no signature of its own (its URL's key is the credential), so every request
also carries ``X-Complaints-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>``
and ``X-Complaints-Delivery: <delivery id>`` for a relay or receiver that checks them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts import ComplaintReceived, Envelope, EventData
from contracts.lifecycle import (
    ComplaintEscalated,
    ComplaintOfficeTransferred,
    EscalationLevel,
    MajorComplaintFlagged,
    Role,
)
from contracts.sla import SlaBreached, SlaWarning
from contracts.timezone import CHINA

HERE = Path(__file__).parent
DEFAULT_FILE = HERE / "notifications.yaml"

# Fixed forever: a delivery's id is derived from (alert event id, target name) with it.
DELIVERY_NAMESPACE = uuid.UUID("7d3c2a91-5f0e-4b8a-9c61-0e2f4b7a8d15")

SIGNATURE_HEADER = "X-Complaints-Signature"
DELIVERY_HEADER = "X-Complaints-Delivery"


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


# -- configuration ----------------------------------------------------------------------------


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


# -- alerts and their messages ------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    """An alert to deliver: what it is, its title (plain text: DingTalk's notification
    preview) and its message (markdown, no personal data)."""

    kind: AlertKind
    title: str
    text: str
    level: EscalationLevel | None = None


MARKDOWN_SPECIALS = "\\[]()*_#`"


def escape_markdown(text: str) -> str:
    """``text`` shown as itself in the robots' markdown: each of ``\\ [ ] ( ) * _ # ` ``
    preceded by a backslash (an office called ``[A]*园`` is not a link nor emphasis)."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in text)


def _when(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def complaint_link(workbench_url: str | None, complaint_id: uuid.UUID) -> str:
    """The markdown link to the complaint on the staff workbench (nothing without a URL)."""
    if not workbench_url:
        return ""
    return f"\n\n[打开投诉]({workbench_url.rstrip('/')}/complaints/{complaint_id})"


def alert_of(
    envelope: Envelope,
    data: EventData,
    office: str | None,
    *,
    timer_labels: Mapping[str, str] | None = None,
    workbench_url: str | None = None,
) -> Alert | None:
    """The alert an event is, with its message; ``None`` for an event that is no alert.

    ``timer_labels``: each timer's zh-CN name (``reply`` → 答复业主, from the SLA policy; a
    timer without one shows its key); ``workbench_url``: the staff workbench's base URL, for
    a link to the complaint at the end of the message (none without it)."""
    labels = timer_labels or {}

    def timer(name: str) -> str:
        return labels.get(name, name)

    where = office or "未知管理处"
    shown = escape_markdown(where)
    head = f"投诉编号：{envelope.complaint_id}\n\n管理处：{shown}\n\n"
    link = complaint_link(workbench_url, envelope.complaint_id)

    def alert(
        kind: AlertKind, title: str, body: str, level: EscalationLevel | None = None
    ) -> Alert:
        heading = escape_markdown(title)
        return Alert(kind, title, f"### {heading}\n\n{head}{body}{link}", level)

    if isinstance(data, SlaWarning):
        body = (
            f"时限：{escape_markdown(data.target)}\n\n已用时限：{data.share:.0%}\n\n"
            f"截止时间：{_when(data.deadline)}"
        )
        return alert(AlertKind.WARNING, f"【即将超时】{where} 投诉{timer(data.timer)}", body)
    if isinstance(data, SlaBreached):
        which = "硬性时限" if data.hard else "目标时限"
        body = (
            f"时限：{escape_markdown(timer(data.timer))}（{which}）\n\n"
            f"截止时间：{_when(data.deadline)}"
        )
        return alert(AlertKind.BREACH, f"【超时】{where} 投诉{timer(data.timer)}已超{which}", body)
    if isinstance(data, ComplaintEscalated):
        body = (
            f"现由：{data.level.label}负责\n\n未按时完成：{escape_markdown(timer(data.timer))}"
            f"\n\n截止时间：{_when(data.deadline)}"
        )
        title = f"【升级】{where} 投诉已升级至{data.level.label}"
        return alert(AlertKind.ESCALATION, title, body, data.level)
    if isinstance(data, MajorComplaintFlagged):
        # The reason is free text (a person's, for a manual flag): it stays out of the chat.
        body = (
            f"认定依据：{data.rule.label}\n\n认定时间：{_when(envelope.occurred_at)}\n\n"
            "请立即向物业服务项目经理汇报，详情见投诉处理平台。"
        )
        return alert(AlertKind.MAJOR, f"【重大投诉】{where} 请项目经理立即处理", body)
    return None


def delivery_id(alert_event_id: uuid.UUID, target: str) -> uuid.UUID:
    """The id of the delivery of an alert to a target: the same for a replayed alert."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{alert_event_id}:{target}")


# -- the robots' shapes and signatures ------------------------------------------------------------


def payload(kind: Literal["wecom", "dingtalk"], title: str, text: str) -> dict[str, Any]:
    """The JSON body of a markdown message to a WeCom or DingTalk group robot."""
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign``: base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot's URL with ``timestamp`` and ``sign`` (URL-encoded) added."""
    sign = quote(dingtalk_sign(secret, timestamp_ms), safe="")
    joiner = "&" if urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def complaints_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """``X-Complaints-Signature``: ``t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256)
    return f"t={timestamp_s},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class Request:
    """One signed POST, ready to send."""

    url: str
    body: bytes
    headers: dict[str, str]


def signed_request(
    target: Target, secret: str, delivery: uuid.UUID, title: str, text: str, now: datetime
) -> Request:
    """The POST of a delivery to its target at ``now``, signed both ways."""
    body = orjson.dumps(payload(target.kind, title, text))
    stamp_ms = int(now.timestamp() * 1000)
    url = dingtalk_url(target.url, secret, stamp_ms) if target.kind == "dingtalk" else target.url
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        DELIVERY_HEADER: str(delivery),
        SIGNATURE_HEADER: complaints_signature(secret, stamp_ms // 1000, body),
    }
    return Request(url=url, body=body, headers=headers)


THROTTLED_ERRCODES: dict[str, frozenset[int]] = {
    "wecom": frozenset({45009}),  # 接口调用超过限制 (20 messages a minute per robot)
    "dingtalk": frozenset({130101}),  # send too fast (20 a minute, then blocked 10 minutes)
}
"""The ``errcode`` with which each robot says the sender is over its rate limit."""


@dataclass(frozen=True)
class RobotAnswer:
    """What a robot's answer means: ``error`` ``None`` for delivered; ``throttled`` when the
    robot refused it for the rate (HTTP 429 or its rate-limit errcode): not the message's
    fault, so not counted as an attempt."""

    error: str | None
    throttled: bool = False


def _errcode(value: object) -> int | None:
    """An ``errcode`` as a number (robots and relays send it as a number or a string)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return -1  # something else: not success


def robot_answer(kind: Literal["wecom", "dingtalk"], status: int, body: bytes) -> RobotAnswer:
    """The meaning of a robot's HTTP answer.

    Both robots answer HTTP 200 with ``{"errcode": 0, ...}`` on success and a non-zero
    ``errcode`` (bad key, bad signature, rate limit) otherwise, also with HTTP 200; a relay
    or gateway in front may answer HTTP 429 for the rate.
    """
    text = body[:200].decode("utf-8", "replace")
    if status == 429:
        return RobotAnswer(f"HTTP 429 (throttled): {text}", throttled=True)
    if not 200 <= status < 300:
        return RobotAnswer(f"HTTP {status}: {text}")
    try:
        answer = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return RobotAnswer(None)  # a relay that answers 2xx without JSON took it
    if not isinstance(answer, dict):
        return RobotAnswer(None)
    code = _errcode(answer.get("errcode"))
    if code in (0, None):
        return RobotAnswer(None)
    message = f"{kind} errcode {answer.get('errcode')}: {str(answer.get('errmsg', ''))[:200]}"
    if code in THROTTLED_ERRCODES[kind]:
        return RobotAnswer(f"{message} (throttled)", throttled=True)
    return RobotAnswer(message)


def robot_error(kind: Literal["wecom", "dingtalk"], status: int, body: bytes) -> str | None:
    """Why a robot's answer is a failure, or ``None`` for a delivered message."""
    return robot_answer(kind, status, body).error


def backoff_s(attempts: int, delivery: Delivery, rand: random.Random | None = None) -> float:
    """Seconds to wait after ``attempts`` failed attempts: ``base * 2**(attempts-1)``, at most
    ``backoff_max_s``, times a random factor in [0.5, 1] (so copies do not retry in step)."""
    growth = 2.0 ** min(max(attempts - 1, 0), 30)  # past 2**30 the ceiling holds anyway
    ceiling = min(delivery.backoff_base_s * growth, delivery.backoff_max_s)
    return ceiling * (rand or random).uniform(0.5, 1.0)

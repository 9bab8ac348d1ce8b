"""The robots' shapes and signatures (WeCom, DingTalk, a signed webhook), what their answers
mean, and the backoff between attempts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import orjson

from services.sla.notifications.config import (
    Delivery,
    Target,
)

SIGNATURE_HEADER = "X-Complaints-Signature"


DELIVERY_HEADER = "X-Complaints-Delivery"


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

"""Structured logs: one JSON object per line, carrying ``correlation_id`` and ``complaint_id``.

The ids come from context variables, so every line logged while a request or an event is being
handled carries them without each call site passing them:

- the HTTP middleware (``services.runtime.http``) binds a request's correlation id (the
  ``X-Correlation-Id`` header, or a new one) and the complaint the request is about;
- the projection consumer binds each event's ``correlation_id`` and ``complaint_id`` while it
  applies it.

No personal data: call sites log ids, types and counts, never names, phone numbers or
descriptions; as a second line of defence every string that looks like a mainland mobile
number is masked (``138****5678``) before it is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)
COMPLAINT_ID: ContextVar[str | None] = ContextVar("complaint_id", default=None)

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
# Chatty below INFO and with nothing an operator needs (aiokafka logs fetched records at DEBUG).
_CAPPED_AT_INFO = ("aiokafka", "asyncio", "httpcore", "httpx", "multipart", "watchfiles")


def redact(text: str) -> str:
    """Mask anything that looks like a mainland mobile number: ``138****5678``."""
    return _MOBILE.sub(r"\1****\2", text)


@contextmanager
def bound(
    *, correlation_id: object | None = None, complaint_id: object | None = None
) -> Iterator[None]:
    """Bind the ids for the lines logged inside the block (``None`` leaves one as it is)."""
    tokens = []
    if correlation_id is not None:
        tokens.append((CORRELATION_ID, CORRELATION_ID.set(str(correlation_id))))
    if complaint_id is not None:
        tokens.append((COMPLAINT_ID, COMPLAINT_ID.set(str(complaint_id))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


# Characters JSON may carry raw but line-oriented readers treat as line ends (a request path
# can hold anything): escaped, so one record stays one line.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def one_line(line: str) -> str:
    """``line`` with every line-breaking character escaped, and encodable as UTF-8."""
    return line.translate(_LINE_BREAKS).encode("utf-8", "backslashreplace").decode("utf-8")


def _jsonable(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "service", "logger", "msg", "correlation_id", "complaint_id", ...}``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        correlation_id = CORRELATION_ID.get()
        if correlation_id is not None:
            out["correlation_id"] = correlation_id
        complaint_id = COMPLAINT_ID.get()
        if complaint_id is not None:
            out["complaint_id"] = complaint_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = _jsonable(value)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        return one_line(json.dumps(out, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """One readable line (``COMPLAINTS_LOG_FORMAT=text``), ids appended, numbers masked."""

    def __init__(self, service: str) -> None:
        super().__init__("%(asctime)s %(levelname)s " + service + " %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{name}={value}"
            for name, value in (
                ("correlation_id", CORRELATION_ID.get()),
                ("complaint_id", COMPLAINT_ID.get()),
            )
            if value is not None
        ]
        return one_line(redact(line + (" " + " ".join(ids) if ids else "")))


def configure_logging(
    *, service: str, level: str = "INFO", fmt: str = "json", stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records (uvicorn's, FastStream's, aiokafka's too) to one handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    formatter = TextFormatter(service) if fmt == "text" else JsonFormatter(service)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.captureWarnings(True)  # Python's warnings become log lines too
    for name in _CAPPED_AT_INFO:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    # Loggers that installed their own handlers before we got here write through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler

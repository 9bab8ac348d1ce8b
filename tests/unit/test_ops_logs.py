"""Structured logs: JSON lines with correlation_id and complaint_id, and no personal data."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import ConsumerRecord
from fastapi import FastAPI
from prometheus_client import REGISTRY

from contracts import Envelope, new_envelope
from contracts.enums import Channel
from contracts.intake import ComplaintReceivedV3, Submission
from services.runtime.consumer import ProjectionConsumer
from services.runtime.http import install_common
from services.runtime.logs import JsonFormatter, TextFormatter, bound, configure_logging, redact

NAME, PHONE = "何先生", "13812345678"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log line of the block, as the services write them (JSON, level DEBUG)."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(service="test", level="DEBUG", stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_a_line_is_one_json_object_with_the_bound_ids(captured: io.StringIO) -> None:
    log = logging.getLogger("complaints.test")
    with bound(correlation_id="c-1", complaint_id="k-1"):
        log.info("hello %s", "world", extra={"event_type": "ComplaintReceived"})
    log.info("outside")
    first, second = lines(captured)
    assert first["msg"] == "hello world"
    assert first["level"] == "INFO" and first["service"] == "test"
    assert first["logger"] == "complaints.test"
    assert first["correlation_id"] == "c-1" and first["complaint_id"] == "k-1"
    assert first["event_type"] == "ComplaintReceived"
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert "correlation_id" not in second and "complaint_id" not in second


def test_phone_numbers_are_masked_wherever_they_appear(captured: io.StringIO) -> None:
    log = logging.getLogger("complaints.test")
    log.warning("caller %s", PHONE, extra={"detail": {"phone": PHONE}})
    try:
        raise ValueError(f"input_value='{PHONE}'")
    except ValueError:
        log.exception("failed")
    text = captured.getvalue()
    assert PHONE not in text
    assert "138****5678" in text
    assert redact("id 013812345678 and 138123456789") == "id 013812345678 and 138123456789"


def test_a_line_stays_one_line_whatever_a_request_path_holds(captured: io.StringIO) -> None:
    odd = "/v1/complaints/\x85a\u2028b\u2029c\nd\x1ce\U00044ab1\udc80"
    logging.getLogger("complaints.test").info("GET %s", odd, extra={"path": odd})
    text = captured.getvalue()
    assert text.endswith("\n") and len(text.splitlines()) == 1
    (record,) = lines(captured)
    assert record["path"].startswith("/v1/complaints/\x85a\u2028b\u2029c\nd\x1ce")
    text.encode("utf-8")  # no lone surrogate reaches the stream


def test_text_format_keeps_the_ids_and_masks_too() -> None:
    record = logging.LogRecord("x", logging.INFO, "", 0, "call %s", (PHONE,), None)
    with bound(complaint_id="k-9"):
        line = TextFormatter("intake").format(record)
    assert "complaint_id=k-9" in line and PHONE not in line
    assert json.loads(JsonFormatter("intake").format(record))["msg"] == "call 138****5678"


async def test_each_request_is_one_info_line_with_its_ids(captured: io.StringIO) -> None:
    app = FastAPI()
    install_common(app, service="test", readiness={})
    complaint_id = uuid.uuid4()

    @app.get("/v1/complaints/{cid}")
    async def read(cid: uuid.UUID) -> dict[str, str]:
        logging.getLogger("complaints.handler").info("reading")
        return {"complaint_id": str(cid)}

    @app.post("/v1/complaints", status_code=202)
    async def submit(body: dict[str, Any]) -> dict[str, str]:
        return {"complaint_id": str(complaint_id), "event_id": str(uuid.uuid4())}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        got = await client.get(
            f"/v1/complaints/{complaint_id}", headers={"X-Correlation-Id": "trace-42"}
        )
        posted = await client.post(
            "/v1/complaints",
            json={"complainant": {"name": NAME, "phone": PHONE}, "description": "楼上漏水"},
        )
        await client.get("/healthz")
    assert got.headers["X-Correlation-Id"] == "trace-42"
    assert len(posted.headers["X-Correlation-Id"]) == 32
    records = lines(captured)
    handler_line = next(r for r in records if r["logger"] == "complaints.handler")
    assert handler_line["correlation_id"] == "trace-42"
    assert handler_line["complaint_id"] == str(complaint_id)
    requests = [r for r in records if r["logger"] == "complaints.http"]
    assert [(r["method"], r["status"], r["level"]) for r in requests] == [
        ("GET", 200, "INFO"),
        ("POST", 202, "INFO"),
        ("GET", 200, "DEBUG"),  # /healthz: debug only
    ]
    get_line, post_line, _ = requests
    assert get_line["route"] == "/v1/complaints/{cid}"
    assert get_line["complaint_id"] == str(complaint_id)
    assert get_line["correlation_id"] == "trace-42"
    # the complaint a POST created comes from its answer
    assert post_line["complaint_id"] == str(complaint_id)
    assert post_line["correlation_id"] == posted.headers["X-Correlation-Id"]
    assert isinstance(post_line["duration_ms"], float)
    text = captured.getvalue()
    assert NAME not in text and PHONE not in text and "楼上漏水" not in text


def received(complaint_id: uuid.UUID) -> Envelope:
    submission = Submission.model_validate(
        {
            "submission_id": "call-1",
            "office": "Y园",
            "unit": "3栋1单元502",
            "complainant": {"name": NAME, "phone": PHONE},
            "subject": "高空抛物",
            "description": "楼上经常有牛奶盒坠下",
            "demand": "安装摄像头",
            "occurred_at": "2026-01-05T09:12:00+08:00",
        }
    )
    now = datetime.now(UTC)
    return new_envelope(
        ComplaintReceivedV3.from_submission(Channel.HOTLINE, submission),
        event_id=uuid.uuid4(),
        complaint_id=complaint_id,
        occurred_at=now,
        recorded_at=now,
        source="intake/hotline",
        correlation_id=complaint_id,
    )


def test_each_event_handled_is_one_debug_line_with_ids_and_type_only(
    captured: io.StringIO,
) -> None:
    consumer = ProjectionConsumer(
        name="reporting.complaints.v1",
        schema="reporting",
        projection=None,  # type: ignore[arg-type]
        topic="complaints.events",
        deadletter_topic="complaints.deadletter",
        pool=lambda: None,  # type: ignore[arg-type,return-value]
    )
    complaint_id = uuid.uuid4()
    envelope = received(complaint_id)
    raw = envelope.model_dump_json().encode()
    assert PHONE.encode() in raw  # the event itself carries the phone number…
    record = ConsumerRecord(
        "complaints.events", 3, 17, 0, 0, b"k", raw, None, len(b"k"), len(raw), []
    )
    consumer._log_event(record, envelope, duplicate=False)
    consumer._log_event(record, envelope, duplicate=True)
    applied, duplicate = lines(captured)
    assert applied["level"] == "DEBUG"
    assert applied["event_type"] == "ComplaintReceived"
    assert applied["event_id"] == str(envelope.event_id)
    assert applied["complaint_id"] == str(complaint_id)
    assert applied["correlation_id"] == str(complaint_id)
    assert (applied["partition"], applied["offset"]) == (3, 17)
    assert applied["duplicate"] is False and duplicate["duplicate"] is True
    text = captured.getvalue()  # …the log never does
    assert NAME not in text and PHONE not in text and "牛奶盒" not in text


async def test_above_info_requests_are_counted_not_logged_and_a_failure_still_counts() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging(service="quiet", level="WARNING", stream=stream)
    app = FastAPI()
    install_common(app, service="quiet", readiness={})
    complaint_id = uuid.uuid4()

    @app.post("/v1/complaints", status_code=202)
    async def submit(body: dict[str, Any]) -> dict[str, str]:
        return {"complaint_id": str(complaint_id)}

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("a handler that fails")

    def counted(route: str, status: str) -> float:
        value = REGISTRY.get_sample_value(
            "complaints_http_requests_total",
            {
                "service": "quiet",
                "method": route.split()[0],
                "route": route.split()[1],
                "status": status,
            },
        )
        return value or 0.0

    before = counted("POST /v1/complaints", "202"), counted("GET /v1/boom", "500")
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            posted = await client.post("/v1/complaints", json={})
            failed = await client.get("/v1/boom")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        logging.captureWarnings(False)
    assert posted.status_code == 202 and len(posted.headers["X-Correlation-Id"]) == 32
    assert failed.status_code == 500
    assert counted("POST /v1/complaints", "202") == before[0] + 1
    assert counted("GET /v1/boom", "500") == before[1] + 1
    assert not [r for r in lines(stream) if r["logger"] == "complaints.http"]

"""The services' logs, read from real processes at debug level: one JSON object per line, a line
per request and per event carrying correlation_id and complaint_id, and no personal data.

Runs its own intake and reporting (debug logging) on their own database and topics, so the
session's services and their logs are left as they are."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contracts import received_event_id
from deploy.local import sandbox as sandboxed
from deploy.local.sandbox import RunningSystem
from tests.conftest import RUN, Infra
from tests.e2e.helpers import HOTLINE, READER, eventually, submission

pytestmark = pytest.mark.infra

NAME, PHONE = "欧阳娜娜", "13987654321"
DESCRIPTION = "地下车库排水沟堵塞，雨天积水没过脚踝"


def lines(box: RunningSystem, name: str) -> list[dict[str, Any]]:
    """Every line of a service's log, each parsed as JSON (a line that is not fails)."""
    text = (box.logs / f"{name}.log").read_text(encoding="utf-8")
    complete = text[: text.rfind("\n") + 1]  # the service may be writing a line right now
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


@pytest.fixture(scope="module")
async def sandbox(real_infra: Infra) -> AsyncIterator[RunningSystem]:
    """Intake and reporting on a database and topics of their own, logging at debug."""
    database = f"complaints_test_{RUN}_logs"
    url = await sandboxed.create_database(real_infra.admin_database_url, database)
    topics = sandboxed.topic_names(f"test.{RUN}.logs")
    box = RunningSystem(
        env=sandboxed.environment(
            bootstrap=real_infra.kafka_bootstrap,
            database_url=url,
            topics=topics,
            COMPLAINTS_LOG_LEVEL="DEBUG",
        ),
        database_url=url,
        topics=topics,
        logs=real_infra.home / "logs" / f"test-{RUN}-logs",
    )
    try:
        for name in ("intake", "reporting"):
            box.start(name)
        yield box
    finally:
        box.stop_all()
        await sandboxed.drop_database(real_infra.admin_database_url, database)
        await sandboxed.delete_topics(
            real_infra.kafka_bootstrap,
            [*topics.values(), f"{topics['submissions']}.rejected"],
        )


async def test_a_request_and_the_event_it_caused_are_logged_with_their_ids_and_no_personal_data(
    http: httpx.AsyncClient, sandbox: RunningSystem
) -> None:
    trace = f"ops-trace-{uuid.uuid4().hex[:8]}"
    body = submission(
        complainant={"name": NAME, "phone": PHONE}, description=DESCRIPTION, demand="疏通排水沟"
    )
    resp = await http.post(
        f"{sandbox.urls['intake']}/v1/complaints",
        json=body,
        headers={**HOTLINE, "X-Correlation-Id": trace},
    )
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Correlation-Id"] == trace
    complaint_id = resp.json()["complaint_id"]
    event_id = str(received_event_id(uuid.UUID(complaint_id)))

    async def read_back() -> bool:
        got = await http.get(
            f"{sandbox.urls['reporting']}/v1/complaints/{complaint_id}", headers=READER
        )
        return got.status_code == 200

    await eventually(read_back, timeout=40)

    def applied_line() -> dict[str, Any] | None:
        return next(
            (
                r
                for r in lines(sandbox, "reporting")
                if r.get("event_id") == event_id and r["logger"] == "services.runtime.consumer"
            ),
            None,
        )

    async def logged() -> dict[str, Any] | None:
        return applied_line()

    event_line = await eventually(logged, timeout=10)
    assert event_line["level"] == "DEBUG"
    assert event_line["event_type"] == "ComplaintReceived"
    assert event_line["complaint_id"] == complaint_id
    assert event_line["correlation_id"] == complaint_id  # intake correlates by complaint
    assert event_line["consumer"] == "reporting.complaints.v1"

    request_line = next(
        r
        for r in lines(sandbox, "intake")
        if r["logger"] == "complaints.http" and r.get("method") == "POST"
    )
    assert request_line["level"] == "INFO"
    assert request_line["status"] == 202
    assert request_line["route"] == "/v1/complaints"
    assert request_line["correlation_id"] == trace
    assert request_line["complaint_id"] == complaint_id
    reads = [
        r
        for r in lines(sandbox, "reporting")
        if r["logger"] == "complaints.http" and r.get("complaint_id") == complaint_id
    ]
    assert reads and all(r["route"] == "/v1/complaints/{complaint_id}" for r in reads)

    for name in ("intake", "reporting"):
        text = (sandbox.logs / f"{name}.log").read_text(encoding="utf-8")
        for secret in (NAME, PHONE, DESCRIPTION, "疏通排水沟"):
            assert secret not in text, f"{name}'s log holds personal data: {secret}"
        assert all(r["service"] == name for r in lines(sandbox, name))

"""A log holding ComplaintReceived v1 (as the old intake wrote it) and v2 (as intake writes
now) is read by every service; the old event stays as it was stored."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.conftest import RunningSystem
from tests.e2e.helpers import eventually, get_json_or_none, minutes_ago, read_events
from tests.e2e.test_workflow_lifecycle import AGENT, received, unique_phone

pytestmark = pytest.mark.infra

SAMPLE = Path(__file__).parents[1] / "unit/contracts/stored_events/ComplaintReceived.v1.json"


def old_event(office: str) -> dict[str, Any]:
    """The stored v1 sample with fresh ids, a recent time and this test's office."""
    event = json.loads(SAMPLE.read_text(encoding="utf-8"))
    cid = str(uuid.uuid4())
    when = minutes_ago(2)
    event.update(event_id=str(uuid.uuid4()), complaint_id=cid, correlation_id=cid, occurred_at=when)
    event["data"].update(
        office=office, occurred_at=when, submission_id=f"old-{cid[:8]}", unit="7栋3单元1201"
    )
    event["data"]["complainant"]["phone"] = unique_phone()
    return event


async def test_v1_and_v2_complaints_in_one_log_are_both_followed_and_v1_is_not_rewritten(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    v1 = old_event("Y园")
    producer = AIOKafkaProducer(
        bootstrap_servers=system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            system.topics["events"], orjson.dumps(v1), key=v1["complaint_id"].encode()
        )
    finally:
        await producer.stop()
    v2 = await received(http, system, complainant={"name": "新先生", "phone": unique_phone()})

    async def known_to_workflow() -> dict[str, Any] | None:
        resp = await http.get(
            f"{system.urls['workflow']}/v1/complaints/{v1['complaint_id']}", headers=AGENT
        )
        return dict(resp.json()) if resp.status_code == 200 else None

    old_state = await eventually(known_to_workflow)
    assert old_state["status"] == "received" and old_state["unit"] == "7栋3单元1201"
    new_state = await v2.get()
    assert new_state["history"][0]["data"]["address"]["building"]

    clocks = await eventually(
        lambda: get_json_or_none(
            http, f"{system.urls['sla']}/v1/complaints/{v1['complaint_id']}/sla"
        )
    )
    assert {c["timer"] for c in clocks["clocks"]} == {"first_response", "reply"}
    assert await eventually(
        lambda: get_json_or_none(
            http, f"{system.urls['reporting']}/v1/complaints/{v1['complaint_id']}"
        )
    )

    # The old event is still in the log exactly as it was written.
    events = await read_events(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"])
    stored = [e for e in events if e["complaint_id"] == v1["complaint_id"]]
    received_events = [e for e in stored if e["type"] == "ComplaintReceived"]
    assert received_events == [v1]

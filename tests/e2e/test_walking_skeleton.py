"""A complaint goes from a channel over HTTP into the log and out into every service's tables."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from services.runtime.auth import Staff, issue_token
from services.runtime.settings import Settings
from tests.conftest import RunningSystem
from tests.e2e.helpers import (
    HOTLINE,
    READER,
    SUPERVISION,
    eventually,
    get_json_or_none,
    submission,
    wait_caught_up,
)

pytestmark = pytest.mark.infra


async def submit(
    http: httpx.AsyncClient,
    system: RunningSystem,
    body: dict[str, Any],
    headers: dict[str, str] = HOTLINE,
) -> httpx.Response:
    return await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=headers)


async def caught_up(system: RunningSystem) -> None:
    await wait_caught_up(
        system.database_url,
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        system.topics["events"],
        "reporting",
    )


async def stats(http: httpx.AsyncClient, system: RunningSystem) -> dict[str, Any]:
    resp = await http.get(f"{system.urls['reporting']}/v1/stats", headers=READER)
    resp.raise_for_status()
    return dict(resp.json())


async def test_submitted_complaint_is_readable_from_reporting_with_masked_phone(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = submission()
    resp = await submit(http, system, body)
    assert resp.status_code == 202, resp.text
    complaint_id = resp.json()["complaint_id"]

    found = await eventually(
        lambda: get_json_or_none(http, f"{system.urls['reporting']}/v1/complaints/{complaint_id}"),
        timeout=5,
    )

    assert found["office"] == "Y园"
    assert found["channel"] == "hotline"
    assert found["submission_id"] == body["submission_id"]
    assert found["description"] == body["description"]
    assert found["complainant"] == {"name": "何**", "phone": "138****5678"}


async def test_retried_submission_gets_same_ids_and_is_counted_once(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    office = f"重试{uuid.uuid4().hex[:6]}城"  # its own: other tests move complaints between offices
    body = submission(office=office)
    first = await submit(http, system, body)
    again = await asyncio.gather(*(submit(http, system, body) for _ in range(3)))
    assert first.status_code == 202
    assert {r.json()["complaint_id"] for r in again} == {first.json()["complaint_id"]}
    assert {r.json()["event_id"] for r in again} == {first.json()["event_id"]}

    await caught_up(system)
    figures = await stats(http, system)
    assert figures["by_office"][office] == 1


async def test_same_submission_id_from_another_channel_is_another_complaint(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = submission()
    by_hotline = await submit(http, system, body, HOTLINE)
    by_supervision = await submit(http, system, body, SUPERVISION)
    assert by_hotline.json()["complaint_id"] != by_supervision.json()["complaint_id"]
    found = await eventually(
        lambda: get_json_or_none(
            http,
            f"{system.urls['reporting']}/v1/complaints/{by_supervision.json()['complaint_id']}",
        )
    )
    assert found["channel"] == "supervision"


async def test_bad_submission_gets_422_naming_every_bad_field(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = submission(complainant={"name": "", "phone": "12345"}, occurred_at="yesterday")
    del body["office"]
    resp = await submit(http, system, body)
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert fields == {"office", "complainant.name", "complainant.phone", "occurred_at"}


async def test_body_cannot_choose_the_channel(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    resp = await submit(http, system, submission(channel="supervision"))
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["channel"]


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "guess"}])
async def test_submission_without_a_channel_key_is_refused(
    http: httpx.AsyncClient, system: RunningSystem, headers: dict[str, str]
) -> None:
    resp = await submit(http, system, submission(), headers)
    assert resp.status_code == 401
    assert "X-Api-Key" in resp.json()["detail"]


async def test_workflow_and_sla_consume_the_log(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    resp = await submit(http, system, submission(office="*湾花园"))
    complaint_id = resp.json()["complaint_id"]
    staff = Staff(staff_id="A001", role=Role.CS_AGENT, office="*湾花园")
    token = {"Authorization": f"Bearer {issue_token(Settings(), staff)}"}

    async def workflow_state() -> dict[str, Any] | None:
        resp = await http.get(
            f"{system.urls['workflow']}/v1/complaints/{complaint_id}", headers=token
        )
        return dict(resp.json()) if resp.status_code == 200 else None

    state = await eventually(workflow_state)
    assert state["status"] == "received"

    # A fixed past instant, so the deadline can be checked exactly (wall clock: no calendar).
    body = submission(office="*湾花园", occurred_at="2026-11-23T09:12:00+08:00")
    complaint_id = (await submit(http, system, body)).json()["complaint_id"]

    async def clocks() -> list[dict[str, Any]]:
        body = await get_json_or_none(
            http, f"{system.urls['sla']}/v1/complaints/{complaint_id}/sla"
        )
        return list(body["clocks"]) if body else []

    found = await eventually(clocks)
    by_timer = {c["timer"]: c for c in found}
    assert set(by_timer) == {"first_response", "reply"}
    assert by_timer["first_response"]["deadline"] == "2026-11-23T09:42:00+08:00"  # +30 min


async def test_every_service_answers_health_and_readiness(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    for name, url in system.urls.items():
        assert (await http.get(f"{url}/healthz")).status_code == 200, name
        ready = await eventually(lambda u=url: _ready(http, u))
        assert ready["status"] == "ready", (name, ready)
        metrics = await http.get(f"{url}/metrics")
        assert "complaints_http_requests_total" in metrics.text, name


async def _ready(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    resp = await http.get(f"{url}/readyz")
    return dict(resp.json()) if resp.status_code == 200 else None


async def test_reporting_killed_mid_stream_resumes_from_stored_offsets_without_doubles(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    office = "重启测试园"
    sent = [submission(office=office) for _ in range(60)]
    for body in sent[:30]:
        assert (await submit(http, system, body)).status_code == 202
    system.kill("reporting")  # SIGKILL: whatever batch was open is rolled back
    for body in sent[30:]:
        assert (await submit(http, system, body)).status_code == 202
    for body in sent[:10]:  # retries while reporting is down
        assert (await submit(http, system, body)).status_code == 202
    system.start("reporting")

    await caught_up(system)
    assert (await stats(http, system))["by_office"][office] == 60

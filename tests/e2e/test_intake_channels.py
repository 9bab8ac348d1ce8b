"""Each channel's own HTTP adapter, end to end: mapped onto one complaint, a key per channel,
the caller directory, and the phone shown whole only to the complaint's own office."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import APP, HOTLINE, SUPERVISION, eventually, minutes_ago, submission
from tests.e2e.test_workflow_lifecycle import AGENT, bearer

pytestmark = pytest.mark.infra

OTHER_OFFICE = bearer(Role.CS_AGENT, office="G小城")
COMPANY = bearer(Role.COMPANY, office=None)


def phone() -> str:
    """A mobile number no other test uses."""
    return f"139{random.randrange(10**8):08d}"


def unit() -> str:
    return f"{random.randint(20, 99)}栋{random.randint(1, 4)}单元{random.randint(101, 2904)}"


async def post(
    http: httpx.AsyncClient, system: RunningSystem, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return await http.post(f"{system.urls['intake']}{path}", json=body, headers=headers)


async def workflow_view(
    http: httpx.AsyncClient, system: RunningSystem, cid: str, headers: dict[str, str]
) -> dict[str, Any] | None:
    resp = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=headers)
    return dict(resp.json()) if resp.status_code == 200 else None


async def test_app_complaint_reaches_its_office_whole_and_everyone_else_masked(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    number = phone()
    body = {
        "app_complaint_id": f"APP-{uuid.uuid4().hex[:10]}",
        "owner_account_id": "U0042",
        "owner_name": "林女士",
        "owner_phone": number,
        "office": "Y园",
        "unit": unit(),
        "category": "环境服务",
        "text": "垃圾桶满了溢到地上，很臭",
        "photos": ["oss://owner-photos/2026/11/a.jpg"],
        "submitted_at": minutes_ago(1),
    }
    resp = await post(http, system, "/v1/channels/app/complaints", body, APP)
    assert resp.status_code == 202, resp.text
    assert set(resp.json()) == {"complaint_id", "event_id"}  # no personal data in the answer
    cid = resp.json()["complaint_id"]

    own = await eventually(lambda: workflow_view(http, system, cid, AGENT))
    data = own["history"][0]["data"]
    assert data["complainant"] == {"name": "林女士", "phone": number}
    assert data["photos"] == ["oss://owner-photos/2026/11/a.jpg"]
    assert data["owner_category"] == "environment"
    assert data["channel_refs"]["account_id"] == "U0042" and data["over_the_head"] is False

    company = await workflow_view(http, system, cid, COMPANY)
    assert company is not None
    masked = company["history"][0]["data"]["complainant"]
    assert masked["phone"] == f"{number[:3]}****{number[-4:]}" and masked["name"] != "林女士"
    assert await workflow_view(http, system, cid, OTHER_OFFICE) is None  # another office: 403


async def test_supervision_case_is_over_the_head_and_major_in_the_workflow(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = {
        "case_no": f"JD-{uuid.uuid4().hex[:10]}",
        "received_by": "PZ02",
        "received_at": minutes_ago(1),
        "complainant": {"name": "何先生", "phone": phone()},
        "office": "Y园",
        "unit": unit(),
        "subject": "外墙清洗",
        "description": "外墙清洗没有按时进行，多次向管理处反映未果",
    }
    resp = await post(http, system, "/v1/channels/supervision/cases", body, SUPERVISION)
    assert resp.status_code == 202, resp.text
    cid = resp.json()["complaint_id"]

    async def major() -> dict[str, Any] | None:
        view = await workflow_view(http, system, cid, AGENT)
        return view if view and view["major"] else None

    view = await eventually(major)
    assert view["channel"] == "supervision"
    assert view["history"][0]["data"]["over_the_head"] is True
    assert view["history"][0]["data"]["channel_refs"]["agent_id"] == "PZ02"


async def test_a_channels_endpoint_refuses_another_channels_key(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    for path in ("/v1/channels/hotline/calls", "/v1/channels/supervision/cases"):
        resp = await post(http, system, path, {}, APP)
        assert resp.status_code == 403 and "app" in resp.json()["detail"]
    resp = await post(http, system, "/v1/channels/app/complaints", {}, {"X-Api-Key": "nope"})
    assert resp.status_code == 401


async def test_a_known_callers_number_is_enough_for_the_hotline_an_unknown_one_is_not(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    number, where = phone(), unit()
    first = {
        "call_id": f"CC-{uuid.uuid4().hex[:10]}",
        "caller_number": number,
        "agent_id": "KF001",
        "call_started_at": minutes_ago(3),
        "caller_name": "郑先生",
        "office": "Y园",
        "unit": where,
        "subject": "楼上渗水",
        "summary": "楼上卫生间漏水，天花板发霉",
    }
    resp = await post(http, system, "/v1/channels/hotline/calls", first, HOTLINE)
    assert resp.status_code == 202, resp.text

    lean = {k: v for k, v in first.items() if k not in ("caller_name", "office", "unit")}
    lean |= {"call_id": f"CC-{uuid.uuid4().hex[:10]}", "call_started_at": minutes_ago(1)}

    async def accepted() -> str | None:  # the directory learns the number from the log
        resp = await post(http, system, "/v1/channels/hotline/calls", lean, HOTLINE)
        return resp.json()["complaint_id"] if resp.status_code == 202 else None

    cid = await eventually(accepted)
    view = await eventually(lambda: workflow_view(http, system, cid, AGENT))
    data = view["history"][0]["data"]
    assert (data["complainant"]["name"], data["unit"]) == ("郑先生", where)
    assert data["channel_refs"]["agent_id"] == "KF001"

    stranger = {**lean, "call_id": f"CC-{uuid.uuid4().hex[:10]}", "caller_number": phone()}
    resp = await post(http, system, "/v1/channels/hotline/calls", stranger, HOTLINE)
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["caller_name", "office", "unit"]


async def test_the_202_says_where_the_complaint_is_read(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = submission(complainant={"name": "何先生", "phone": f"137{random.randrange(10**8):08d}"})
    resp = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=HOTLINE)
    assert resp.status_code == 202, resp.text
    location = resp.headers["Location"]
    assert location == f"{system.urls['workflow']}/v1/complaints/{resp.json()['complaint_id']}"

    async def readable() -> bool:
        return (await http.get(location, headers=AGENT)).status_code == 200

    await eventually(readable)
    # The same submission again: the same complaint, the same Location.
    again = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=HOTLINE)
    assert again.headers["Location"] == location

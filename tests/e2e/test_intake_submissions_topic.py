"""The submissions topic, end to end: a re-published record is one complaint; bad records,
even bytes that are not JSON, are listed as rejected with every reason and their offset, and
the consumer goes on."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from contracts import Channel, complaint_id_for
from contracts.submissions import SubmissionFormat, record_headers
from tests.conftest import RunningSystem
from tests.e2e.helpers import APP, HOTLINE, eventually, minutes_ago
from tests.e2e.test_channels_concurrent import STAFF, intake_decided, received_events
from tests.e2e.test_workflow_lifecycle import AGENT

pytestmark = pytest.mark.infra


def app_complaint(**overrides: Any) -> dict[str, Any]:
    body = {
        "app_complaint_id": f"APP-{uuid.uuid4().hex[:10]}",
        "owner_account_id": "U0077",
        "owner_name": "赵女士",
        "owner_phone": f"137{random.randrange(10**8):08d}",
        "office": "Y园",
        "unit": f"{random.randint(20, 99)}栋{random.randint(101, 2904)}",
        "category": "vehicles_traffic",
        "text": "私家车位又被占用",
        "submitted_at": minutes_ago(1),
    }
    return body | overrides


async def publish(
    system: RunningSystem, records: list[tuple[bytes, list[tuple[str, bytes]]]]
) -> list[tuple[int, int]]:
    """Publish records to the submissions topic; their (partition, offset)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], enable_idempotence=True
    )
    await producer.start()
    try:
        places = []
        for value, headers in records:
            meta = await producer.send_and_wait(
                system.topics["submissions"], value, key=b"k", headers=headers
            )
            places.append((meta.partition, meta.offset))
        return places
    finally:
        await producer.stop()


def as_app(body: dict[str, Any] | bytes, key: str = "dev-app") -> tuple[bytes, Any]:
    value = body if isinstance(body, bytes) else orjson.dumps(body)
    return value, record_headers(Channel.APP, key, SubmissionFormat.APP_COMPLAINT, value)


async def rejections(
    http: httpx.AsyncClient, system: RunningSystem, headers: dict[str, str], **params: Any
) -> httpx.Response:
    return await http.get(
        f"{system.urls['intake']}/v1/submissions/rejected",
        params={"limit": 1000, **params},
        headers=headers,
    )


async def test_a_record_published_twice_is_one_complaint_with_one_event_in_the_log(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    body = app_complaint(photos=["oss://owner-photos/2026/11/p.jpg"])
    await publish(system, [as_app(body), as_app(body)])  # the buffering adapter re-sends
    cid = complaint_id_for(Channel.APP, body["app_complaint_id"])

    async def known() -> dict[str, Any] | None:
        resp = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=AGENT)
        return dict(resp.json()) if resp.status_code == 200 else None

    view = await eventually(known)
    assert view["history"][0]["data"]["photos"] == ["oss://owner-photos/2026/11/p.jpg"]
    await intake_decided(system)
    copies = await received_events(system, {cid})
    assert list(copies.values()) == [1]


async def test_bad_records_are_listed_with_every_reason_and_their_offset_and_intake_goes_on(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    bad_fields = app_complaint(owner_phone="1370000111", category="绿化养护")
    unsigned = orjson.dumps(app_complaint())
    good = app_complaint()
    places = await publish(
        system,
        [
            as_app(b"\xff\xfe not json at all"),
            as_app(bad_fields),
            as_app(app_complaint(), key="dev-hotline"),  # signed with another channel's key
            (unsigned, [("x-submission-format", b"app.complaint")]),
            as_app(good),
        ],
    )
    cid = complaint_id_for(Channel.APP, good["app_complaint_id"])

    async def known() -> bool:
        resp = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=AGENT)
        return resp.status_code == 200

    await eventually(known)  # the consumer went on past every bad record
    await intake_decided(system)

    async def listed() -> dict[tuple[int, int], dict[str, Any]] | None:
        resp = await rejections(http, system, STAFF)
        items = {(i["record"]["partition"], i["record"]["offset"]): i for i in resp.json()["items"]}
        return items if set(places[:4]) <= set(items) else None

    items = await eventually(listed)
    assert places[4] not in items
    not_json, fields, forged, unsigned_item = (items[p] for p in places[:4])
    assert [r["field"] for r in not_json["reasons"]] == ["body"]
    assert not_json["channel"] == "app" and not_json["submission_id"] is None
    assert {r["field"] for r in fields["reasons"]} == {"owner_phone", "category"}
    assert fields["submission_id"] == bad_fields["app_complaint_id"]
    assert "1370000111" not in str(fields)  # reasons never quote the input
    assert forged["channel"] is None
    assert [r["field"] for r in forged["reasons"]] == ["header x-signature"]
    assert [r["field"] for r in unsigned_item["reasons"]] == [
        "header x-channel",
        "header x-signature",
    ]
    assert all(i["record"]["topic"] == system.topics["submissions"] for i in items.values())


async def test_a_channel_sees_only_its_own_rejections_and_staff_see_all(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    await publish(system, [as_app(b"{"), as_app(b"{", key="wrong")])
    await intake_decided(system)

    async def app_sees_one() -> list[dict[str, Any]] | None:
        items = (await rejections(http, system, APP)).json()["items"]
        return items or None

    items = await eventually(app_sees_one)
    assert {i["channel"] for i in items} == {"app"}
    everything = (await rejections(http, system, STAFF)).json()
    assert None in {i["channel"] for i in everything["items"]}
    assert everything["total"] >= len(everything["items"]) > len(items)
    assert (await rejections(http, system, HOTLINE, channel="app")).status_code == 403
    assert (await rejections(http, system, {})).status_code == 401
    assert (await rejections(http, system, {"Authorization": "Bearer forged"})).status_code == 401

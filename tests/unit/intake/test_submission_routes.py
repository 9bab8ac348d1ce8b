"""Intake's submission routes check the channel's key before anything else (``ChannelRoute``,
not a FastAPI dependency), and write their ``202`` themselves (no response-model pass): a
request without the right key gets the 401 or 403 whatever its body, and the ``202`` is still
exactly the ``Accepted`` that the OpenAPI document declares, names the event that went to the
log, and says where the complaint is read.

The app runs in process; the key vault and the log are replaced by stand-ins that record what
they were given (the real ones are exercised end to end in ``tests/e2e/test_intake_channels``).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contracts import Envelope
from services.intake import routes
from services.intake.routes import Accepted
from services.intake.spec import SPEC
from services.runtime.app import build_app
from tests.unit.intake.samples import app_complaint, submission

APP = app_complaint()
CALL = submission(submission_id="call-answer-1")


class Keys:
    """The vault's key maker, in memory: one key a complainant."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    async def key_for(self, pool: object, ref: str) -> bytes:
        return self.keys.setdefault(ref, os.urandom(32))


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[Envelope]:
    sent: list[Envelope] = []

    async def publish(
        broker: object, topic: str, envelope: Envelope, *, within: float | None = None
    ) -> None:
        # intake never waits unbounded for the log (the idempotent producer never gives up)
        assert within == routes.IntakeSettings().publish_timeout_s
        sent.append(envelope)

    monkeypatch.setattr(routes, "publish_event", publish)
    return sent


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    app = build_app(SPEC)  # its lifespan is not run: no pool, no broker
    app.state.parts = dataclasses.replace(app.state.parts, shared=Keys())
    monkeypatch.setattr(app.state.service, "_pool", object())
    return TestClient(app)


@pytest.mark.parametrize(
    ("path", "key", "body"),
    [("/v1/complaints", "dev-hotline", CALL), ("/v1/channels/app/complaints", "dev-app", APP)],
)
def test_the_202_is_the_declared_answer_naming_the_logged_event(
    client: TestClient, published: list[Envelope], path: str, key: str, body: dict[str, Any]
) -> None:
    answer = client.post(path, json=body, headers={"X-Api-Key": key})

    assert answer.status_code == 202, answer.text
    assert answer.headers["content-type"] == "application/json"
    (envelope,) = published
    assert answer.json() == {
        "complaint_id": str(envelope.complaint_id),
        "event_id": str(envelope.event_id),
    }
    assert Accepted.model_validate_json(answer.content) == Accepted(
        complaint_id=envelope.complaint_id, event_id=envelope.event_id
    )
    settings = client.app.state.settings  # type: ignore[attr-defined]
    assert answer.headers["Location"] == settings.location(envelope.complaint_id)
    assert answer.headers["X-Correlation-Id"]  # the request observer still saw the answer
    declared = client.app.openapi()["paths"][path]["post"]["responses"]["202"]  # type: ignore[attr-defined]
    schema = declared["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Accepted"}
    assert "Location" in declared["headers"]


def test_a_retry_gets_the_same_ids(client: TestClient, published: list[Envelope]) -> None:
    first = client.post("/v1/complaints", json=CALL, headers={"X-Api-Key": "dev-hotline"})
    again = client.post("/v1/complaints", json=CALL, headers={"X-Api-Key": "dev-hotline"})
    assert first.status_code == again.status_code == 202
    assert first.json() == again.json()
    assert first.headers["Location"] == again.headers["Location"]


def test_a_log_that_does_not_confirm_is_a_503_never_a_202(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(broker: object, topic: str, envelope: Envelope, **_: object) -> None:
        raise ConnectionError("no broker")

    monkeypatch.setattr(routes, "publish_event", refused)
    answer = client.post("/v1/complaints", json=CALL, headers={"X-Api-Key": "dev-hotline"})
    assert answer.status_code == 503
    assert "Location" not in answer.headers
    assert answer.headers["Retry-After"] == "5"


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "guess"}])
@pytest.mark.parametrize(
    "path",
    [
        "/v1/complaints",
        "/v1/channels/hotline/calls",
        "/v1/channels/app/complaints",
        "/v1/channels/supervision/cases",
    ],
)
def test_no_channel_key_is_a_401_before_the_body_is_judged(
    client: TestClient, published: list[Envelope], path: str, headers: dict[str, str]
) -> None:
    answer = client.post(path, json={"not": "a submission"}, headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["detail"] == "X-Api-Key: missing or not a key of any channel"
    assert published == []


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/v1/channels/hotline/calls", "hotline"),
        ("/v1/channels/supervision/cases", "supervision"),
    ],
)
def test_another_channels_key_is_a_403_before_the_body_is_judged(
    client: TestClient, published: list[Envelope], path: str, owner: str
) -> None:
    answer = client.post(path, json=APP, headers={"X-Api-Key": "dev-app"})
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"] == (
        f"X-Api-Key: this is the {owner} channel's endpoint; the key is the app channel's"
    )
    assert published == []


def test_the_generic_route_takes_every_channels_key(
    client: TestClient, published: list[Envelope]
) -> None:
    for key, channel in [("dev-hotline", "hotline"), ("dev-supervision", "supervision")]:
        body = {**CALL, "submission_id": f"generic-{channel}"}
        answer = client.post("/v1/complaints", json=body, headers={"X-Api-Key": key})
        assert answer.status_code == 202, answer.text
    assert [e.data["channel"] for e in published] == ["hotline", "supervision"]


def test_each_submission_route_declares_the_channel_key(client: TestClient) -> None:
    doc = client.app.openapi()  # type: ignore[attr-defined]
    assert "ChannelKey" in doc["components"]["securitySchemes"]
    for path in (
        "/v1/complaints",
        "/v1/channels/hotline/calls",
        "/v1/channels/app/complaints",
        "/v1/channels/supervision/cases",
    ):
        assert doc["paths"][path]["post"]["security"] == [{"ChannelKey": []}], path

"""The interface documents under docs/ are generated from the code and must match it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import registered_events
from services import apidocs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return apidocs.documents()


def test_the_checked_in_documents_match_the_code(generated: dict[Path, str]) -> None:
    stale = [
        str(path)
        for path, text in generated.items()
        if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text
    ]
    assert not stale, (
        f"out of date: {', '.join(stale)}: the code's interfaces changed; run `make docs` "
        "and commit the result"
    )


def test_every_http_service_has_its_openapi_document(generated: dict[Path, str]) -> None:
    for service in apidocs.SERVICES:
        document = json.loads(generated[Path("docs/openapi") / f"{service}.json"])
        assert document["openapi"].startswith("3.")
        assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"]), service
    intake = json.loads(generated[Path("docs/openapi/intake.json")])
    assert "/v1/complaints" in intake["paths"]


def test_the_asyncapi_document_names_every_event_every_group_and_the_dead_letters(
    generated: dict[Path, str],
) -> None:
    document: dict[str, Any] = json.loads(generated[Path("docs/asyncapi.json")])
    assert document["asyncapi"] == "3.0.0"
    schemas = document["components"]["schemas"]
    for event_type, version in registered_events():
        model = schemas[f"{event_type}EventV{version}"]
        assert model["properties"]["type"]["const"] == event_type
        assert model["properties"]["schema_version"]["const"] == version
    channels = document["channels"]
    for group in ("workflow.state.v1", "sla.clocks.v2", "reporting.complaints.v1"):
        assert channels[group]["address"] == "complaints.events"
        assert document["operations"][group]["action"] == "receive"
    for publisher in ("intake.appends", "workflow.appends", "sla.appends"):
        assert channels[publisher]["address"] == "complaints.events"
        assert document["operations"][publisher]["action"] == "send"
    assert channels["deadletter"]["address"] == "complaints.deadletter"
    for header in apidocs.DEAD_LETTER_HEADERS:
        assert header in channels["deadletter"]["description"]


def test_the_documents_do_not_depend_on_the_environment(
    generated: dict[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_TOPIC_EVENTS", "elsewhere.events")
    monkeypatch.setenv("COMPLAINTS_KAFKA_BOOTSTRAP", "kafka.example:9092")
    assert apidocs.documents() == generated

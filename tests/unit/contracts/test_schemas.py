"""Published event schemas never change without a new schema_version."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from contracts import schemagen
from contracts.envelope import _ALL, _LATEST, EventData, event


def test_checked_in_schemas_match_the_models() -> None:
    assert schemagen.problems() == []


def test_every_registered_event_version_has_a_checked_in_schema() -> None:
    names = {p.name for p in schemagen.SCHEMA_DIR.glob("*.json")}
    assert set(schemagen.expected_schemas()) <= names


def test_complaint_received_v1_schema_names_every_field_of_step_1() -> None:
    schema = json.loads((schemagen.SCHEMA_DIR / "ComplaintReceived.v1.json").read_text())
    assert set(schema["required"]) >= {
        "channel",
        "submission_id",
        "office",
        "unit",
        "complainant",
        "subject",
        "description",
        "occurred_at",
    }
    assert "demand" in schema["properties"]
    assert schema["x-schema-version"] == 1


@pytest.fixture
def changed_event() -> Any:
    """A v1 event whose model changed after publication (registered for one test only)."""

    @event
    class Probe(EventData):
        event_type: ClassVar[str] = "ProbeHappened"
        schema_version: ClassVar[int] = 1
        note: str

    path = schemagen.SCHEMA_DIR / "ProbeHappened.v1.json"
    published = schemagen.expected_schemas()["ProbeHappened.v1.json"]
    published["properties"]["note"]["maxLength"] = 10  # what "was published"
    path.write_text(schemagen.render(published), encoding="utf-8")
    yield Probe
    path.unlink()
    del _ALL[("ProbeHappened", 1)]
    del _LATEST["ProbeHappened"]


def test_changing_a_published_schema_without_new_version_fails_and_is_not_overwritten(
    changed_event: Any,
) -> None:
    found = schemagen.problems()
    assert len(found) == 1 and found[0].startswith("ProbeHappened.v1.json: the model no longer")
    before = (schemagen.SCHEMA_DIR / "ProbeHappened.v1.json").read_text()
    assert schemagen.main([]) == 1  # refuses to rewrite a published schema
    assert (schemagen.SCHEMA_DIR / "ProbeHappened.v1.json").read_text() == before

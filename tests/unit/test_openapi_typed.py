"""Issue 17, point 5: every answer typed in the OpenAPI documents, no bare ``object``.

Walks every schema an answer of any service can reach (``$ref``s followed) and fails on an
object without declared properties or typed values, and on a schema that allows anything.
The one free-form value is an event's ``data`` in the workflow's history: its shape is the
event type's own JSON Schema (contracts/schemas, the AsyncAPI document), named in its
description.
"""

from __future__ import annotations

from typing import Any

import pytest

from services import catalog
from services.apidocs import service_apps

FREE_FORM = {("workflow", "HistoryEntry.data")}


def _bare(schema: dict[str, Any]) -> bool:
    if not schema or set(schema) <= {"title", "description", "default"}:
        return True  # anything at all
    if schema.get("type") == "object" and not schema.get("properties"):
        extra = schema.get("additionalProperties", True)
        return extra is True or extra == {}
    return False


def _walk(doc: dict[str, Any], schema: Any, where: str, seen: set[str], found: list[str]) -> None:
    if isinstance(schema, list):
        for item in schema:
            _walk(doc, item, where, seen, found)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            _walk(doc, doc["components"]["schemas"][name], name, seen, found)
        return
    if _bare(schema):
        found.append(where)
        return
    for key, value in schema.get("properties", {}).items():
        _walk(doc, value, f"{where}.{key}", seen, found)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
        if key in schema:
            _walk(doc, schema[key], where, seen, found)


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {name: app.openapi() for name, app in service_apps().items()}


@pytest.mark.parametrize("service", list(catalog.SERVICES))
def test_every_json_answer_is_typed(service: str, documents: dict[str, dict[str, Any]]) -> None:
    doc = documents[service]
    found: list[str] = []
    answers = 0
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            for code, response in operation.get("responses", {}).items():
                for media, content in response.get("content", {}).items():
                    if "json" not in media:
                        continue
                    answers += 1
                    where = f"{method.upper()} {path} {code}"
                    before = len(found)
                    _walk(doc, content.get("schema", {}), where, set(), found)
                    found[before:] = [
                        f"{where}: {f}" if not f.startswith(where) else f for f in found[before:]
                    ]
    assert answers > 0
    bare = [f for f in found if (service, f.split(": ")[-1]) not in FREE_FORM]
    assert bare == []


def test_the_walk_finds_a_bare_object() -> None:
    """The check itself can fail: a dict answer and an ``Any`` field are both found."""
    doc = {
        "components": {
            "schemas": {"A": {"type": "object", "properties": {"x": {}, "y": {"type": "integer"}}}}
        }
    }
    found: list[str] = []
    _walk(doc, {"type": "object", "additionalProperties": True}, "GET /a 200", set(), found)
    _walk(doc, {"$ref": "#/components/schemas/A"}, "GET /b 200", set(), found)
    assert found == ["GET /a 200", "A.x"]


OPEN = {"/healthz", "/readyz", "/metrics", "/login", "/logout"}


@pytest.mark.parametrize("service", list(catalog.SERVICES))
def test_every_operation_names_its_credentials(
    service: str, documents: dict[str, dict[str, Any]]
) -> None:
    """A channel's ``X-Api-Key`` (ChannelKey) or a staff token (HTTPBearer, or the Session
    cookie of the pages) is declared on every operation but the probes and the login."""
    doc = documents[service]
    declared = set(doc["components"]["securitySchemes"])
    missing = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            named = {name for option in operation.get("security", []) for name in option}
            if path not in OPEN and not named:
                missing.append(f"{method.upper()} {path}")
            assert named <= declared
    assert missing == []
    assert {"HTTPBearer"} <= declared
    if service != "intake":
        assert "Session" in declared

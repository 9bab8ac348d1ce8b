"""Every error answer is RFC 9457 problem details (application/problem+json), and the OpenAPI
document says so for every error response."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from services.runtime.http import PROBLEM_JSON, FieldErrors, install_common, problem


class Body(BaseModel):
    phone: str = Field(min_length=11)


def app() -> FastAPI:
    api = FastAPI()
    install_common(api, service="test", readiness={})

    @api.post("/things", responses={403: {"description": "not yours"}})
    async def make(body: Body) -> dict[str, str]:
        if body.phone.startswith("0"):
            raise FieldErrors([{"field": "phone", "reason": "landlines are not accepted"}])
        if body.phone.startswith("9"):
            raise HTTPException(403, detail="office: another office's", headers={"X-Why": "1"})
        return {"ok": body.phone}

    @api.post("/conflict")
    async def conflict() -> object:
        return problem(409, "close after a revisit", complaint_status="revisited", version=7)

    return api


def test_each_kind_of_error_is_problem_details() -> None:
    client = TestClient(app())
    bad = client.post("/things", json={"phone": "1"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM_JSON
    doc = bad.json()
    assert (doc["type"], doc["title"], doc["status"], doc["instance"]) == (
        "about:blank",
        "Unprocessable Entity",
        422,
        "/things",
    )
    assert [e["field"] for e in doc["errors"]] == ["phone"] and "phone" in doc["detail"]

    rule = client.post("/things", json={"phone": "01234567890"}).json()
    assert rule["errors"] == [{"field": "phone", "reason": "landlines are not accepted"}]

    refused = client.post("/things", json={"phone": "91234567890"})
    assert refused.status_code == 403 and refused.headers["x-why"] == "1"
    assert refused.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "office: another office's",
        "instance": "/things",
    }
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and missing.json()["status"] == 404

    conflict = client.post("/conflict")
    assert conflict.headers["content-type"] == PROBLEM_JSON
    assert conflict.json()["complaint_status"] == "revisited" and conflict.json()["status"] == 409
    assert client.post("/things", json={"phone": "12345678901"}).json() == {"ok": "12345678901"}


def test_the_document_declares_problem_details_for_every_error() -> None:
    doc = app().openapi()
    responses = doc["paths"]["/things"]["post"]["responses"]
    for code in ("403", "422"):
        assert responses[code]["content"] == {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["properties"]) >= {"type", "title", "status", "detail", "errors"}
    assert "FieldError" in schemas

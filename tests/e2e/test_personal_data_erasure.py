"""Issue 16, point 5 (PIPL Art. 47): personal data erasable from an immutable log.

On a system of this module's own (intake, workflow, reporting): complaints from one unique
complainant come in over HTTP and through the submissions topic. The raw bytes of the events
topic (and of the dead-letter topic) hold neither the phone, in any written form, nor the name,
nor the free text. The reads show them (masked per the rule) until ``complaints erase`` with a
company token destroys the key; from the very next read on, and after rebuilding every
projection, they show 已删除. A non-company token is refused; the audit event is in the log and
carries no personal data. The retention job erases only the complainant whose complaints all
ended long enough ago.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from contracts import Channel, complaint_id_for
from contracts.intake import mask_name, mask_phone
from contracts.submissions import SubmissionFormat, record_headers
from services.runtime import vault
from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.settings import Settings
from services.workflow.erasure import retention_sweep
from tests.conftest import RUN, Infra, RunningSystem
from tests.e2e.helpers import (
    CHINA,
    HOTLINE,
    READER,
    complaints,
    eventually,
    minutes_ago,
    own_system,
    read_events,
    read_topic,
    submission,
)
from tests.e2e.test_intake_submissions_topic import publish
from tests.e2e.test_reporting_rebuild import caught_up

pytestmark = pytest.mark.infra

OFFICE = f"隐私{uuid.uuid4().hex[:6]}园"
ERASED = vault.ERASED
PEPPER = Settings().pepper()  # the systems of the tests run in local mode


def bearer(role: StaffRole, office: str | None, staff_id: str) -> dict[str, str]:
    token = issue_token(Settings(), Staff(staff_id=staff_id, role=role, office=office))
    return {"Authorization": f"Bearer {token}"}


AGENT = bearer(StaffRole.CS_AGENT, OFFICE, "agent-privacy")
COMPANY_ID = "company-privacy"
COMPANY = bearer(StaffRole.COMPANY, None, COMPANY_ID)


@pytest.fixture(scope="module")
async def own(real_infra: Infra) -> AsyncIterator[RunningSystem]:
    """Intake, workflow and reporting on a log of this module's own: it is rebuilt here."""
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        real_infra.home / "logs" / f"test-{RUN}pii",
        f"{RUN}pii",
        services=["intake", "workflow", "reporting"],
    ) as system:
        yield system


class Person:
    """A complainant nobody else has: a fresh mobile number and name, and texts of theirs."""

    def __init__(self) -> None:
        digits = f"{random.randrange(10**8):08d}"
        self.phone = f"139{digits}"
        self.spaced = f"139 {digits[:4]} {digits[4:]}"
        self.name = f"司徒{uuid.uuid4().hex[:6]}"
        mark = uuid.uuid4().hex[:8]
        self.description = f"楼上漏水，联系{self.name}，电话{self.phone}，记号{mark}"
        self.demand = f"尽快维修{mark}"
        self.ref = vault.complainant_ref(PEPPER, self.phone)

    def written_forms(self) -> list[bytes]:
        """Every way the log could carry this person in clear."""
        forms = [
            self.phone,
            self.spaced,
            f"+86{self.phone}",
            f"+86 {self.spaced}",
            f"{self.phone[:3]}-{self.phone[3:7]}-{self.phone[7:]}",
            mask_phone(self.phone),  # not even masked
            self.name,
            self.description,
            self.demand,
        ]
        out = [f.encode() for f in forms]
        # and JSON's \u escapes of the non-ASCII ones
        out += [f.encode("ascii", "backslashreplace") for f in forms if not f.isascii()]
        return out


async def submit_http(http: httpx.AsyncClient, system: RunningSystem, who: Person) -> str:
    body = submission(
        office=OFFICE,
        unit=f"{random.randint(10, 99)}栋{random.randint(1000, 9999)}",
        complainant={"name": who.name, "phone": f"+86 {who.spaced}"},
        subject="卫生间漏水",
        description=who.description,
        demand=who.demand,
        occurred_at=minutes_ago(3),
    )
    resp = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=HOTLINE)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["complaint_id"])


async def submit_topic(system: RunningSystem, who: Person) -> str:
    body = {
        "app_complaint_id": f"APP-{uuid.uuid4().hex[:10]}",
        "owner_account_id": "U-privacy",
        "owner_name": who.name,
        "owner_phone": who.spaced,
        "office": OFFICE,
        "unit": f"{random.randint(10, 99)}栋{random.randint(1000, 9999)}",
        "category": "facilities",
        "text": who.description,
        "demand": who.demand,
        "submitted_at": minutes_ago(2),
    }
    value = orjson.dumps(body)
    await publish(
        system,
        [(value, record_headers(Channel.APP, "dev-app", SubmissionFormat.APP_COMPLAINT, value))],
    )
    return str(complaint_id_for(Channel.APP, body["app_complaint_id"]))


async def workflow_view(
    http: httpx.AsyncClient, system: RunningSystem, cid: str, headers: dict[str, str]
) -> dict[str, Any]:
    resp = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=headers)
    assert resp.status_code == 200, resp.text
    received = resp.json()["history"][0]
    assert received["type"] == "ComplaintReceived"
    return dict(received["data"])


async def reporting_view(http: httpx.AsyncClient, system: RunningSystem, cid: str) -> Any:
    resp = await http.get(f"{system.urls['reporting']}/v1/complaints/{cid}", headers=READER)
    return resp.json() if resp.status_code == 200 else None


async def written_csv(http: httpx.AsyncClient, system: RunningSystem) -> str:
    resp = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.csv",
        # the days of this test's complaints, in China Standard Time (whatever the month)
        params={
            "sheet": "written",
            "office": OFFICE,
            "from": (datetime.now(CHINA) - timedelta(days=1)).date().isoformat(),
            "to": datetime.now(CHINA).date().isoformat(),
        },
        headers=READER,
    )
    assert resp.status_code == 200, resp.text
    return resp.text


def shown(data: dict[str, Any]) -> tuple[str, str, str, str]:
    who = data["complainant"]
    return who["name"], who["phone"], data["description"], data["demand"]


async def run_cli(system: RunningSystem, token: dict[str, str], *args: str) -> Any:
    env = {
        **system.env,
        "COMPLAINTS_WORKFLOW_URL": system.urls["workflow"],
        "COMPLAINTS_TOKEN": token["Authorization"].removeprefix("Bearer "),
    }
    return await complaints(env, "erase", *args)


async def all_log_bytes(system: RunningSystem) -> bytes:
    """Every key, value and header of the events and dead-letter topics, as stored."""
    out = bytearray()
    for topic in (system.topics["events"], system.topics["deadletter"]):
        for record in await read_topic(system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], topic):
            out += (record.key or b"") + b"\0" + (record.value or b"") + b"\0"
            for name, value in record.headers:
                out += name.encode() + b"=" + value + b"\0"
    return bytes(out)


async def test_personal_data_is_sealed_in_the_log_and_erased_everywhere_at_once_and_after_a_rebuild(
    http: httpx.AsyncClient, own: RunningSystem
) -> None:
    who = Person()
    by_http = await submit_http(http, own, who)
    by_topic = await submit_topic(own, who)

    async def in_workflow(cid: str) -> dict[str, Any] | None:
        resp = await http.get(f"{own.urls['workflow']}/v1/complaints/{cid}", headers=AGENT)
        return dict(resp.json()) if resp.status_code == 200 else None

    for cid in (by_http, by_topic):
        await eventually(lambda cid=cid: in_workflow(cid), timeout=40)  # type: ignore[misc]
        await eventually(lambda cid=cid: reporting_view(http, own, cid), timeout=40)  # type: ignore[misc]

    # 1. The log's raw bytes carry no plaintext of this person.
    raw = await all_log_bytes(own)
    assert raw, "the events topic is empty"
    for form in who.written_forms():
        assert form not in raw, form
    # ... while the complaints themselves are in it (the search reads the right topic)
    assert by_http.encode() in raw and by_topic.encode() in raw
    sealed = [
        e
        for e in await read_events(own.env["COMPLAINTS_KAFKA_BOOTSTRAP"], own.topics["events"])
        if e["type"] == "ComplaintReceived" and e["complaint_id"] in (by_http, by_topic)
    ]
    assert {e["schema_version"] for e in sealed} == {4}
    assert {e["data"]["complainant"]["ref"] for e in sealed} == {who.ref}

    # 2. Before erasure: the office's staff see them whole, the company masked (the one
    # masking rule); reporting masked.
    for cid in (by_http, by_topic):
        assert shown(await workflow_view(http, own, cid, AGENT)) == (
            who.name,
            who.phone,
            who.description,
            who.demand,
        )
        assert shown(await workflow_view(http, own, cid, COMPANY)) == (
            mask_name(who.name),
            mask_phone(who.phone),
            who.description,
            who.demand,
        )
        found = await reporting_view(http, own, cid)
        assert found["complainant"] == {"name": mask_name(who.name), "phone": mask_phone(who.phone)}
        assert (found["description"], found["demand"]) == (who.description, who.demand)
    # the export: a valid complaint's latest text is quoted among the main problems
    await http.post(
        f"{own.urls['workflow']}/v1/complaints/{by_http}/acknowledge", json={}, headers=AGENT
    )
    resp = await http.post(
        f"{own.urls['workflow']}/v1/complaints/{by_http}/classify",
        json={"validity": "valid", "category": "facilities"},
        headers=AGENT,
    )
    assert resp.status_code == 200, resp.text

    async def quoted() -> str | None:
        text = await written_csv(http, own)
        return text if who.description in text else None

    await eventually(quoted, timeout=40)

    # (what a backup of the vault taken now holds: used in step 7)
    backup = await vault_row(own, who.ref)
    assert backup["key"] is not None

    # 3. Only the company role erases.
    refused = await run_cli(own, AGENT, "--phone", who.phone, "--reason", "owner_request")
    assert refused.returncode == 1 and "403" in refused.stderr, refused.stderr
    assert shown(await workflow_view(http, own, by_http, AGENT))[0] == who.name
    direct = await http.post(
        f"{own.urls['workflow']}/v1/complainants/erasures",
        json={"phone": who.phone, "reason": "because I said so"},
        headers=COMPANY,
    )
    assert direct.status_code == 422 and "reason" in direct.text

    done = await run_cli(
        own,
        COMPANY,
        "--phone",
        f"+86 {who.spaced}",
        "--reason",
        "owner_request",
        "--reference",
        "REQ-2026-17",
    )
    assert done.returncode == 0, done.stderr
    assert "erased" in done.stdout and "already" not in done.stdout

    # 4. At once: the very next reads show 已删除, to everyone.
    async def all_erased() -> None:
        for cid in (by_http, by_topic):
            for headers in (AGENT, COMPANY):
                assert shown(await workflow_view(http, own, cid, headers)) == (ERASED,) * 4
            found = await reporting_view(http, own, cid)
            assert found["complainant"] == {"name": ERASED, "phone": ERASED}
            assert (found["description"], found["demand"]) == (ERASED, ERASED)
        text = await written_csv(http, own)
        assert who.description not in text and ERASED in text

    await all_erased()
    # the caller directory forgets the number: a call giving only it is refused
    call = {
        "call_id": f"CALL-{uuid.uuid4().hex[:10]}",
        "caller_number": who.phone,
        "agent_id": "A-privacy",
        "call_started_at": minutes_ago(1),
        "subject": "卫生间漏水",
        "summary": "又漏水了",
    }
    resp = await http.post(
        f"{own.urls['intake']}/v1/channels/hotline/calls", json=call, headers=HOTLINE
    )
    assert resp.status_code == 422 and "caller_name" in resp.text, resp.text

    again = await run_cli(own, COMPANY, "--phone", who.phone, "--reason", "owner_request")
    assert again.returncode == 0 and "already erased" in again.stdout, again.stdout

    # 5. The audit event: in the log, once, naming the reference and no personal data.
    async def audit() -> list[dict[str, Any]] | None:
        events = await read_events(own.env["COMPLAINTS_KAFKA_BOOTSTRAP"], own.topics["events"])
        found = [
            e
            for e in events
            if e["type"] == "ComplainantErased" and e["data"]["complainant_ref"] == who.ref
        ]
        return found or None

    (erased,) = await eventually(audit, timeout=20)
    assert erased["data"]["reason"] == "owner_request"
    assert erased["data"]["reference"] == "REQ-2026-17"
    assert erased["data"]["erased_by"] == COMPANY_ID
    raw = await all_log_bytes(own)
    for form in who.written_forms():
        assert form not in raw, form

    # 6. After rebuilding every projection from offset 0: still 已删除.
    for service in ("reporting", "workflow", "intake"):
        await caught_up(own, service)
        rebuilt = await complaints(own.env, "rebuild", service)
        assert rebuilt.returncode == 0, rebuilt.stderr
    await all_erased()
    resp = await http.post(
        f"{own.urls['intake']}/v1/channels/hotline/calls",
        json={**call, "call_id": f"CALL-{uuid.uuid4().hex[:10]}"},
        headers=HOTLINE,
    )
    assert resp.status_code == 422 and "caller_name" in resp.text, resp.text

    # 7. A vault backup from before the erasure is restored: the key is back (the reads show
    # the person again) until the workflow reads the erasure from the log again (after a
    # restore it re-reads the events after its restored offsets; a rebuild reads them all),
    # which destroys the key once more: the log is the record of erasures.
    conn = await asyncpg.connect(own.database_url)
    try:
        await conn.execute(
            """UPDATE vault.complainant_keys
               SET key = $2, created_at = $3, erased_at = NULL, erasure_reason = NULL,
                   erasure_reference = NULL, erased_by = NULL
               WHERE complainant_ref = $1""",
            who.ref,
            backup["key"],
            backup["created_at"],
        )
    finally:
        await conn.close()
    assert shown(await workflow_view(http, own, by_http, AGENT))[0] == who.name
    rebuilt = await complaints(own.env, "rebuild", "workflow")
    assert rebuilt.returncode == 0, rebuilt.stderr
    await all_erased()
    assert (await vault_row(own, who.ref))["key"] is None


async def vault_row(system: RunningSystem, ref: str) -> Any:
    conn = await asyncpg.connect(system.database_url)
    try:
        return await conn.fetchrow(
            "SELECT key, created_at FROM vault.complainant_keys WHERE complainant_ref = $1", ref
        )
    finally:
        await conn.close()


async def test_the_retention_job_erases_only_the_complainant_whose_complaints_all_ended_long_ago(
    http: httpx.AsyncClient, own: RunningSystem
) -> None:
    ended, still_open = Person(), Person()
    gone = await submit_http(http, own, ended)
    open_one = await submit_http(http, own, still_open)
    for cid in (gone, open_one):
        await eventually(lambda cid=cid: _known(http, own, cid), timeout=40)  # type: ignore[misc]
    resp = await http.post(
        f"{own.urls['workflow']}/v1/complaints/{gone}/withdraw",
        json={"reason": "业主撤诉"},
        headers=AGENT,
    )
    assert resp.status_code == 200, resp.text

    settings = Settings(topic_events=own.topics["events"])
    conn = await asyncpg.connect(own.database_url, server_settings={"search_path": "workflow"})
    try:
        # Not yet three years: nobody is erased.
        assert await retention_sweep(conn, settings, now=datetime.now(UTC), years=3) == []
        # Three years and a day later (the clock the job is given): only the ended one.
        later = datetime.now(UTC) + timedelta(days=3 * 366)
        erased = await retention_sweep(conn, settings, now=later, years=3)
        assert ended.ref in erased and still_open.ref not in erased
        assert await retention_sweep(conn, settings, now=later, years=3) == []  # once only
    finally:
        await conn.close()

    assert shown(await workflow_view(http, own, gone, AGENT)) == (ERASED,) * 4
    assert shown(await workflow_view(http, own, open_one, AGENT)) == (
        still_open.name,
        still_open.phone,
        still_open.description,
        still_open.demand,
    )

    async def audit() -> dict[str, Any] | None:
        events = await read_events(own.env["COMPLAINTS_KAFKA_BOOTSTRAP"], own.topics["events"])
        return next(
            (
                e
                for e in events
                if e["type"] == "ComplainantErased" and e["data"]["complainant_ref"] == ended.ref
            ),
            None,
        )

    event = await eventually(audit, timeout=20)
    assert event["data"]["reason"] == "retention" and event["data"]["erased_by"] == "retention"


async def _known(http: httpx.AsyncClient, system: RunningSystem, cid: str) -> bool | None:
    resp = await http.get(f"{system.urls['workflow']}/v1/complaints/{cid}", headers=AGENT)
    return True if resp.status_code == 200 else None

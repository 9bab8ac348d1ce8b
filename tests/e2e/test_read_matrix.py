"""Who may read what (issue 16, point 3): every role of office A and of office B, the company
and analyst roles, no token and a bad token × every read of SLA, reporting and workflow, about
a complaint of office A.

The expected answers are written out below, one literal row per identity; nothing here is
derived from ``services.runtime.auth`` or ``services.workflow.permissions``, which are what is
under test. Pages answer a browser (``Accept: text/html``) without a session with a 303 to the
login instead of the 401: checked separately below.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.login import csrf_token
from services.runtime.settings import Settings
from tests.conftest import RunningSystem
from tests.e2e.helpers import HOTLINE, READER, eventually, submission
from tests.e2e.test_workflow_lifecycle import received, unique_phone

pytestmark = pytest.mark.infra

A, B = "Y园", "G小城"
NAME = "矩阵读者"
PERIOD = {"from": "2020-01-01", "to": "2030-12-31"}

# (service, path, query); {cid} is the complaint of office A
ENDPOINTS: dict[str, tuple[str, str, dict[str, str]]] = {
    "sla.clocks": ("sla", "/v1/complaints/{cid}/sla", {}),
    "sla.overdue": ("sla", "/v1/sla/overdue", {}),
    "sla.overdue.A": ("sla", "/v1/sla/overdue", {"office": A}),
    "sla.calendar": ("sla", "/v1/sla/calendar", {}),
    "rep.complaint": ("reporting", "/v1/complaints/{cid}", {}),
    "rep.stats": ("reporting", "/v1/stats", {}),
    "rep.monthly": ("reporting", "/v1/reports/monthly", PERIOD),
    "rep.monthly.A": ("reporting", "/v1/reports/monthly", {**PERIOD, "office": A}),
    "rep.xlsx.A": ("reporting", "/v1/reports/monthly.xlsx", {**PERIOD, "office": A}),
    "rep.csv.A": ("reporting", "/v1/reports/monthly.csv", {**PERIOD, "office": A}),
    "rep.dashboard": ("reporting", "/v1/dashboard", {}),
    "rep.dashboard.A": ("reporting", "/v1/dashboard", {"office": A}),
    "page.monthly.A": ("reporting", "/reports/monthly", {**PERIOD, "office": A}),
    "page.dashboard.A": ("reporting", "/dashboard", {"office": A}),
    "wf.complaint": ("workflow", "/v1/complaints/{cid}", {}),
    "wf.list": ("workflow", "/v1/complaints", {}),
    "wf.list.A": ("workflow", "/v1/complaints", {"office": A}),
    # the analyst console's drill-downs (issue 17): the complaints behind a count
    "rep.mlist.A": (
        "reporting",
        "/v1/reports/monthly/complaints",
        {**PERIOD, "office": A, "figure": "received"},
    ),
    "rep.mlist.B": (
        "reporting",
        "/v1/reports/monthly/complaints",
        {**PERIOD, "office": B, "figure": "received"},
    ),
    "rep.dlist.A": ("reporting", "/v1/dashboard/complaints", {"office": A, "figure": "open"}),
    "rep.dlist.B": ("reporting", "/v1/dashboard/complaints", {"office": B, "figure": "open"}),
}

# fmt: off
# Columns, in ENDPOINTS' order: sla.clocks, sla.overdue, sla.overdue.A, sla.calendar,
# rep.complaint, rep.stats, rep.monthly, rep.monthly.A, rep.xlsx.A
#                          clk  ovd  ovA  cal  cmp  sta  mon  moA  xlA
SLA_AND_REPORTS: dict[str, tuple[int, ...]] = {
    "cs_agent@A":        (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "cs_head@A":         (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "department@A":      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "supervisor@A":      (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "project_manager@A": (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "cs_agent@B":        (403, 200, 403, 200, 403, 200, 200, 403, 403),
    "cs_head@B":         (403, 200, 403, 200, 403, 200, 200, 403, 403),
    "department@B":      (403, 200, 403, 200, 403, 200, 200, 403, 403),
    "supervisor@B":      (403, 200, 403, 200, 403, 200, 200, 403, 403),
    "project_manager@B": (403, 200, 403, 200, 403, 200, 200, 403, 403),
    "company":           (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "analyst":           (200, 200, 200, 200, 200, 200, 200, 200, 200),
    "no token":          (401, 401, 401, 401, 401, 401, 401, 401, 401),
    "bad token":         (401, 401, 401, 401, 401, 401, 401, 401, 401),
}
# then rep.csv.A, rep.dashboard, rep.dashboard.A, page.monthly.A, page.dashboard.A,
# wf.complaint, wf.list, wf.list.A
#                          csA  dsh  dsA  pgM  pgD  wfC  wfL  wLA
DASHBOARDS_PAGES_AND_WORKFLOW: dict[str, tuple[int, ...]] = {
    "cs_agent@A":        (200, 200, 200, 200, 200, 200, 200, 200),
    "cs_head@A":         (200, 200, 200, 200, 200, 200, 200, 200),
    "department@A":      (200, 200, 200, 200, 200, 200, 200, 200),
    "supervisor@A":      (200, 200, 200, 200, 200, 200, 200, 200),
    "project_manager@A": (200, 200, 200, 200, 200, 200, 200, 200),
    "cs_agent@B":        (403, 200, 403, 403, 403, 403, 200, 403),
    "cs_head@B":         (403, 200, 403, 403, 403, 403, 200, 403),
    "department@B":      (403, 200, 403, 403, 403, 403, 200, 403),
    "supervisor@B":      (403, 200, 403, 403, 403, 403, 200, 403),
    "project_manager@B": (403, 200, 403, 403, 403, 403, 200, 403),
    "company":           (200, 200, 200, 200, 200, 200, 200, 200),
    "analyst":           (200, 200, 200, 200, 200, 200, 200, 200),
    "no token":          (401, 401, 401, 401, 401, 401, 401, 401),
    "bad token":         (401, 401, 401, 401, 401, 401, 401, 401),
}
# then rep.mlist.A, rep.mlist.B (the report's drill-down, office A / B), rep.dlist.A,
# rep.dlist.B (the dashboard's)
#                          mlA  mlB  dlA  dlB
DRILL_DOWNS: dict[str, tuple[int, ...]] = {
    "cs_agent@A":        (200, 403, 200, 403),
    "cs_head@A":         (200, 403, 200, 403),
    "department@A":      (200, 403, 200, 403),
    "supervisor@A":      (200, 403, 200, 403),
    "project_manager@A": (200, 403, 200, 403),
    "cs_agent@B":        (403, 200, 403, 200),
    "cs_head@B":         (403, 200, 403, 200),
    "department@B":      (403, 200, 403, 200),
    "supervisor@B":      (403, 200, 403, 200),
    "project_manager@B": (403, 200, 403, 200),
    "company":           (200, 200, 200, 200),
    "analyst":           (200, 200, 200, 200),
    "no token":          (401, 401, 401, 401),
    "bad token":         (401, 401, 401, 401),
}
# fmt: on
EXPECTED = {
    k: SLA_AND_REPORTS[k] + DASHBOARDS_PAGES_AND_WORKFLOW[k] + DRILL_DOWNS[k]
    for k in SLA_AND_REPORTS
}

# Whether the complainant's name and phone are shown whole, on (workflow, reporting)'s view
# of the complaint of office A (None: that identity gets no view). Reporting's projection keeps
# them masked for everyone.
UNMASKED: dict[str, tuple[bool | None, bool | None]] = {
    "cs_agent@A": (True, False),
    "cs_head@A": (True, False),
    "department@A": (True, False),
    "supervisor@A": (True, False),
    "project_manager@A": (True, False),
    "cs_agent@B": (None, None),
    "cs_head@B": (None, None),
    "department@B": (None, None),
    "supervisor@B": (None, None),
    "project_manager@B": (None, None),
    "company": (False, False),
    "analyst": (False, False),
    "no token": (None, None),
    "bad token": (None, None),
}


def headers_of(identity: str) -> dict[str, str]:
    if identity == "no token":
        return {}
    if identity == "bad token":
        forged = issue_token(
            Settings(staff_token_secret="not-the-secret"),
            Staff(staff_id="forger", role=StaffRole.COMPANY),
        )
        return {"Authorization": f"Bearer {forged}"}
    role, _, office = identity.partition("@")
    staff = Staff(
        staff_id=f"{role}-read", role=StaffRole(role), office={"A": A, "B": B}.get(office)
    )
    return {"Authorization": f"Bearer {issue_token(Settings(), staff)}"}


def test_the_table_covers_every_endpoint_and_identity() -> None:
    assert all(len(row) == len(ENDPOINTS) for row in EXPECTED.values())
    assert set(UNMASKED) == set(EXPECTED)


async def test_every_read_answers_each_identity_as_the_table_says(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    phone = unique_phone()
    desk = await received(http, system, complainant={"name": NAME, "phone": phone})

    async def everywhere() -> bool:  # SLA and reporting have projected it too
        for service, path in (("sla", "/v1/complaints/{cid}/sla"), ("reporting", path_rep)):
            url = system.urls[service] + path.format(cid=desk.id)
            if (await http.get(url, headers=READER)).status_code != 200:
                return False
        return True

    path_rep = "/v1/complaints/{cid}"
    await eventually(everywhere, timeout=30)

    wrong: list[str] = []
    for identity, row in EXPECTED.items():
        headers = headers_of(identity)
        for (name, (service, path, query)), expected in zip(ENDPOINTS.items(), row, strict=True):
            url = system.urls[service] + path.format(cid=desk.id)
            resp = await http.get(url, params=query, headers=headers, follow_redirects=False)
            if resp.status_code != expected:
                wrong.append(f"{identity} {name}: {resp.status_code}, expected {expected}")
                continue
            if expected == 403 and not resp.json()["detail"].startswith("office"):
                wrong.append(f"{identity} {name}: a 403 that does not name office")
            if expected == 200 and name in ("wf.complaint", "rep.complaint"):
                shown = _complainant(name, resp.json())
                whole = shown == {"name": NAME, "phone": phone}
                masked = shown == {"name": "矩***", "phone": f"{phone[:3]}****{phone[-4:]}"}
                want = UNMASKED[identity][0 if name == "wf.complaint" else 1]
                if not (whole if want else masked):
                    wrong.append(f"{identity} {name}: complainant shown as {shown}")
    assert wrong == []


def _complainant(endpoint: str, body: dict[str, Any]) -> dict[str, str]:
    if endpoint == "rep.complaint":
        return dict(body["complainant"])
    first = next(h for h in body["history"] if h["type"] == "ComplaintReceived")
    return {k: first["data"]["complainant"][k] for k in ("name", "phone")}


@pytest.mark.parametrize("role", ["cs_agent", "department"])
async def test_an_office_scoped_list_holds_only_its_office(
    http: httpx.AsyncClient, system: RunningSystem, role: str
) -> None:
    of_b = submission(office=B, complainant={"name": "乙", "phone": unique_phone()})
    sent = await http.post(f"{system.urls['intake']}/v1/complaints", json=of_b, headers=HOTLINE)
    assert sent.status_code == 202, sent.text
    await received(http, system, complainant={"name": "甲", "phone": unique_phone()})  # A
    headers = headers_of(f"{role}@B")

    async def counted() -> dict[str, Any] | None:
        stats = (await http.get(f"{system.urls['reporting']}/v1/stats", headers=headers)).json()
        return stats if stats["by_office"].get(B) else None

    stats = await eventually(counted, timeout=30)
    assert set(stats["by_office"]) == {B}
    overdue = await http.get(f"{system.urls['sla']}/v1/sla/overdue", headers=headers)
    assert set(overdue.json()["by_office"]) <= {B}
    board = await http.get(f"{system.urls['reporting']}/v1/dashboard", headers=headers)
    assert board.json()["office"] == B
    report = await http.get(f"{system.urls['reporting']}/v1/reports/monthly", headers=headers)
    assert report.status_code == 200 and report.json()["office"] == B
    queue = await http.get(
        f"{system.urls['workflow']}/v1/complaints", params={"limit": "200"}, headers=headers
    )
    items = queue.json()["items"]
    assert queue.json()["total"] >= 1 and {i["office"] for i in items} == {B}
    # the company sees both offices in the same lists
    everyone = (await http.get(f"{system.urls['reporting']}/v1/stats", headers=READER)).json()
    assert {A, B} <= set(everyone["by_office"])


async def test_a_browser_logs_in_with_a_token_and_out_again(system: RunningSystem) -> None:
    base = system.urls["reporting"]
    token = headers_of("cs_head@A")["Authorization"].removeprefix("Bearer ")
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=html) as browser:
        for page_path in ("/reports/monthly", "/dashboard"):
            bare = await browser.get(page_path, headers={"Accept": "*/*"})
            assert bare.status_code == 401  # a script without a token: like every API
        page = await browser.get("/dashboard", params={"office": A})
        assert page.status_code == 303
        assert page.headers["location"].startswith("/login?next=%2Fdashboard")
        form = await browser.get(page.headers["location"])
        assert form.status_code == 200 and 'name="token"' in form.text
        refused = await browser.post("/login", data={"token": "nonsense", "next": "/dashboard"})
        assert refused.status_code == 401 and "token:" in refused.text
        assert "complaints_session" not in browser.cookies
        done = await browser.post("/login", data={"token": token, "next": "/dashboard"})
        assert done.status_code == 303 and done.headers["location"] == "/dashboard"
        cookie = done.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        # a session cookie (shared front-desk PCs): the browser drops it when it closes
        assert "Max-Age=" not in cookie and "expires=" not in cookie.lower()
        assert (await browser.get("/dashboard")).status_code == 200
        assert (await browser.get("/v1/dashboard")).json()["office"] == A  # the cookie for APIs
        assert (await browser.get("/dashboard", params={"office": B})).status_code == 403
        forged = await browser.post("/logout")  # no csrf: another site's form
        assert forged.status_code == 403
        assert (await browser.get("/v1/dashboard")).status_code == 200
        out = await browser.post("/logout", data={"csrf": csrf_token(Settings(), token)})
        assert out.status_code == 303
        assert (await browser.get("/v1/dashboard")).status_code == 401


async def test_the_workbench_pages_ask_a_browser_to_log_in_and_a_script_for_a_token(
    system: RunningSystem,
) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    async with httpx.AsyncClient(base_url=system.urls["workflow"], timeout=30) as client:
        for page_path in ("/queue", f"/complaints/{uuid.uuid4()}"):
            bare = await client.get(page_path, headers={"Accept": "*/*"})
            assert bare.status_code == 401, page_path
            page = await client.get(page_path, headers=html)
            assert page.status_code == 303, page_path
            assert page.headers["location"] == f"/login?next={quote(page_path, safe='')}"
        command = await client.post(
            f"/complaints/{uuid.uuid4()}/commands/acknowledge", headers={"Accept": "*/*"}
        )
        assert command.status_code == 401
        bad = await client.get("/queue", headers={**html, "Authorization": "Bearer nonsense"})
        assert bad.status_code == 303


async def test_local_mode_offers_development_identities(system: RunningSystem) -> None:
    async with httpx.AsyncClient(base_url=system.urls["reporting"], timeout=30) as browser:
        form = await browser.get("/login", params={"next": "//evil.example/"})
        assert "dev-analyst" in form.text and 'value="/"' in form.text  # no open redirect
        done = await browser.post("/login", data={"identity": "0", "next": "/v1/stats"})
        assert done.status_code == 303 and done.headers["location"] == "/v1/stats"
        stats = await browser.get("/v1/stats")
        assert stats.status_code == 200 and "by_office" in stats.json()

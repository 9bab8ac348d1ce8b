"""Issue 5 end to end: the monthly report computed from what really happened.

Complaints are submitted through intake and moved through the workflow's staff API; the report
is read from the reporting service as JSON, XLSX, CSV and HTML, and every figure is checked
against what was submitted. The complaints of the main test occurred in July–August 2025, a
period no other test of the session uses, so the company-wide figures are exactly these; their
offices are named uniquely. (Being in the past, the real SLA service breaches their first
response and reply while the test runs: the figures checked here do not depend on that.)
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from openpyxl import load_workbook

from contracts import Envelope, encode_event
from contracts.lifecycle import Role
from tests.conftest import RunningSystem
from tests.e2e.helpers import APP, HOTLINE, READER, SUPERVISION, eventually, submission
from tests.e2e.test_workflow_lifecycle import Desk, bearer, later

pytestmark = pytest.mark.infra

COMPANY = bearer(Role.COMPANY, office=None)  # sees every office


# ------------------------------------------------------------------------------------------
# helpers shared by the reporting tests
# ------------------------------------------------------------------------------------------


def unique_office(kind: str) -> str:
    """An office name no other test uses."""
    return f"报表{uuid.uuid4().hex[:6]}{kind}"


@dataclass
class Case:
    """A complaint submitted for a reporting test, and the office's project manager."""

    desk: Desk
    office: str

    @property
    def id(self) -> str:
        return self.desk.id

    @property
    def pm(self) -> dict[str, str]:
        return bearer(Role.PROJECT_MANAGER, office=self.office)

    async def do(self, command: str, **body: Any) -> dict[str, Any]:
        """Give a command as the office's project manager (who may give every one needed)."""
        return await self.desk.do(command, self.pm, **body)

    async def judge(self, validity: str, category: str | None = None) -> dict[str, Any]:
        await self.do("acknowledge")
        body = {"validity": validity} | ({"category": category} if category else {})
        return await self.do("classify", **body)

    async def close_invalid(self) -> None:
        await self.judge("invalid")
        await self.do("reply", message="经核实不属物业责任，已向业主解释", final=True)
        await self.do("close")

    async def handle(self, category: str, *, satisfied: bool | None) -> None:
        """Valid, through to an implemented plan and a reply; revisited if ``satisfied`` given,
        closed if satisfied."""
        state = await self.judge("valid", category)
        await self.do("assign", department=state["proposed_department"], deadline=later(3))
        await self.do("analyse", cause="巡查不到位", responsible_party="责任部门")
        plan_id = (await self.do("propose", plan="限期整改"))["plans"][-1]["plan_id"]
        await self.do("approve", plan_id=plan_id)
        await self.do("implement", plan_id=plan_id, summary="已整改")
        await self.do("reply", message="已整改完毕", final=True)
        if satisfied is not None:
            await self.do("revisit", satisfied=satisfied)
        if satisfied:
            await self.do("close")


async def submit(
    http: httpx.AsyncClient,
    system: RunningSystem,
    office: str,
    channel: dict[str, str] = HOTLINE,
    *,
    occurred_at: str | None = None,
    **overrides: Any,
) -> Case:
    """Submit a complaint through intake; return once the workflow knows it."""
    overrides.setdefault("unit", f"{uuid.uuid4().int % 90 + 10}栋{uuid.uuid4().int % 9000 + 1000}")
    overrides.setdefault(
        "complainant", {"name": "何先生", "phone": f"139{uuid.uuid4().int % 10**8:08d}"}
    )
    if occurred_at is None:
        occurred_at = datetime.now(UTC).isoformat(timespec="seconds")
    body = submission(office=office, occurred_at=occurred_at, **overrides)
    resp = await http.post(f"{system.urls['intake']}/v1/complaints", json=body, headers=channel)
    assert resp.status_code == 202, resp.text
    desk = Desk(http, system, resp.json()["complaint_id"])

    async def known() -> bool:
        got = await http.get(f"{system.urls['workflow']}/v1/complaints/{desk.id}", headers=COMPANY)
        return got.status_code == 200

    await eventually(known)
    return Case(desk, office)


async def reporting_has_caught_up(
    http: httpx.AsyncClient, system: RunningSystem, cases: list[Case]
) -> None:
    """Wait until reporting has applied every event the workflow holds for these complaints
    (the workflow's decisions reach the log through its outbox, a moment after the answer)."""

    async def caught_up() -> bool:
        for case in cases:
            flow = await http.get(
                f"{system.urls['workflow']}/v1/complaints/{case.id}", headers=COMPANY
            )
            seen = await http.get(
                f"{system.urls['reporting']}/v1/complaints/{case.id}", headers=READER
            )
            if seen.status_code != 200:
                return False
            if seen.json()["state"]["events"] < flow.json()["version"]:
                return False
        return True

    await eventually(caught_up, timeout=20)


async def publish(system: RunningSystem, envelopes: list[Envelope]) -> None:
    """Append events straight to the session's log, keyed by complaint (as a service would)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        enable_idempotence=True,
        acks="all",
    )
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(
                system.topics["events"],
                encode_event(envelope),
                key=str(envelope.complaint_id).encode(),
            )
    finally:
        await producer.stop()


async def get_json(http: httpx.AsyncClient, system: RunningSystem, path: str, **params: str) -> Any:
    resp = await http.get(f"{system.urls['reporting']}{path}", params=params, headers=READER)
    assert resp.status_code == 200, resp.text
    return resp.json()


def china(text: str) -> str:
    """An ISO instant in China Standard Time."""
    return f"{text}+08:00"


def share_sum(figures: list[dict[str, Any]], *more: dict[str, Any]) -> int:
    return sum(f["share_tenths"] for f in [*figures, *more])


# ------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------

PERIOD = {"from": "2025-07-01", "to": "2025-08-31"}


async def test_monthly_report_counts_every_complaint_as_submitted_in_every_format(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    a, b, c = unique_office("甲园"), unique_office("乙城"), unique_office("丙苑")
    before_anything = datetime.now(UTC).isoformat()

    # office a: 4 valid (environment 2, fees, facilities), 1 assist, 1 invalid, 1 not judged
    a1 = await submit(http, system, a, occurred_at=china("2025-07-03T09:00:00"), subject="外墙清洗")
    a2 = await submit(http, system, a, occurred_at=china("2025-07-20T10:00:00"), subject="外墙清洗")
    a3 = await submit(http, system, a, occurred_at=china("2025-08-02T11:00:00"), subject="物业费")
    a4 = await submit(http, system, a, occurred_at=china("2025-08-05T12:00:00"))
    a5 = await submit(http, system, a, occurred_at=china("2025-08-10T13:00:00"))
    await submit(http, system, a, occurred_at=china("2025-08-31T23:50:00"))  # not judged
    a7 = await submit(http, system, a, APP, occurred_at=china("2025-07-22T08:00:00"))
    # office b: supervision line (valid, assist), valid after midnight on 1 August, invalid
    b1 = await submit(http, system, b, SUPERVISION, occurred_at=china("2025-07-15T09:00:00"))
    b2 = await submit(http, system, b, SUPERVISION, occurred_at=china("2025-07-16T09:00:00"))
    b3 = await submit(
        http, system, b, occurred_at="2025-07-31T16:05:00+00:00", subject="垃圾清运"
    )  # 00:05 on 1 August in China
    b4 = await submit(http, system, b, APP, occurred_at=china("2025-08-09T09:00:00"))
    # office c: one valid by the supervision line
    c1 = await submit(http, system, c, SUPERVISION, occurred_at=china("2025-08-20T09:00:00"))
    # outside the period: 30 June and 1 September in China
    out1 = await submit(http, system, a, occurred_at=china("2025-06-30T23:59:00"))
    out2 = await submit(http, system, c, occurred_at="2025-08-31T16:00:30+00:00")

    await a1.handle("environment", satisfied=True)
    await a2.handle("environment", satisfied=False)
    await a3.do("acknowledge")
    between_steps = datetime.now(UTC).isoformat()
    await a3.do("classify", validity="valid", category="fees")
    await a4.judge("assist", "security")
    await a5.close_invalid()
    await a7.judge("valid", "facilities")
    await b1.judge("valid", "vehicles_traffic")
    await b2.judge("assist", "environment")
    await b3.judge("valid", "environment")
    await b4.judge("invalid")
    await c1.judge("valid", "fees")
    await out1.judge("valid", "fees")
    await out2.judge("valid", "fees")
    all_cases = [a1, a2, a3, a4, a5, a7, b1, b2, b3, b4, c1, out1, out2]
    await reporting_has_caught_up(http, system, all_cases)

    report = await get_json(http, system, "/v1/reports/monthly", **PERIOD)

    # headline figures: 12 received, 11 judged (7 valid, 2 assist, 2 invalid), 1 pending
    assert (report["received"], report["judged"], report["pending"]) == (12, 11, 1)
    types = {f["validity"]: (f["count"], f["share_label"]) for f in report["by_type"]}
    assert types == {"valid": (7, "63.6%"), "assist": (2, "18.2%"), "invalid": (2, "18.2%")}
    assert share_sum(report["by_type"]) == 1000  # 63.6 + 18.2 + 18.2: no note
    assert report["types_note"] == ""

    # the company's supervision line: 3, of which 2 valid (b and c) and 1 assist
    direct = report["direct"]
    assert (direct["total"], direct["valid"], direct["assist"], direct["invalid"]) == (3, 2, 1, 0)
    assert {o["office"]: o["count"] for o in direct["valid_by_office"]} == {b: 1, c: 1}

    # valid complaints by service category, ranked; ties keep the order of 附件2's columns
    assert [
        (f["category"], f["count"], f["rank"], f["share_label"]) for f in report["by_category"]
    ] == [
        ("environment", 3, 1, "42.9%"),  # each share rounded half-up on its own (item 10)
        ("fees", 2, 2, "28.6%"),
        ("facilities", 1, 3, "14.3%"),
        ("vehicles_traffic", 1, 4, "14.3%"),
    ]
    assert share_sum(report["by_category"], report["unclassified"]) == 1001
    assert report["categories_note"] == "数据经四舍五入"
    # valid complaints by office, ranked
    assert [
        (f["office"], f["count"], f["rank"], f["share_label"]) for f in report["by_office"]
    ] == [
        (a, 4, 1, "57.1%"),
        (b, 2, 2, "28.6%"),
        (c, 1, 3, "14.3%"),
    ]
    assert report["offices_with_valid"] == 3
    assert set(report["offices_with_complaints"]) == {a, b, c}
    assert "Y园" in report["offices_without_complaints"]  # from the configured office list

    # 附件1: per office; 附件2: valid per office × category; totals rows add up
    att1 = {r["office"]: r for r in report["attachment1"]["rows"]}
    assert [att1[a][k] for k in ("valid", "assist", "invalid", "total", "pending")] == [
        4,
        1,
        1,
        6,
        1,
    ]
    assert [att1[b][k] for k in ("valid", "assist", "invalid", "total", "pending")] == [
        2,
        1,
        1,
        4,
        0,
    ]
    assert [att1[c][k] for k in ("valid", "assist", "invalid", "total", "pending")] == [
        1,
        0,
        0,
        1,
        0,
    ]
    totals1 = report["attachment1"]["totals"]
    assert [totals1[k] for k in ("valid", "assist", "invalid", "total", "pending")] == [
        7,
        2,
        2,
        11,
        1,
    ]
    att2 = {r["office"]: r for r in report["attachment2"]["rows"]}
    assert {k: v for k, v in att2[a]["by_category"].items() if v} == {
        "environment": 2,
        "fees": 1,
        "facilities": 1,
    }
    assert {k: v for k, v in att2[b]["by_category"].items() if v} == {
        "environment": 1,
        "vehicles_traffic": 1,
    }
    assert {k: v for k, v in att2[c]["by_category"].items() if v} == {"fees": 1}
    assert report["attachment2"]["totals"]["total"] == 7

    # the main problems of the top category come from the complaint texts
    top = report["main_problems"][0]
    assert top["category"] == "environment"
    assert [(p["subject"], p["count"]) for p in top["problems"]] == [
        ("外墙清洗", 2),
        ("垃圾清运", 1),
    ]
    # revisits: a1 satisfied, a2 not
    revisits = report["service_levels"]["revisit_satisfied"]
    assert (revisits["hits"], revisits["base"], revisits["share_label"]) == (1, 2, "50.0%")

    # one office alone
    only_a = await get_json(http, system, "/v1/reports/monthly", **PERIOD, office=a)
    assert (only_a["received"], only_a["valid"], only_a["offices"]) == (7, 4, [a])
    assert only_a["direct"]["total"] == 0

    # as of an instant between two steps of a3 (acknowledged, not yet judged): still pending
    earlier = await get_json(http, system, "/v1/reports/monthly", **PERIOD, as_of=between_steps)
    assert (earlier["received"], earlier["valid"], earlier["pending"]) == (12, 2, 10)
    assert datetime.fromisoformat(earlier["generated_at"]) == datetime.fromisoformat(between_steps)
    nothing = await get_json(http, system, "/v1/reports/monthly", **PERIOD, as_of=before_anything)
    assert nothing["received"] == 0

    # XLSX: sheets 汇总, 附件1, 附件2 holding the same figures
    resp = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.xlsx", params=PERIOD, headers=READER
    )
    assert resp.status_code == 200
    assert "attachment" in resp.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(resp.content))
    assert workbook.sheetnames == ["汇总", "文字部分", "环比同比", "附件1", "附件2"]
    sheet1 = [list(r) for r in workbook["附件1"].iter_rows(min_row=3, values_only=True)]
    expected1 = [
        [r["seq"], r["office"], r["valid"], r["assist"], r["invalid"], r["total"], r["pending"]]
        for r in report["attachment1"]["rows"]
    ]
    assert sheet1 == [*expected1, [None, "合计", 7, 2, 2, 11, 1]]
    header2 = next(workbook["附件2"].iter_rows(min_row=2, max_row=2, values_only=True))
    assert header2[:3] == ("序号", "项目名称", "设施设备维护") and header2[-1] == "合计"
    sheet2 = {r[1]: r for r in workbook["附件2"].iter_rows(min_row=3, values_only=True)}
    assert sheet2[a][2] == 1 and sheet2[a][6] == 2 and sheet2[a][-1] == 4  # facilities, env
    assert sheet2["合计"][-1] == 7

    # CSV: the same sheets, parsed back
    resp = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.csv",
        params={**PERIOD, "sheet": "attachment1"},
        headers=READER,
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "序号",
        "管理处名称",
        "有效投诉",
        "协助处理投诉",
        "无效投诉",
        "合计",
        "待判定",
    ]
    assert rows[-1] == ["", "合计", "7", "2", "2", "11", "1"]
    seq_b = next(r["seq"] for r in report["attachment1"]["rows"] if r["office"] == b)
    assert [str(seq_b), b, "2", "1", "1", "4", "0"] in rows
    summary = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.csv",
        params={**PERIOD, "sheet": "summary"},
        headers=READER,
    )
    summary_rows = list(csv.reader(io.StringIO(summary.content.decode("utf-8-sig"))))
    assert ["投诉类型", "有效投诉", "7", "11", "63.6%"] in summary_rows

    # HTML: zh-CN headings and SVG charts
    page = await http.get(
        f"{system.urls['reporting']}/reports/monthly", params=PERIOD, headers=READER
    )
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for text in (
        "客户投诉工作月报",
        "2025年7-8月份",
        "公司直接受理客户投诉情况分析",
        "附件1",
        "附件2",
        "<svg",
    ):
        assert text in page.text, text
    # the counts are links to the complaints behind them (issue 17): read the text around them
    assert "有效投诉7起，占总量的63.6%" in re.sub(r"<[^>]+>", "", page.text)


async def test_monthly_report_refuses_a_period_that_ends_before_it_starts(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    resp = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly",
        params={"from": "2025-08-01", "to": "2025-07-31"},
        headers=READER,
    )
    assert resp.status_code == 422
    assert [e["field"] for e in resp.json()["errors"]] == ["from"]
    bad = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.csv",
        params={"sheet": "附件3"},
        headers=READER,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sheet"

"""Issue 17, the analyst console in a real browser: the monthly report and the dashboard picked
by period, office and instant, every count opening the list of exactly its complaints, the
downloads of what is shown, with and without JavaScript, and an office head kept to their
office.

The complaints occurred in March 2025 (no other test uses that month) for an office of this
test's own; reporting's figures for it are exactly these.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from openpyxl import load_workbook
from playwright.async_api import Page, expect

from contracts.timezone import CHINA as REPORT_TIMEZONE
from tests.conftest import RunningSystem
from tests.e2e.helpers import READER
from tests.e2e.test_reporting_monthly import (
    Case,
    china,
    reporting_has_caught_up,
    submit,
    unique_office,
)

pytestmark = pytest.mark.infra

MONTH = "2025-03"
HEAD_OFFICE = "Y园"  # dev-head-1: the first office of reporting's list


@dataclass
class Month:
    """This test's office and its March: 2 valid (environment), 1 assist, 2 not judged, the
    last of which was recorded after ``before_last``."""

    office: str
    cases: list[Case]
    late: Case
    before_last: datetime  # whole seconds, China time: what a datetime-local input can say


@pytest.fixture(scope="module")
async def month(system: RunningSystem) -> AsyncIterator[Month]:
    office = unique_office("控制台")
    async with httpx.AsyncClient(timeout=30) as http:
        at = [china(f"2025-03-{day:02d}T10:00:00") for day in (3, 9, 15, 21, 27)]
        cases = [await submit(http, system, office, occurred_at=t) for t in at[:4]]
        await cases[0].judge("valid", "environment")
        await cases[1].judge("valid", "environment")
        await cases[2].judge("assist", "fees")
        await reporting_has_caught_up(http, system, cases)
        before_last = (datetime.now(REPORT_TIMEZONE) + timedelta(seconds=1)).replace(microsecond=0)
        # the last complaint is recorded after that instant
        await asyncio.sleep((before_last - datetime.now(REPORT_TIMEZONE)).total_seconds() + 0.2)
        late = await submit(http, system, office, occurred_at=at[4])
        await reporting_has_caught_up(http, system, [*cases, late])
    yield Month(office, cases, late, before_last)


async def log_in(page: Page, reporting: str, path: str, identity: str) -> None:
    """Open ``path`` without a session, and log in as a development identity."""
    await page.goto(f"{reporting}{path}")
    assert "/login?next=" in page.url
    await page.get_by_role("button", name=re.compile(rf"^{re.escape(identity)} ")).click()
    await page.wait_for_url(re.compile(re.escape(f"{reporting}{path}")))


async def pick_report(page: Page, office: str, as_of: str = "") -> None:
    """Pick the month, the office and the instant on the report's form, and submit it."""
    form = page.locator("#report-form")
    await form.locator("input[name=month]").fill(MONTH)
    await form.locator("input[name=from]").fill("")
    await form.locator("input[name=to]").fill("")
    await form.locator("select[name=office]").select_option(office)
    await form.locator("input[name=as_of]").fill(as_of)
    await form.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"/reports/monthly\?"))


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def count_link(page: Page, figure: str) -> tuple[int, str]:
    """The first count on the page linked to ``figure``: its number and its link (it may be
    in an SVG chart, whose ``<a>`` has text content but no HTML ``innerText``)."""
    link = page.locator(f'a.count[href*="figure={figure}&"]').first
    return int(await link.text_content() or ""), str(await link.get_attribute("href"))


async def drill(page: Page, figure: str) -> tuple[int, list[str]]:
    """Click the count of ``figure``; on the list, check it says as many as the count, and
    return the count and the listed complaints' ids."""
    shown, _ = await count_link(page, figure)
    await page.locator(f'a.count[href*="figure={figure}&"]').first.click()
    await page.wait_for_url(re.compile(r"/complaints\?"))
    assert int(await page.locator("#count").inner_text()) == shown
    ids = await page.locator("#complaints tbody td.id").all_inner_texts() if shown else []
    assert len(ids) == shown, (figure, shown, ids)
    await page.go_back()
    return shown, ids


async def page_numbers_equal_the_json_report(page: Page, reporting: str, office: str) -> None:
    """Issue 17.6: the numbers the page shows are the JSON report's, for the same month,
    office and instant (the page's links carry its instant; the session reads the API too)."""
    _, href = await count_link(page, "judged")
    as_of = query_of(href)["as_of"]
    answer = await page.request.get(
        f"{reporting}/v1/reports/monthly",
        params={"month": MONTH, "office": office, "as_of": as_of},
    )
    assert answer.ok, await answer.text()
    report = await answer.json()
    by_type = {t["validity"]: t["count"] for t in report["by_type"]}
    expected = {
        "judged": report["judged"],
        "pending": report["pending"],
        "valid": report["valid"],
        "assist": by_type["assist"],
        "invalid": by_type["invalid"],
        **{f"category.{c['category']}": c["count"] for c in report["by_category"]},
    }
    assert report["judged"] == 3 and expected["category.environment"] == 2  # not all zeros
    shown = {key: (await count_link(page, key))[0] for key in expected}
    assert shown == expected


async def console_journey(page: Page, reporting: str, month: Month) -> None:
    await log_in(page, reporting, "/reports/monthly", "dev-analyst")
    await pick_report(page, month.office)
    asked = query_of(page.url)
    assert asked["month"] == MONTH and asked["office"] == month.office
    assert "as_of" not in asked  # the empty field is dropped, not sent as ""
    await expect(page.locator("select[name=office]")).to_have_value(month.office)
    await page_numbers_equal_the_json_report(page, reporting, month.office)

    ids = [case.id for case in month.cases]
    assert await drill(page, "valid") == (2, ids[:2])
    assert (await drill(page, "category.environment"))[0] == 2
    assert await drill(page, "assist") == (1, [ids[2]])
    assert await drill(page, "pending") == (2, [ids[3], month.late.id])
    assert (await drill(page, "judged"))[0] == 3

    # as of an instant before the last complaint was recorded: it is not counted
    await pick_report(page, month.office, month.before_last.strftime("%Y-%m-%dT%H:%M:%S"))
    assert datetime.fromisoformat(query_of(page.url)["as_of"]) == month.before_last.replace(
        tzinfo=None
    )
    assert await drill(page, "pending") == (1, [ids[3]])
    assert (await drill(page, "valid"))[0] == 2
    _, href = await count_link(page, "pending")
    assert datetime.fromisoformat(query_of(href)["as_of"]) == month.before_last


async def test_the_analyst_picks_a_month_office_and_instant_and_drills_into_counts(
    system: RunningSystem, browser_page: Page, month: Month
) -> None:
    await console_journey(browser_page, system.urls["reporting"], month)


async def test_the_console_works_without_javascript(
    system: RunningSystem, browser_context: Callable[..., Awaitable[Page]], month: Month
) -> None:
    page = await browser_context(java_script_enabled=False)
    reporting = system.urls["reporting"]
    await console_journey(page, reporting, month)
    assert await page.locator("script").count() == 0
    await page.goto(f"{reporting}/dashboard")
    await page.locator("select[name=office]").select_option(month.office)
    await page.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"/dashboard\?office="))
    await dashboard_journey(page, month)


async def test_the_downloads_are_the_report_shown(
    system: RunningSystem, browser_page: Page, month: Month
) -> None:
    reporting = system.urls["reporting"]
    await log_in(browser_page, reporting, "/reports/monthly", "dev-analyst")
    await pick_report(browser_page, month.office)

    async with browser_page.expect_download() as caught:
        await browser_page.locator("#download-xlsx").click()
    download = await caught.value
    assert download.suggested_filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO((await download.path()).read_bytes()))
    cells = [str(c) for ws in book for row in ws.iter_rows(values_only=True) for c in row if c]
    assert any(month.office in cell for cell in cells)

    link = browser_page.locator('a.download-csv[data-sheet="attachment1"]')
    href = str(await link.get_attribute("href"))
    assert query_of(href)["office"] == month.office
    answer = await browser_page.request.get(f"{reporting}{href}")  # the session's cookie
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    text = (await answer.body()).decode("utf-8-sig")
    row = next(line for line in text.splitlines() if month.office in line)
    assert row.split(",")[2:5] == ["2", "1", "0"]  # valid, assist, invalid of 附件1


async def test_the_dashboard_keeps_its_office_when_it_refreshes_and_drills_down(
    system: RunningSystem, browser_page: Page, month: Month
) -> None:
    reporting = system.urls["reporting"]
    page = browser_page
    await log_in(page, reporting, "/dashboard", "dev-analyst")
    await page.locator("select[name=office]").select_option(month.office)
    await page.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"/dashboard\?"))
    assert query_of(page.url) == {"office": month.office}

    refresh = await page.locator('meta[http-equiv="refresh"]').get_attribute("content")
    assert refresh is not None
    seconds, _, target = refresh.partition("; url=")
    assert int(seconds) > 0 and query_of(target) == {"office": month.office}
    await page.goto(f"{reporting}{target}")  # where the refresh leads
    await expect(page.locator("select[name=office]")).to_have_value(month.office)

    await dashboard_journey(page, month)


async def dashboard_journey(page: Page, month: Month) -> None:
    """On the dashboard of ``month.office``: the open complaints, now and as of before the
    last was recorded (a dashboard as of an instant does not refresh)."""
    shown, ids = await drill(page, "open")
    assert shown == 5
    assert sorted(ids) == sorted([*(c.id for c in month.cases), month.late.id])
    # the SLA service breaches these old complaints' timers when it gets to them: whatever it
    # had by the page's instant, each list is as long as its count (``drill`` checks)
    for figure in ("overdue", "due_soon", "major", "open.received"):
        await drill(page, figure)
    await page.locator("input[name=as_of]").fill(month.before_last.strftime("%Y-%m-%dT%H:%M:%S"))
    await page.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"/dashboard\?.*as_of="))
    assert await page.locator('meta[http-equiv="refresh"]').count() == 0
    shown, ids = await drill(page, "open")
    assert shown == 4 and month.late.id not in ids


async def test_an_office_head_sees_only_their_office(
    system: RunningSystem, browser_page: Page, month: Month
) -> None:
    reporting = system.urls["reporting"]
    page = browser_page
    await log_in(page, reporting, "/reports/monthly", "dev-head-1")
    options = await page.locator("#report-form select[name=office] option").all_inner_texts()
    assert options == [HEAD_OFFICE]
    for path in ("/reports/monthly", "/dashboard"):
        await page.goto(f"{reporting}{path}")
        texts = await page.locator("select[name=office] option").all_inner_texts()
        assert month.office not in texts and texts == [HEAD_OFFICE]
    for path in ("/reports/monthly/complaints", "/v1/reports/monthly/complaints"):
        answer = await page.request.get(
            f"{reporting}{path}",
            params={"figure": "valid", "month": MONTH, "office": month.office},
        )
        assert answer.status == 403
        assert "office" in await answer.text()
    answer = await page.request.get(
        f"{reporting}/v1/dashboard/complaints", params={"figure": "open", "office": month.office}
    )
    assert answer.status == 403
    # their own office's lists: the rows of their office only, with a complaint of theirs
    # this test submits, its complainant masked: reporting masks every complainant, for
    # everyone, their own office's head included (reports.listed_complaints)
    async with httpx.AsyncClient(timeout=30) as http:
        ours = await submit(
            http,
            system,
            HEAD_OFFICE,
            complainant={"name": "欧阳先生", "phone": "13912345678"},
        )
        await reporting_has_caught_up(http, system, [ours])
    items: list[dict[str, Any]] = []
    pages, number = 1, 1
    while number <= pages:  # the shared office may have more open complaints than a page
        own = await page.request.get(
            f"{reporting}/v1/dashboard/complaints",
            params={"figure": "open", "page_size": "500", "page": str(number)},
        )
        assert own.status == 200
        body = await own.json()
        items, pages, number = items + body["items"], body["pages"], number + 1
    assert items and {item["office"] for item in items} == {HEAD_OFFICE}
    [listed] = [item for item in items if item["complaint_id"] == ours.id]
    assert listed["complainant"] == {"name": "欧***", "phone": "139****5678"}


async def test_every_list_is_as_long_as_its_count_and_pages_through_it(
    system: RunningSystem, month: Month
) -> None:
    reporting = system.urls["reporting"]
    params = {"month": MONTH, "office": month.office}
    async with httpx.AsyncClient(timeout=30, headers=READER) as http:
        report = (await http.get(f"{reporting}/v1/reports/monthly", params=params)).json()
        figures = {
            "received": report["received"],
            "judged": report["judged"],
            "valid": report["valid"],
            "pending": report["pending"],
            "assist": next(f["count"] for f in report["by_type"] if f["validity"] == "assist"),
            "category.environment": report["attachment2"]["totals"]["by_category"]["environment"],
            "overdue.base": report["service_levels"]["overdue"]["base"],
        }
        assert figures["received"] == 5 and figures["valid"] == 2
        for figure, count in figures.items():
            got = await http.get(
                f"{reporting}/v1/reports/monthly/complaints",
                params={**params, "figure": figure, "as_of": report["generated_at"]},
            )
            assert got.status_code == 200, got.text
            body = got.json()
            assert body["count"] == len(body["items"]) == count, figure
            for item in body["items"]:
                assert item["office"] == month.office
                assert "*" in item["complainant"]["name"]  # an analyst sees them masked

        pages, seen = None, []
        page_number = 1
        while pages is None or page_number <= pages:
            got = await http.get(
                f"{reporting}/v1/reports/monthly/complaints",
                params={**params, "figure": "received", "page": page_number, "page_size": 2},
            )
            body = got.json()
            pages = body["pages"]
            seen += [item["complaint_id"] for item in body["items"]]
            page_number += 1
        assert pages == 3
        assert sorted(seen) == sorted([*(c.id for c in month.cases), month.late.id])

        bad = await http.get(
            f"{reporting}/v1/reports/monthly/complaints", params={**params, "figure": "nonsense"}
        )
        assert bad.status_code == 422 and "figure" in bad.text
        both = await http.get(
            f"{reporting}/v1/reports/monthly",
            params={**params, "from": "2025-03-01"},
        )
        assert both.status_code == 422 and "month" in both.text

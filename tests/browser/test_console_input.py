"""The analyst console's forms with input it cannot use, in a real browser: a period picked
while the month is still filled in is the period shown, and bad input shows the page's form
again with a zh-CN message naming the field (422), never the API's JSON.

This test's office is its own; its complaints occurred in April 2025 and are not judged.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.browser.test_analyst_console import log_in
from tests.conftest import RunningSystem
from tests.e2e.helpers import READER
from tests.e2e.test_reporting_monthly import china, reporting_has_caught_up, submit, unique_office

pytestmark = pytest.mark.infra


@dataclass
class April:
    office: str
    early: str  # occurred 2025-04-03
    late: str  # occurred 2025-04-20


@pytest.fixture(scope="module")
async def april(system: RunningSystem) -> AsyncIterator[April]:
    office = unique_office("输入")
    async with httpx.AsyncClient(timeout=30) as http:
        early = await submit(http, system, office, occurred_at=china("2025-04-03T10:00:00"))
        late = await submit(http, system, office, occurred_at=china("2025-04-20T10:00:00"))
        await reporting_has_caught_up(http, system, [early, late])
    yield April(office, early.id, late.id)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def pending(page: Page) -> int:
    return int(await page.locator('a.count[href*="figure=pending&"]').first.inner_text())


async def test_a_period_picked_with_the_month_still_filled_in_is_the_period_shown(
    system: RunningSystem, browser_page: Page, april: April
) -> None:
    reporting = system.urls["reporting"]
    page = browser_page
    await log_in(page, reporting, "/reports/monthly", "dev-analyst")
    await page.goto(f"{reporting}/reports/monthly?month=2025-04&office={april.office}")
    form = page.locator("#report-form")
    await expect(form.locator("input[name=month]")).to_have_value("2025-04")
    assert await pending(page) == 2
    # the reader picks a period and leaves the month as the page filled it in
    await form.locator("input[name=from]").fill("2025-04-01")
    await form.locator("input[name=to]").fill("2025-04-10")
    await form.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"/reports/monthly\?.*from="))
    asked = query_of(page.url)
    assert (asked["from"], asked["to"]) == ("2025-04-01", "2025-04-10")
    assert "month" not in asked
    assert await pending(page) == 1  # only the complaint of the 3rd
    await expect(form.locator("input[name=from]")).to_have_value("2025-04-01")
    await expect(form.locator("input[name=month]")).to_have_value("")
    # the JSON API still refuses both, naming month
    async with httpx.AsyncClient(timeout=30, headers=READER) as http:
        both = await http.get(
            f"{reporting}/v1/reports/monthly",
            params={"month": "2025-04", "from": "2025-04-01", "to": "2025-04-10"},
        )
    assert both.status_code == 422 and both.json()["errors"][0]["field"] == "month"


async def test_bad_input_shows_the_form_again_with_a_zh_cn_message_naming_the_field(
    system: RunningSystem, browser_page: Page, april: April
) -> None:
    reporting = system.urls["reporting"]
    page = browser_page
    await log_in(page, reporting, "/reports/monthly", "dev-analyst")

    # a period that ends before it starts, picked on the form
    form = page.locator("#report-form")
    await form.locator("input[name=month]").fill("")
    await form.locator("input[name=from]").fill("2025-04-20")
    await form.locator("input[name=to]").fill("2025-04-10")
    await form.locator("select[name=office]").select_option(april.office)
    async with page.expect_response(
        lambda r: "/reports/monthly?" in r.url and r.status != 303  # after the blank fields
    ) as answered:
        await form.get_by_role("button", name="查看").click()
    answer = await answered.value
    assert answer.status == 422
    assert answer.headers["content-type"].startswith("text/html")
    error = page.locator('#errors li[data-field="from"]')
    await expect(error).to_have_text(re.compile(r"^起始日期：晚于截止日期（2025-04-10）"))
    # the form again, as it was sent: the reader corrects it there
    await expect(form.locator("input[name=from]")).to_have_value("2025-04-20")
    await expect(form.locator("select[name=office]")).to_have_value(april.office)
    await form.locator("input[name=to]").fill("2025-04-30")
    await form.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(r"to=2025-04-30"))
    assert await pending(page) == 1  # the complaint of the 20th

    cases = [
        (f"/reports/monthly?month=2025-13&office={april.office}", "month", "月份", "report-form"),
        ("/reports/monthly?from=2025-02-30", "from", "起始日期", "report-form"),
        (
            "/reports/monthly/complaints?figure=nonsense&month=2025-04",
            "figure",
            "统计项",
            "report-form",
        ),
        ("/dashboard?as_of=yesterday", "as_of", "数据截至", "dashboard-form"),
        ("/dashboard/complaints?figure=open&page=0", "page", "页码", "dashboard-form"),
        ("/dashboard/complaints?figure=hot.unit.3栋", "office", "管理处", "dashboard-form"),
    ]
    for path, field, label, form_id in cases:
        answer = await page.goto(f"{reporting}{path}")
        assert answer is not None and answer.status == 422, path
        assert answer.headers["content-type"].startswith("text/html"), path
        message = await page.locator(f'#errors li[data-field="{field}"]').inner_text()
        assert message.startswith(f"{label}："), (path, message)
        said = re.sub(r"“[^”]*”", "", message.removeprefix(f"{label}："))  # less the value quoted
        assert re.search(r"[A-Za-z]{4,}", said) is None, message  # zh-CN, not the API's English
        assert await page.locator(f"#{form_id}").count() == 1, path

    # an API client (no text/html) still gets the problem details
    plain = await page.request.get(
        f"{reporting}/reports/monthly", params={"from": "2025-04-20", "to": "2025-04-10"}
    )
    assert plain.status == 422
    assert plain.headers["content-type"].startswith("application/problem+json")
    assert (await plain.json())["errors"][0]["field"] == "from"

"""Issue 17, the analyst console's last drill-downs in a real browser: a value of the
comparison table (环比/同比) opens the list of its own period, a main problem's count opens its
complaints, and a hot spot's count on the dashboard opens the complaints of that spot.

This test's office is its own: its complaints occurred in February and March 2025 and March
2024 (the comparison), and two now, in one unit (a hot spot).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Locator, Page

from tests.browser.test_analyst_console import log_in
from tests.conftest import RunningSystem
from tests.e2e.test_reporting_monthly import (
    china,
    reporting_has_caught_up,
    submit,
    unique_office,
)

pytestmark = pytest.mark.infra

HOT_UNIT = "9栋9单元909"


@dataclass
class Office:
    """This test's office and the ids of its complaints, by when they occurred."""

    name: str
    march: list[str]  # 2025-03, valid (environment)
    february: list[str]  # 2025-02, valid (environment): the previous period
    year_before: list[str]  # 2024-03, valid (environment): the same month a year before
    hot: list[str]  # now, in HOT_UNIT


@pytest.fixture(scope="module")
async def office(system: RunningSystem) -> AsyncIterator[Office]:
    name = unique_office("钻取")
    async with httpx.AsyncClient(timeout=30) as http:
        dated = {
            "march": ["2025-03-05"],
            "february": ["2025-02-04", "2025-02-20"],
            "year_before": ["2024-03-11"],
        }
        ids: dict[str, list[str]] = {}
        cases = []
        for group, days in dated.items():
            ids[group] = []
            for day in days:
                case = await submit(http, system, name, occurred_at=china(f"{day}T10:00:00"))
                await case.judge("valid", "environment")
                cases.append(case)
                ids[group].append(case.id)
        hot = [await submit(http, system, name, unit=HOT_UNIT) for _ in range(2)]
        await reporting_has_caught_up(http, system, [*cases, *hot])
    yield Office(name, ids["march"], ids["february"], ids["year_before"], [c.id for c in hot])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def open_list(page: Page, link: Locator) -> tuple[int, dict[str, str], list[str]]:
    """Click the count ``link``; return its number, the list's query and the listed ids, after
    checking the list says as many as the count and shows them all."""
    shown = int(await link.inner_text())
    await link.click()
    await page.wait_for_url(re.compile(r"/complaints\?"))
    assert int(await page.locator("#count").inner_text()) == shown
    ids = await page.locator("#complaints tbody td.id").all_inner_texts() if shown else []
    assert len(ids) == shown
    query = query_of(page.url)
    await page.go_back()
    return shown, query, ids


async def test_a_comparison_value_opens_the_list_of_its_own_period(
    system: RunningSystem, browser_page: Page, office: Office
) -> None:
    reporting = system.urls["reporting"]
    page = browser_page
    await log_in(page, reporting, "/reports/monthly", "dev-analyst")
    await page.goto(f"{reporting}/reports/monthly?month=2025-03&office={office.name}")
    cells = page.locator('tr[data-key="valid"] td')
    current, previous, year = (cells.nth(i).locator("a.count") for i in (1, 2, 4))

    shown, query, ids = await open_list(page, previous)
    assert (shown, sorted(ids)) == (2, sorted(office.february))
    assert (query["from"], query["to"]) == ("2025-02-01", "2025-02-28")
    assert query["office"] == office.name

    shown, query, ids = await open_list(page, year)
    assert (shown, ids) == (1, office.year_before)
    assert (query["from"], query["to"]) == ("2024-03-01", "2024-03-31")

    shown, _, ids = await open_list(page, current)
    assert (shown, ids) == (1, office.march)

    # the main problem of 环境服务 this month: its count opens its complaint
    problem = page.locator('a.count[href*="figure=problem.environment."]').first
    shown, query, ids = await open_list(page, problem)
    assert (shown, ids) == (1, office.march)
    assert query["figure"].startswith("problem.environment.")


async def test_a_hot_spot_count_opens_the_complaints_of_that_spot(
    system: RunningSystem, browser_page: Page, office: Office
) -> None:
    reporting = system.urls["reporting"]
    page = browser_page
    await log_in(page, reporting, "/dashboard", "dev-analyst")
    await page.goto(f"{reporting}/dashboard?office={office.name}")
    unit = page.locator('a.count[href*="figure=hot.unit."]')
    assert await unit.count() == 1  # the two complaints of this test's unit, and no other
    shown, query, ids = await open_list(page, unit)
    assert (shown, sorted(ids)) == (2, sorted(office.hot))
    assert query["office"] == office.name
    assert query["figure"] == f"hot.unit.{HOT_UNIT}"
    # the list is of the dashboard's instant, not of whenever it is opened
    assert "as_of" in query
    # a hot spot is one office's: without its office the question has no single answer
    bare = await page.request.get(
        f"{reporting}/v1/dashboard/complaints", params={"figure": query["figure"]}
    )
    assert bare.status == 422 and "office" in await bare.text()
    unknown = await page.request.get(
        f"{reporting}/v1/reports/monthly/complaints",
        params={"figure": "problem.environment.not-a-digest", "month": "2025-03"},
    )
    assert unknown.status == 422 and "figure" in await unknown.text()

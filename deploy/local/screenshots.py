"""Pictures of the pages for the README: ``make screenshots`` on a running system with data
(``make up``, ``make demo``). Logs in as development identities (local mode) in Debian's
chromium, driven by Playwright, and writes ``docs/pages/*.png``.

    python -m deploy.local.screenshots [--month 2026-11] [--out docs/pages]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from playwright.async_api import Page, async_playwright

CHROMIUM = os.environ.get("COMPLAINTS_CHROMIUM", "/usr/bin/chromium")
WORKFLOW = os.environ.get("COMPLAINTS_WORKFLOW_URL", "http://127.0.0.1:8002")
REPORTING = os.environ.get("COMPLAINTS_REPORTING_URL", "http://127.0.0.1:8004")


async def _log_in(page: Page, base: str, identity: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_role("button", name=identity, exact=False).first.click()
    await page.wait_for_load_state()


async def shoot(month: str, out: Path) -> list[Path]:
    """Log in and photograph the workbench's queue and a complaint, the monthly report, a
    drill-down list and the dashboard into the folder ``out`` (which exists)."""
    written: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = await browser.new_context(
            locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900}
        )
        page = await context.new_page()

        async def snap(name: str, url: str | None = None) -> None:
            if url is not None:
                await page.goto(url)
            path = out / f"{name}.png"
            await page.screenshot(path=str(path), full_page=False)
            written.append(path)

        await page.goto(f"{WORKFLOW}/login")
        await snap("login")
        await _log_in(page, WORKFLOW, "dev-head-1 · cs_head")
        await page.get_by_role("link", name="本处待办").click()
        await page.wait_for_load_state()
        await snap("workbench-queue")
        first = page.locator("table a[href^='/complaints/']").first
        if await first.count():
            await first.click()
            await page.wait_for_load_state()
            await snap("workbench-complaint")

        await _log_in(page, REPORTING, "dev-analyst · analyst")
        await snap("monthly-report", f"{REPORTING}/reports/monthly?month={month}")
        drill = page.locator("a[href*='/reports/monthly/complaints']").first
        if await drill.count():
            await drill.click()
            await page.wait_for_load_state()
            await snap("drill-down")
        await snap("dashboard", f"{REPORTING}/dashboard")
        await browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default=None, help="YYYY-MM (default: this month)")
    parser.add_argument("--out", type=Path, default=Path("docs/pages"))
    args = parser.parse_args()
    month = args.month
    if month is None:
        from datetime import datetime
        from zoneinfo import ZoneInfo

        month = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(month, args.out)):
        print(path)


if __name__ == "__main__":
    main()

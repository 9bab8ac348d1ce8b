"""The staff workbench (issue 17, point 2) in a real browser with JavaScript switched off: the
login, the office's queue and its filters, a complaint's page with its timeline and clocks,
commands given through their forms, refusals shown with their reason, and who gets which form.

Complaints are submitted through intake over HTTP to an office of this file's own, so the
counts of the shared offices do not matter.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from services.runtime.auth import Staff, StaffRole, issue_token
from services.runtime.settings import Settings
from tests.conftest import RUN, RunningSystem
from tests.e2e.helpers import eventually, minutes_ago
from tests.e2e.test_workflow_lifecycle import Desk, received, unique_phone

pytestmark = pytest.mark.infra

OFFICE = f"工作台{RUN}"
OTHER = f"别处{RUN}"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
async def page(browser_context: Callable[..., Awaitable[Page]]) -> Page:
    """A fresh zh-CN page in Shanghai, with JavaScript disabled: the workbench needs none."""
    return await browser_context(java_script_enabled=False)


def token(role: StaffRole, office: str | None = OFFICE, staff_id: str = "") -> str:
    staff = Staff(staff_id=staff_id or f"wb-{role.value}", role=role, office=office)
    return issue_token(Settings(), staff)


async def log_in(page: Page, base: str, role: StaffRole, office: str | None = OFFICE) -> None:
    """Log in as a production user would: paste a token into the login form."""
    await page.goto(f"{base}/login?next=/queue")
    await page.locator("textarea[name=token]").fill(token(role, office))
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{base}/queue")


def row(page: Page, desk: Desk) -> Locator:
    return page.locator(f'tr[data-complaint="{desk.id}"]')


async def open_complaint_with_clocks(page: Page, base: str, desk: Desk) -> None:
    """The complaint's page, once the SLA service knows the complaint (it reads the log too)."""

    async def clocks_shown() -> bool:
        await page.goto(f"{base}/complaints/{desk.id}")
        return await page.locator("#clocks").count() == 1

    await eventually(clocks_shown, timeout=30, interval=0.5)


async def test_local_mode_offers_the_offices_workflow_roles(
    system: RunningSystem, page: Page
) -> None:
    base = system.urls["workflow"]
    await page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login?next=")
    for role in ("cs_agent", "cs_head", "department", "supervisor", "project_manager"):
        await expect(page.get_by_role("button", name=re.compile(f"· {role} · Y园"))).to_have_count(
            1
        )
    await page.get_by_role("button", name=re.compile(r"dev-cs_agent-\d+ · cs_agent · Y园")).click()
    await page.wait_for_url(f"{base}/queue?mine=true")
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的待办")
    await expect(page.locator("header .who")).to_contain_text("客服专员 · Y园")


async def test_the_office_queue_a_complaint_and_its_commands_without_javascript(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    base = system.urls["workflow"]
    phone = unique_phone()
    desk = await received(
        http, system, office=OFFICE, complainant={"name": "何先生", "phone": phone}
    )
    await log_in(page, base, StaffRole.CS_AGENT)

    # 本处待办: the complaint is there, received; a status filter takes it away and back.
    await page.get_by_role("link", name="本处待办").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("本处待办")
    await expect(row(page, desk)).to_contain_text("已登记")
    await page.locator("select[name=status]").select_option("acknowledged")
    await page.get_by_role("button", name="筛选").click()
    assert "status=acknowledged" in page.url
    await expect(row(page, desk)).to_have_count(0)
    await page.locator("select[name=status]").select_option("received")
    await page.get_by_role("button", name="筛选").click()
    await expect(row(page, desk)).to_have_count(1)
    # 我的待办: nobody owns it yet.
    await page.get_by_role("link", name="我的待办").click()
    await expect(row(page, desk)).to_have_count(0)

    # The complaint: its receipt in the timeline, its clocks, the owner's data whole.
    await open_complaint_with_clocks(page, base, desk)
    await expect(page.locator("#status")).to_have_text("已登记")
    await expect(page.locator("#complainant")).to_contain_text(phone)
    timeline = page.locator("#timeline tbody tr")
    await expect(timeline).to_have_count(1)
    await expect(timeline.first).to_contain_text("受理投诉")
    await expect(page.locator("#clocks")).to_contain_text("计时中")
    # A customer-service agent may not assign: no form for it.
    await expect(page.locator("#command-assign")).to_have_count(0)

    # Judging before anyone took the complaint on: the decider refuses, the page says why.
    # Until then the form is folded under 此状态通常不可用, after those the state allows.
    await expect(page.locator("#commands #command-acknowledge")).to_have_count(1)
    await expect(page.locator("#unusual-commands #command-classify")).to_have_count(1)
    await expect(page.locator("#unusual-commands")).not_to_have_attribute("open", "")
    await page.locator("#unusual-commands > summary").click()
    await page.locator("#command-classify summary").click()
    await page.locator("#command-classify select[name=validity]").select_option("valid")
    async with page.expect_navigation() as refused:
        await page.get_by_role("button", name="提交：判定与分类").click()
    assert (await refused.value).status == 409  # type: ignore[union-attr]
    await expect(page.get_by_role("alert")).to_contain_text("acknowledge the complaint first")
    await expect(timeline).to_have_count(1)

    await expect(page.locator("#unusual-commands")).to_have_attribute("open", "")  # refused
    # 响应接单 through its form: back to the page (303) with the new event in the timeline.
    await page.locator("#command-acknowledge summary").click()
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交：响应接单（首问责任）").click()
    assert "done=acknowledge" in page.url
    await expect(page.locator("#commands #command-classify")).to_have_count(1)  # now usable
    await expect(page.get_by_role("status")).to_contain_text("已完成：响应接单")
    await expect(page.locator("#status")).to_have_text("已响应")
    await expect(timeline).to_have_count(2)
    await expect(timeline.nth(1)).to_contain_text("响应接单")
    await expect(timeline.nth(1)).to_contain_text("wb-cs_agent（客服专员）")

    # 判定与分类, and the same form posted twice (a double submit): it acts once.
    await page.locator("#command-classify summary").click()
    form = page.locator("#command-classify form")
    key = await form.locator("input[name=idempotency_key]").get_attribute("value")
    csrf = await form.locator("input[name=csrf]").get_attribute("value")
    await form.locator("select[name=validity]").select_option("valid")
    await form.locator("select[name=category]").select_option("environment")
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交：判定与分类").click()
    await expect(page.locator("#status")).to_have_text("已判定")
    again = await page.request.post(
        f"{base}/complaints/{desk.id}/commands/classify",
        form={
            "csrf": csrf or "",
            "idempotency_key": key or "",
            "validity": "valid",
            "category": "environment",
        },
    )
    assert again.ok and "replayed=true" in again.url
    await page.reload()
    judged = page.locator('#timeline tr[data-type="ComplaintJudged"]')
    await expect(judged).to_have_count(1)
    await expect(judged).to_contain_text("环境服务")
    # routing proposed the department, which the head's 派单 form then offers
    await expect(page.locator('#timeline tr[data-type="DepartmentProposed"]')).to_have_count(1)

    # The complaint is in my queue now that I own it.
    await page.goto(f"{base}/queue?mine=true")
    await expect(row(page, desk)).to_contain_text("已判定")


async def test_each_role_gets_its_own_forms_and_other_offices_nothing(
    system: RunningSystem,
    page: Page,
    http: httpx.AsyncClient,
    browser_context: Callable[..., Awaitable[Page]],
) -> None:
    base = system.urls["workflow"]
    desk = await received(
        http, system, office=OFFICE, complainant={"name": "何先生", "phone": "13812345678"}
    )

    await log_in(page, base, StaffRole.DEPARTMENT)
    await page.goto(f"{base}/complaints/{desk.id}")
    await expect(page.locator("#command-analyse")).to_have_count(1)
    await expect(page.locator("#command-classify")).to_have_count(0)
    await expect(page.locator("#command-acknowledge")).to_have_count(0)
    # A form this role does not get, posted anyway: refused with the reason, nothing happens.
    csrf = await page.locator("#command-analyse input[name=csrf]").get_attribute("value")
    refused = await page.request.post(
        f"{base}/complaints/{desk.id}/commands/acknowledge",
        form={"csrf": csrf or "", "idempotency_key": uuid.uuid4().hex},
    )
    assert refused.status == 403
    assert "may not acknowledge" in await refused.text()

    # The company reads every office, the complainant masked.
    other = await browser_context(java_script_enabled=False)
    await log_in(other, base, StaffRole.COMPANY, office=None)
    await other.goto(f"{base}/complaints/{desk.id}")
    await expect(other.locator("#complainant")).to_contain_text("何*")
    await expect(other.locator("#complainant")).to_contain_text("138****5678")

    # The head of another office can neither open it nor find it in a queue.
    await page.get_by_role("button", name="退出").click()
    await log_in(page, base, StaffRole.CS_HEAD, office=OTHER)
    answer = await page.goto(f"{base}/complaints/{desk.id}")
    assert answer is not None and answer.status == 403
    await expect(page.get_by_role("alert")).to_contain_text("another office")
    await page.goto(f"{base}/queue?include_ended=true")
    await expect(row(page, desk)).to_have_count(0)
    answer = await page.goto(f"{base}/queue?office={OFFICE}")
    assert answer is not None and answer.status == 403


async def test_the_page_renders_without_the_sla_service(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    base = system.urls["workflow"]
    desk = await received(http, system, office=OFFICE)
    await log_in(page, base, StaffRole.CS_HEAD)
    await open_complaint_with_clocks(page, base, desk)
    system.stop("sla")
    try:
        answer = await page.goto(f"{base}/complaints/{desk.id}")
        assert answer is not None and answer.status == 200
        await expect(page.locator("#clocks-unavailable")).to_contain_text("时限服务暂不可用")
        await expect(page.locator("#timeline")).to_contain_text("受理投诉")
    finally:
        system.start("sla")


async def test_the_queue_pages_on_with_its_next_cursor(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    office = f"翻页{RUN}"
    first = await received(http, system, office=office, occurred_at=minutes_ago(3))
    second = await received(http, system, office=office, occurred_at=minutes_ago(2))
    await log_in(page, system.urls["workflow"], StaffRole.CS_HEAD, office=office)
    await page.goto(f"{system.urls['workflow']}/queue?sort=received&limit=1")
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(row(page, first)).to_have_count(1)
    await page.get_by_role("link", name="下一页").click()
    assert "cursor=" in page.url and "sort=received" in page.url
    await expect(page.locator("tbody tr")).to_have_count(1)
    await expect(row(page, second)).to_have_count(1)
    await expect(page.get_by_role("link", name="下一页")).to_have_count(0)

    # A time without an offset (the form's datetime-local) is Shanghai's: an hour before the
    # first complaint's deadline (Shanghai's wall clock) finds neither, though read as UTC it
    # would be seven hours after it and find both; a minute after it finds the first.
    await page.goto(f"{system.urls['workflow']}/queue?sort=received&limit=1")
    shown = await row(page, first).locator("td").nth(10).inner_text()
    deadline = datetime.strptime(shown.strip(), "%Y-%m-%d %H:%M")  # Shanghai, to the minute
    before = (deadline - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    await page.goto(f"{system.urls['workflow']}/queue?due_before={before}")
    await expect(page.get_by_text("共 0 起")).to_have_count(1)
    await expect(page.locator("tbody tr")).to_have_count(0)
    after = (deadline + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    await page.goto(f"{system.urls['workflow']}/queue?due_before={after}")
    await expect(row(page, first)).to_have_count(1)
    answer = await page.goto(f"{system.urls['workflow']}/queue?limit=0")
    assert answer is not None and answer.status == 422
    await expect(page.get_by_role("alert")).to_contain_text("每页：不能小于 1")


async def test_a_form_not_from_the_sessions_page_is_refused_and_pages_are_guarded(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    base = system.urls["workflow"]
    desk = await received(http, system, office=OFFICE)
    await log_in(page, base, StaffRole.CS_AGENT)
    # The session cookie ends with the browser (shared front-desk PCs): no expiry of its own.
    (cookie,) = [c for c in await page.context.cookies() if c["name"] == "complaints_session"]
    assert cookie["expires"] == -1
    answer = await page.goto(f"{base}/complaints/{desk.id}")
    assert answer is not None
    headers = await answer.all_headers()
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    # Every form carries the session's token, the logout's too.
    forms = page.locator("form[method=post]")
    assert await forms.count() > 2
    tokens = {await f.locator("input[name=csrf]").get_attribute("value") for f in await forms.all()}
    assert len(tokens) == 1 and len(tokens.pop() or "") == 32

    # What another site would post (the cookie rides along in old browsers): refused, undone.
    forged = await page.request.post(
        f"{base}/complaints/{desk.id}/commands/acknowledge",
        form={"idempotency_key": uuid.uuid4().hex, "csrf": "f" * 32},
    )
    assert forged.status == 403
    assert "表单校验失败" in await forged.text()
    logout = await page.request.post(f"{base}/logout", form={})
    assert logout.status == 403
    await page.reload()
    await expect(page.locator("#status")).to_contain_text("已登记")  # logged in, not acted

    # The page's own form does act.
    await page.locator("#command-acknowledge summary").click()
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交：响应接单（首问责任）").click()
    await expect(page.locator("#status")).to_contain_text("已响应")


async def test_a_session_that_expires_while_a_form_is_filled_returns_to_the_complaint(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    base = system.urls["workflow"]
    desk = await received(http, system, office=OFFICE)
    await log_in(page, base, StaffRole.CS_AGENT)
    await page.goto(f"{base}/complaints/{desk.id}")
    await page.locator("#command-acknowledge summary").click()
    await page.context.clear_cookies()  # the session ends while the form is open
    async with page.expect_navigation():
        await page.get_by_role("button", name="提交：响应接单（首问责任）").click()
    assert page.url.startswith(f"{base}/login?next=")
    await expect(page.locator("#expired")).to_have_text("会话已过期，请重新登录。")
    await page.locator("textarea[name=token]").fill(token(StaffRole.CS_AGENT))
    async with page.expect_navigation() as back:
        await page.get_by_role("button", name="Log in").click()
    assert (await back.value).status == 200  # type: ignore[union-attr]
    assert page.url == f"{base}/complaints/{desk.id}"
    await expect(page.locator("#status")).to_contain_text("已登记")  # nothing was given


async def test_the_departments_landing_page_lists_what_waits_on_it(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    base = system.urls["workflow"]
    desk = await received(http, system, office=OFFICE)
    agent = {"Authorization": f"Bearer {token(StaffRole.CS_AGENT)}"}
    head = {"Authorization": f"Bearer {token(StaffRole.CS_HEAD)}"}
    await desk.do("acknowledge", agent)
    await desk.do("classify", agent, validity="valid", category="facilities")
    await log_in(page, base, StaffRole.DEPARTMENT)
    await page.goto(f"{base}/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的待办")
    await expect(row(page, desk)).to_have_count(0)  # judged: not the department's yet
    deadline = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    await desk.do("assign", head, department="工程部", deadline=deadline)
    await page.reload()
    await expect(row(page, desk)).to_contain_text("已派单")


async def test_a_refused_form_says_what_is_wrong_in_chinese(
    system: RunningSystem, page: Page, http: httpx.AsyncClient
) -> None:
    base = system.urls["workflow"]
    desk = await received(http, system, office=OFFICE)
    await log_in(page, base, StaffRole.DEPARTMENT)
    await page.goto(f"{base}/complaints/{desk.id}")
    form = page.locator("#command-implement form")
    # what the browser's own checks let through is posted as it is (the server decides)
    refused = await page.request.post(
        f"{base}/complaints/{desk.id}/commands/implement",
        form={
            "csrf": await form.locator("input[name=csrf]").get_attribute("value") or "",
            "idempotency_key": uuid.uuid4().hex,
            "plan_id": "第一个",
            "summary": "已更换",
            "accountability": "张三",
        },
    )
    assert refused.status == 422
    await page.set_content(await refused.text())
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("方案编号：须为整数")
    await expect(alert).to_contain_text("责任追究第1行·处罚措施：必填")
    await expect(alert).not_to_contain_text("Input should")
    await expect(alert).not_to_contain_text("Field required")


async def give(page: Page, name: str, **fields: str) -> None:
    """Give command ``name`` through its form on the complaint's page that is open: open the
    form (folded under 此状态通常不可用 if need be), fill each field by its input's kind, submit,
    and expect the page back with 已完成."""
    form_box = page.locator(f"#command-{name.replace('/', '-')}")
    unusual = page.locator("#unusual-commands")
    if await unusual.locator(f"#command-{name}").count():
        if await unusual.get_attribute("open") is None:
            await unusual.locator("> summary").click()
    await form_box.locator("summary").click()
    form = form_box.locator("form")
    for field, value in fields.items():
        box = form.locator(f"[name={field}]")
        if await box.evaluate("e => e.tagName") == "SELECT":
            await box.select_option(value)
        else:
            await box.fill(value)
    async with page.expect_navigation():
        await form.get_by_role("button").click()
    await expect(page.get_by_role("status")).to_contain_text("已完成")


async def test_staff_take_a_complaint_from_received_to_closed_through_the_forms(
    http: httpx.AsyncClient, system: RunningSystem, page: Page
) -> None:
    """Issue 17.6: found in the queue, then every step by the role whose step it is, each
    through its form on the complaint's page (no script), to closed."""
    base = system.urls["workflow"]
    desk = await received(
        http, system, office=OFFICE, complainant={"name": "全程先生", "phone": unique_phone()}
    )
    await log_in(page, base, StaffRole.CS_AGENT)
    await page.goto(f"{base}/queue?mine=false")
    await row(page, desk).get_by_role("link").first.click()
    await page.wait_for_url(f"{base}/complaints/{desk.id}")
    await give(page, "acknowledge")
    await give(page, "classify", validity="valid", category="environment")

    deadline = (datetime.now(UTC) + timedelta(days=3)).astimezone(SHANGHAI)
    steps: list[tuple[StaffRole, str, dict[str, str]]] = [
        (StaffRole.CS_HEAD, "assign", {"deadline": deadline.strftime("%Y-%m-%dT%H:%M")}),
        (
            StaffRole.DEPARTMENT,
            "analyse",
            {"cause": "保洁巡查频次不足", "responsible_party": "环境部"},
        ),
        (StaffRole.DEPARTMENT, "propose", {"plan": "加装防护网并张贴告示"}),
        (StaffRole.SUPERVISOR, "approve", {}),
        (StaffRole.DEPARTMENT, "implement", {"summary": "已完成"}),
        (StaffRole.CS_AGENT, "reply", {"message": "已加装防护网，感谢监督", "final": "true"}),
        (StaffRole.CS_AGENT, "revisit", {"satisfied": "true", "remarks": "业主满意"}),
        (StaffRole.CS_AGENT, "close", {}),
    ]
    for role, name, fields in steps:
        await log_in(page, base, role)
        await page.goto(f"{base}/complaints/{desk.id}")
        await give(page, name, **fields)
    await expect(page.locator('#timeline tr[data-type="ComplaintClosed"]')).to_have_count(1)
    company = {"Authorization": f"Bearer {token(StaffRole.COMPANY, None)}"}
    closed = await desk.get(company)
    assert closed["status"] == "closed" and closed["satisfied"] is True

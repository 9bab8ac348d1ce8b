"""A complaint's clocks and notifications, asked of the SLA service with the staff's token."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
from fastapi import Request

from services.runtime.auth import SESSION_COOKIE
from services.workflow.pages.labels import CLOCK_STATES, local, span

SLA_TIMEOUT_S = 3.0


async def _from_sla(request: Request, path: str) -> tuple[Any, str]:
    """``GET path`` of the SLA service asked with the staff's own token: its JSON, or ``None``
    and why not in zh-CN (the page renders either way)."""
    base = request.app.state.settings.sla_base_url
    if base is None:
        return None, "时限服务未配置（COMPLAINTS_SLA_URL），暂无法显示。"
    token = session_token(request)
    try:
        async with httpx.AsyncClient(timeout=SLA_TIMEOUT_S) as client:
            resp = await client.get(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return None, f"时限服务暂不可用（{type(exc).__name__}），暂无法显示。"
    if resp.status_code != 200:
        return None, clocks_problem(resp.status_code)
    return resp.json(), ""


async def clocks_of(request: Request, complaint_id: UUID) -> tuple[list[dict[str, Any]], str]:
    """The complaint's clocks from the SLA service, or none and why not."""
    answer, problem = await _from_sla(request, f"/v1/complaints/{complaint_id}/sla")
    if answer is None:
        return [], problem
    clocks = []
    for clock in answer.get("clocks", []):
        ended = clock.get("ended_at")
        remaining = clock.get("remaining_s")
        clocks.append(
            {
                "timer": clock.get("timer", ""),
                "target": clock.get("target", ""),
                "state": CLOCK_STATES.get(clock.get("state", ""), clock.get("state", "")),
                "breached": clock.get("state") == "breached",
                "started": local(clock.get("started_at")),
                "deadline": local(clock.get("deadline")),
                "ended": local(ended),
                "left": span(remaining) if remaining is not None and not ended else "",
            }
        )
    return clocks, ""


DELIVERY_STATES = {
    "pending": "待发送",
    "retrying": "重试中",
    "delivered": "已送达",
    "dead": "已放弃（可用 complaints notifications retry 重发）",
}
"""The notifier's delivery states (``services.sla.notifier``) in zh-CN."""


async def notifications_of(
    request: Request, complaint_id: UUID
) -> tuple[list[dict[str, Any]], str]:
    """Who was told of the complaint's warnings, breaches, escalations and major flag (group
    robots), and how each delivery stands, from the SLA service's notifier; or none and why."""
    answer, problem = await _from_sla(request, f"/v1/complaints/{complaint_id}/notifications")
    if answer is None:
        return [], problem
    return [
        {
            "alert": d.get("alert_label", d.get("alert_kind", "")),
            "title": d.get("title", ""),
            "target": d.get("target", ""),
            "target_kind": {"wecom": "企业微信", "dingtalk": "钉钉"}.get(
                d.get("target_kind", ""), d.get("target_kind", "")
            ),
            "state": DELIVERY_STATES.get(d.get("state", ""), d.get("state", "")),
            "failed": d.get("state") == "dead",
            "attempts": d.get("attempts", 0),
            "last_error": d.get("last_error") or "",
            "delivered": local(d.get("delivered_at")),
            "alert_at": local(d.get("alert_at")),
        }
        for d in answer.get("deliveries", [])
    ], ""


def clocks_problem(status_code: int) -> str:
    """Why the SLA service's answer ``status_code`` shows no clocks, in zh-CN: a 401/403 is
    not an outage but the SLA service's own view of who may read the complaint (it lags an
    office transfer, or has not taken in the complaint's office yet)."""
    if status_code == 404:
        return "时限服务尚未收到此投诉，请稍后刷新。"
    if status_code in (401, 403):
        return "本岗位无权查看此投诉的时限（转办中或尚未同步）。"
    return f"时限服务暂不可用（HTTP {status_code}），暂无法显示时限。"


def session_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE, "")

"""Submissions the intake unit tests share: a hotline call, an owner's app complaint and a
generic submission. Each takes overrides; ``None`` leaves a field out."""

from __future__ import annotations

from typing import Any


def _body(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    body = {**defaults, **overrides}
    return {k: v for k, v in body.items() if v is not None}


def hotline_call(**overrides: Any) -> dict[str, Any]:
    """A call as the hotline's agent recorded it."""
    return _body(
        {
            "call_id": "CC20261005-0042",
            "caller_number": "+86 138-1234-5678",
            "agent_id": "KF017",
            "call_started_at": "2026-10-05T17:12:00+08:00",
            "caller_name": "何先生",
            "office": "Y园",
            "unit": "3栋1单元502",
            "subject": "高空抛物",
            "summary": "业主来电反映：楼上经常有牛奶盒从上空坠下",
            "demand": "查明责任人",
        },
        overrides,
    )


def app_complaint(**overrides: Any) -> dict[str, Any]:
    """An owner's complaint as the app sends it."""
    return _body(
        {
            "app_complaint_id": "APP-7781",
            "owner_account_id": "U0012345",
            "owner_name": "林女士",
            "owner_phone": "13922334455",
            "office": "G小城",
            "unit": "12幢2单元1101室",
            "category": "environment",
            "title": "垃圾清运",
            "text": "垃圾桶满了溢到地上，很臭",
            "demand": "每天按时清运",
            "photos": ["oss://owner-photos/2026/10/a.jpg", "https://img.example.cn/p/b.png"],
            "submitted_at": "2026-10-05T19:40:00+08:00",
        },
        overrides,
    )


def submission(**overrides: Any) -> dict[str, Any]:
    """A submission in the generic format (``POST /v1/complaints``)."""
    return _body(
        {
            "submission_id": "s-1",
            "office": "Y园",
            "unit": "3栋1单元502",
            "complainant": {"name": "何先生", "phone": "13812345678"},
            "subject": "漏水",
            "description": "楼上漏水",
            "occurred_at": "2026-10-05T09:12:00+08:00",
        },
        overrides,
    )

"""An alert and the message it makes, and the id of its delivery to one target."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from contracts import Envelope, EventData
from contracts.lifecycle import (
    ComplaintEscalated,
    EscalationLevel,
    MajorComplaintFlagged,
)
from contracts.sla import SlaBreached, SlaWarning
from contracts.timezone import CHINA
from services.sla.notifications.config import (
    AlertKind,
)

# Fixed forever: a delivery's id is derived from (alert event id, target name) with it.
DELIVERY_NAMESPACE = uuid.UUID("7d3c2a91-5f0e-4b8a-9c61-0e2f4b7a8d15")


@dataclass(frozen=True)
class Alert:
    """An alert to deliver: what it is, its title (plain text: DingTalk's notification
    preview) and its message (markdown, no personal data)."""

    kind: AlertKind
    title: str
    text: str
    level: EscalationLevel | None = None


MARKDOWN_SPECIALS = "\\[]()*_#`"


def escape_markdown(text: str) -> str:
    """``text`` shown as itself in the robots' markdown: each of ``\\ [ ] ( ) * _ # ` ``
    preceded by a backslash (an office called ``[A]*园`` is not a link nor emphasis)."""
    return "".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in text)


def _when(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def complaint_link(workbench_url: str | None, complaint_id: uuid.UUID) -> str:
    """The markdown link to the complaint on the staff workbench (nothing without a URL)."""
    if not workbench_url:
        return ""
    return f"\n\n[打开投诉]({workbench_url.rstrip('/')}/complaints/{complaint_id})"


def alert_of(
    envelope: Envelope,
    data: EventData,
    office: str | None,
    *,
    timer_labels: Mapping[str, str] | None = None,
    workbench_url: str | None = None,
) -> Alert | None:
    """The alert an event is, with its message; ``None`` for an event that is no alert.

    ``timer_labels``: each timer's zh-CN name (``reply`` → 答复业主, from the SLA policy; a
    timer without one shows its key); ``workbench_url``: the staff workbench's base URL, for
    a link to the complaint at the end of the message (none without it)."""
    labels = timer_labels or {}

    def timer(name: str) -> str:
        return labels.get(name, name)

    where = office or "未知管理处"
    shown = escape_markdown(where)
    head = f"投诉编号：{envelope.complaint_id}\n\n管理处：{shown}\n\n"
    link = complaint_link(workbench_url, envelope.complaint_id)

    def alert(
        kind: AlertKind, title: str, body: str, level: EscalationLevel | None = None
    ) -> Alert:
        heading = escape_markdown(title)
        return Alert(kind, title, f"### {heading}\n\n{head}{body}{link}", level)

    if isinstance(data, SlaWarning):
        body = (
            f"时限：{escape_markdown(data.target)}\n\n已用时限：{data.share:.0%}\n\n"
            f"截止时间：{_when(data.deadline)}"
        )
        return alert(AlertKind.WARNING, f"【即将超时】{where} 投诉{timer(data.timer)}", body)
    if isinstance(data, SlaBreached):
        which = "硬性时限" if data.hard else "目标时限"
        body = (
            f"时限：{escape_markdown(timer(data.timer))}（{which}）\n\n"
            f"截止时间：{_when(data.deadline)}"
        )
        return alert(AlertKind.BREACH, f"【超时】{where} 投诉{timer(data.timer)}已超{which}", body)
    if isinstance(data, ComplaintEscalated):
        body = (
            f"现由：{data.level.label}负责\n\n未按时完成：{escape_markdown(timer(data.timer))}"
            f"\n\n截止时间：{_when(data.deadline)}"
        )
        title = f"【升级】{where} 投诉已升级至{data.level.label}"
        return alert(AlertKind.ESCALATION, title, body, data.level)
    if isinstance(data, MajorComplaintFlagged):
        # The reason is free text (a person's, for a manual flag): it stays out of the chat.
        body = (
            f"认定依据：{data.rule.label}\n\n认定时间：{_when(envelope.occurred_at)}\n\n"
            "请立即向物业服务项目经理汇报，详情见投诉处理平台。"
        )
        return alert(AlertKind.MAJOR, f"【重大投诉】{where} 请项目经理立即处理", body)
    return None


def delivery_id(alert_event_id: uuid.UUID, target: str) -> uuid.UUID:
    """The id of the delivery of an alert to a target: the same for a replayed alert."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{alert_event_id}:{target}")

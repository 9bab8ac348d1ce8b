"""What the workbench shows for a name or a value: zh-CN titles and labels, times in China."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.lifecycle import Awaiting, CloseOutcome, EscalationLevel, Role
from contracts.timezone import CHINA
from services.workflow.domain import Status

COMMAND_TITLES: dict[str, str] = {
    "acknowledge": "响应接单（首问责任）",
    "classify": "判定与分类",
    "resolve": "当场解决",
    "rejudge": "复核",
    "suspend": "暂缓",
    "resume": "恢复处理",
    "assign": "派单（确定责任部门）",
    "transfer": "转派",
    "send-back": "退单",
    "transfer-office": "跨项目转办",
    "transfer-office/accept": "接收转办",
    "flag-major": "认定重大投诉",
    "unflag-major": "撤销重大投诉",
    "analyse": "分析原因",
    "propose": "提出处理方案",
    "approve": "批准方案",
    "reject": "驳回方案",
    "implement": "实施方案",
    "reply": "答复业主",
    "commit": "时间承诺",
    "revisit": "回访",
    "close": "关闭",
    "reopen": "重新处理",
    "prevent": "预防措施",
    "withdraw": "撤诉",
    "merge": "合并重复投诉",
}
"""Each command's zh-CN name, in the order of the procedure (the order of the forms)."""

EVENT_LABELS: dict[str, str] = {
    "ComplaintReceived": "受理投诉",
    "ComplaintAcknowledged": "响应接单",
    "ComplaintJudged": "判定投诉",
    "ComplaintRejudged": "复核",
    "DepartmentProposed": "建议责任部门",
    "DepartmentAssigned": "派单",
    "ComplaintTransferred": "转派",
    "ComplaintSentBack": "退单",
    "OfficeTransferRequested": "申请跨项目转办",
    "ComplaintOfficeTransferred": "跨项目转办",
    "CauseAnalysed": "分析原因",
    "ResolutionProposed": "提出处理方案",
    "PlanApproved": "批准方案",
    "PlanRejected": "驳回方案",
    "PlanImplemented": "实施方案",
    "OwnerReplied": "答复业主",
    "TimeCommitted": "时间承诺",
    "RevisitRecorded": "回访",
    "OwnerNotReached": "回访未联系上业主",
    "ComplaintResolvedOnTheSpot": "当场解决",
    "ComplaintSuspended": "暂缓",
    "ComplaintResumed": "恢复处理",
    "ComplaintReopened": "重新处理",
    "ComplaintClosed": "关闭",
    "PreventiveMeasureRecorded": "预防措施",
    "MajorComplaintFlagged": "认定重大投诉",
    "MajorComplaintUnflagged": "撤销重大投诉",
    "ComplaintEscalated": "升级",
    "ComplaintWithdrawn": "撤诉",
    "ComplaintMerged": "合并",
    "SlaWarning": "即将超时",
    "SlaBreached": "超时",
}
"""What each event of a timeline was, in zh-CN (an unknown type is shown as it is)."""

FIELD_LABELS: dict[str, str] = {
    "validity": "是否成立",
    "category": "投诉分类",
    "priority": "轻重缓急",
    "note": "备注",
    "summary": "处理结果",
    "reason": "理由",
    "awaiting": "等待",
    "until": "恢复时间",
    "department": "责任部门",
    "deadline": "限期",
    "helper_department": "协办部门",
    "to_department": "转派部门",
    "to_office": "转往管理处",
    "cause": "原因",
    "responsible_party": "责任方",
    "plan": "处理方案",
    "plan_id": "方案编号",
    "comment": "批示意见",
    "message": "内容",
    "final": "最终答复",
    "fulfils_commitment": "兑现时间承诺",
    "promised_at": "承诺时间",
    "reached": "联系上业主",
    "satisfied": "业主满意",
    "remarks": "回访记录",
    "outcome": "关闭方式",
    "measure": "预防措施",
    "into_complaint_id": "合并到投诉编号",
    "accountability": "责任追究",
    "level": "升级到",
    "timer": "时限",
    "rule": "规则",
    "major_rule": "重大投诉原因",
    "into_status": "状态",
    "deadline_at": "截止时间",
}
"""The zh-CN names of command fields and event data shown on the pages."""

QUEUE_LABELS: dict[str, str] = {
    "office": "管理处",
    "status": "状态",
    "include_ended": "含已结束",
    "department": "责任部门",
    "assignee": "首问责任人",
    "mine": "我的待办",
    "major": "重大投诉",
    "priority": "轻重缓急",
    "overdue": "超时",
    "due_before": "时限早于",
    "channel": "渠道",
    "text": "关键词",
    "sort": "排序",
    "limit": "每页",
    "cursor": "下一页",
}
"""The queue page's filters as its form names them (for its refusals)."""

_VALUE_ENUMS: dict[str, type[Enum]] = {
    "validity": Validity,
    "category": ServiceCategory,
    "priority": Priority,
    "channel": Channel,
    "awaiting": Awaiting,
    "outcome": CloseOutcome,
    "level": EscalationLevel,
    "status": Status,
}
HIDDEN_DATA = {
    # the actor has a column of its own; the receipt's facts head the page
    "actor",
    "complainant",
    "office",
    "unit",
    "channel",
    "subject",
    "description",
    "demand",
    "address",
    "channel_refs",
    "submission_id",
    "occurred_at",
    "over_the_head",
}
CLOCK_STATES = {
    "running": "计时中",
    "paused": "暂停",
    "met": "已完成",
    "breached": "已超时",
    "cancelled": "已取消",
}


def local(at: datetime | str | None) -> str:
    """An instant as Shanghai's wall clock, to the minute."""
    if at is None or at == "":
        return ""
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return when.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def span(seconds: float) -> str:
    """Time left (``剩余…``) or past (``已超时…``) in days, hours and minutes."""
    left = abs(int(seconds)) // 60
    days, rest = divmod(left, 24 * 60)
    hours, minutes = divmod(rest, 60)
    text = (f"{days}天" if days else "") + (f"{hours}小时" if hours or days else "")
    text += f"{minutes}分"
    return f"已超时{text}" if seconds < 0 else f"剩余{text}"


def as_shanghai(value: str) -> str:
    """A time from a form: one without an offset (``datetime-local``) is Shanghai's; what does
    not parse is left for the validation, which names the field and the reason."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA)
    return parsed.isoformat()


def role_label(role: str) -> str:
    """A role's zh-CN name (the analyst, no role of the procedure, as 分析员)."""
    try:
        return Role(role).label
    except ValueError:
        return "分析员" if role == "analyst" else role


def enum_label(member: Enum) -> str:
    return str(getattr(member, "label", member.value))


def shown_value(key: str, value: Any) -> str:
    """One value of an event's data as staff read it: enums by their label, times local."""
    enum = _VALUE_ENUMS.get(key)
    if enum is not None and isinstance(value, str):
        try:
            return enum_label(enum(value))
        except ValueError:
            return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return local(value)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return "；".join(shown_value(key, v) for v in value)
    if isinstance(value, dict):
        return "，".join(
            f"{FIELD_LABELS.get(k, k)}：{shown_value(k, v)}"
            for k, v in value.items()
            if v not in (None, "")
        )
    return str(value)

"""Statuses: where each event moves a complaint (the workflow's moves), and their labels."""

from __future__ import annotations

STATUS_AFTER: dict[str, str] = {
    "ComplaintReceived": "received",
    "ComplaintAcknowledged": "acknowledged",
    "ComplaintJudged": "judged",
    "DepartmentAssigned": "assigned",
    "ComplaintTransferred": "assigned",  # 转派: assigned to another department
    "ComplaintSentBack": "judged",  # 退单: waits for assignment again
    "CauseAnalysed": "analysed",
    "ResolutionProposed": "plan_proposed",
    "PlanApproved": "plan_approved",
    "PlanRejected": "analysed",  # back to the cause: the department proposes again
    "PlanImplemented": "implemented",
    "RevisitRecorded": "revisited",
    "ComplaintReopened": "reopened",
    "ComplaintResolvedOnTheSpot": "resolved",
    "ComplaintSuspended": "suspended",  # until a ComplaintResumed (complaint_states folds that)
    "ComplaintClosed": "closed",
    "ComplaintWithdrawn": "withdrawn",
    "ComplaintMerged": "merged",
}
"""The status an event leads to; events not listed leave the status unchanged."""


ENDED_STATUSES = ("closed", "withdrawn", "merged")
"""Statuses in which a complaint is no longer handled (not open, no timer runs)."""


STATUS_LABELS: dict[str, str] = {
    "received": "已登记",
    "acknowledged": "已响应",
    "judged": "已判定",
    "assigned": "已派单",
    "analysed": "已分析原因",
    "plan_proposed": "方案待批",
    "plan_approved": "方案已批",
    "implemented": "已实施",
    "revisited": "已回访",
    "reopened": "重新处理",
    "resolved": "当场解决",
    "suspended": "暂缓",
    "closed": "已关闭",
    "withdrawn": "已撤诉",
    "merged": "已合并",
}
"""The zh-CN word for each status, in the order of the procedure."""


def status_label(status: str) -> str:
    """The zh-CN label of a status (the status itself when unknown)."""
    return STATUS_LABELS.get(status, status)

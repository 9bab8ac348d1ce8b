"""The dashboard's answer: its parts as typed, frozen models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

HotSpotKind = Literal["unit", "building", "topic"]


HOT_SPOT_LABELS: dict[str, str] = {"unit": "同一房号", "building": "同一楼栋", "topic": "同一问题"}


Row = Mapping[str, Any]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class StatusCount(_Frozen):
    """Open complaints in one status."""

    status: str
    label: str
    count: int


class OfficeOpen(_Frozen):
    """One office's open complaints, per status."""

    office: str
    total: int
    by_status: dict[str, int]


class OpenComplaints(_Frozen):
    """Open complaints, by status (in the order of the procedure) and by office."""

    total: int
    by_status: tuple[StatusCount, ...]
    by_office: tuple[OfficeOpen, ...]


class AlertClock(_Frozen):
    """One SLA clock (timer) of a complaint, overdue or about to breach."""

    timer: str
    timer_label: str
    overdue: bool
    deadline: AwareDatetime | None
    hard: bool
    alerted_at: AwareDatetime


class AlertedComplaint(_Frozen):
    """A complaint on the 已超时 or 即将超时 list, once, with the clocks that put it there."""

    complaint_id: UUID
    office: str
    unit: str
    subject: str
    status: str
    status_label: str
    priority: str | None = None  # 轻重缓急 (None: not judged yet)
    priority_label: str = "未定"
    clocks: tuple[AlertClock, ...] = Field(
        description="Its clocks of this list, the most urgent first: on 已超时 the overdue ones, "
        "on 即将超时 the ones about to breach (a complaint with an overdue clock is on 已超时 "
        "only; its clocks about to breach are not repeated there)"
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def timer_labels(self) -> str:
        """The clocks' zh-CN names joined: ``答复业主、回访``."""
        return "、".join(clock.timer_label for clock in self.clocks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def deadline(self) -> AwareDatetime | None:
        """The earliest deadline of its clocks."""
        return min((c.deadline for c in self.clocks if c.deadline is not None), default=None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def hard(self) -> bool:
        """Whether one of its clocks missed its hard limit too."""
        return any(clock.hard for clock in self.clocks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def alerted_at(self) -> AwareDatetime:
        """When the latest alert of its clocks was recorded."""
        return max(clock.alerted_at for clock in self.clocks)


class AlertList(_Frozen):
    """Complaints with a clock overdue (or about to breach), each once, the most urgent
    (earliest deadline) first; ``total`` counts the complaints, beyond the limit too."""

    total: int = Field(description="Complaints (not clocks), beyond the list's limit too")
    items: tuple[AlertedComplaint, ...]


class MajorComplaint(_Frozen):
    """An open major complaint (重大投诉)."""

    complaint_id: UUID
    office: str
    unit: str
    subject: str
    status: str
    status_label: str
    priority: str | None = None  # 轻重缓急 (None: not judged yet)
    priority_label: str = "未定"
    rule: str | None
    rule_label: str
    flagged_at: AwareDatetime | None
    occurred_at: AwareDatetime


class MajorList(_Frozen):
    """Open major complaints, oldest first."""

    total: int
    items: tuple[MajorComplaint, ...]


class ChannelCount(_Frozen):
    """Complaints of one channel."""

    channel: str
    label: str
    count: int


class Intake(_Frozen):
    """Complaints that occurred on one day, by channel (every channel listed, zeros too)."""

    day: date
    total: int
    by_channel: tuple[ChannelCount, ...]


class HotSpot(_Frozen):
    """A unit, building or topic of one office complained about again and again."""

    kind: HotSpotKind
    kind_label: str
    office: str
    key: str
    count: int
    latest_at: AwareDatetime
    complaint_ids: tuple[UUID, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def figure(self) -> str:
        """Its count's drill-down key (``hot.<kind>.<key>``, with ``office``)."""
        return f"hot.{self.kind}.{self.key}"


class HotSpots(_Frozen):
    """Repeat hot spots (星星之火) within ``days`` before T, ``min_count`` complaints or more."""

    days: int
    min_count: int
    units: tuple[HotSpot, ...]
    buildings: tuple[HotSpot, ...]
    topics: tuple[HotSpot, ...]


class Dashboard(_Frozen):
    """The dashboard as of ``as_of``, for one office or (``office`` None) the whole company."""

    as_of: AwareDatetime
    office: str | None
    open: OpenComplaints
    overdue: AlertList
    due_soon: AlertList
    major: MajorList
    today: Intake
    hot_spots: HotSpots


BoardSource = Literal["open", "alerts", "today", "hot"]

"""The dashboard from the rows the store read as of T (no database here), and the complaints
behind each of its counts (``BOARD_FIGURES``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from contracts.enums import Channel, Priority
from contracts.lifecycle import MajorRule
from contracts.timezone import CHINA
from services.reporting.dashboard.model import (
    HOT_SPOT_LABELS,
    AlertClock,
    AlertedComplaint,
    AlertList,
    BoardSource,
    ChannelCount,
    Dashboard,
    HotSpot,
    HotSpotKind,
    HotSpots,
    Intake,
    MajorComplaint,
    MajorList,
    OfficeOpen,
    OpenComplaints,
    Row,
    StatusCount,
)
from services.reporting.domain import STATUS_LABELS, status_label, timer_label

LIST_LIMIT = 200
"""At most this many complaints in each list (the totals count them all)."""


def alerted_complaints(alert_rows: Sequence[Row]) -> list[Row]:
    """The open timer alerts (``store.timer_alerts``: one row per clock, earliest deadline
    first) as one row per complaint, in the order of its most urgent clock of its list: the
    complaint's fields, ``overdue`` (one of its clocks is overdue) and ``clocks``, the rows of
    the clocks of its list (the overdue ones, else the ones about to breach).

    The dashboard's 已超时 and 即将超时 count these rows and their drill-down lists them, so
    both count complaints, each once."""
    by_complaint: dict[UUID, list[tuple[int, Row]]] = {}
    for index, row in enumerate(alert_rows):
        by_complaint.setdefault(row["complaint_id"], []).append((index, row))
    grouped = []
    for clocks in by_complaint.values():
        overdue = any(row["overdue"] for _, row in clocks)
        listed = [(i, row) for i, row in clocks if bool(row["overdue"]) == overdue]
        first = listed[0][1]
        grouped.append(
            (
                listed[0][0],
                {
                    "complaint_id": first["complaint_id"],
                    "office": first["office"],
                    "unit": first["unit"],
                    "subject": first["subject"],
                    "overdue": overdue,
                    "clocks": [row for _, row in listed],
                },
            )
        )
    return [row for _, row in sorted(grouped, key=lambda pair: pair[0])]


@dataclass(frozen=True)
class BoardFigure:
    """One count of the dashboard: which store rows it counts (``source``: the open
    complaints, the open timer alerts, today's intake or the hot-spot groups) and which of
    them (``test``). ``build_dashboard`` counts ``rows`` and the drill-down lists them
    (``complaints``). Timer alerts are counted per complaint (``alerted_complaints``);
    ``note`` says on the list what a row stands for when it needs saying."""

    key: str
    label: str
    source: BoardSource
    test: Callable[[Row], bool]
    note: str = ""

    def rows(self, source_rows: Sequence[Row]) -> list[Row]:
        """The rows the count counts among ``source_rows`` (of its ``source``; timer alerts
        grouped per complaint first)."""
        if self.source == "alerts":
            source_rows = alerted_complaints(source_rows)
        return [row for row in source_rows if self.test(row)]

    def complaints(self, source_rows: Sequence[Row]) -> list[UUID]:
        """The complaints behind the count among ``source_rows``: one per counted row (an
        alerted complaint once, however many clocks); a hot-spot group lists the complaints
        it counted (``ids``: as many as its count ``n``)."""
        if self.source == "hot":
            return [i for row in self.rows(source_rows) for i in row["ids"]]
        return [row["complaint_id"] for row in self.rows(source_rows)]


def _any(row: Row) -> bool:
    return True


OVERDUE_NOTE = "每起投诉列出一次；“时限”为其已超时的时限。"


DUE_SOON_NOTE = "每起投诉列出一次；“时限”为其即将超时的时限（已有时限超时的投诉列入“已超时”）。"


BOARD_FIGURES: dict[str, BoardFigure] = {
    f.key: f
    for f in (
        BoardFigure("open", "未结投诉", "open", _any),
        BoardFigure("major", "重大投诉（未结）", "open", lambda row: bool(row["major"])),
        BoardFigure("overdue", "已超时", "alerts", lambda row: bool(row["overdue"]), OVERDUE_NOTE),
        BoardFigure(
            "due_soon", "即将超时", "alerts", lambda row: not row["overdue"], DUE_SOON_NOTE
        ),
        BoardFigure("today", "今日受理", "today", _any),
    )
}
"""The dashboard's fixed counts; ``open.<status>``, ``today.<channel>`` and
``hot.<kind>.<key>`` are made on demand (``board_figure``)."""


def board_figure(key: str) -> BoardFigure | None:
    """The dashboard's count named ``key`` (``open``, ``open.<status>``, ``major``, ``overdue``,
    ``due_soon``, ``today``, ``today.<channel>``, ``hot.<unit|building|topic>.<key>``), or
    ``None``. A hot spot is one office's: its list is asked for with that ``office``."""
    if key in BOARD_FIGURES:
        return BOARD_FIGURES[key]
    kind, _, value = key.partition(".")
    if kind == "open" and value in STATUS_LABELS:
        return BoardFigure(
            key, f"未结投诉·{status_label(value)}", "open", lambda row: row["status"] == value
        )
    if kind == "today" and value in {c.value for c in Channel}:
        return BoardFigure(
            key, f"今日受理·{_channel_label(value)}", "today", lambda row: row["channel"] == value
        )
    spot, _, place = value.partition(".")
    if kind == "hot" and spot in HOT_SPOT_LABELS and place:
        return BoardFigure(
            key,
            f"重复投诉热点·{HOT_SPOT_LABELS[spot]}·{place}",
            "hot",
            lambda row: row["kind"] == spot and row["key"] == place,
        )
    return None


def build_dashboard(
    *,
    as_of: datetime,
    office: str | None,
    open_rows: Sequence[Row],
    alert_rows: Sequence[Row],
    intake: Mapping[str, int],
    hot_rows: Sequence[Row],
    days: int,
    min_count: int,
) -> Dashboard:
    """Compose the dashboard from the store's rows as of ``as_of``.

    ``open_rows``: the open complaints; ``alert_rows``: the open timer alerts (earliest deadline
    first); ``intake``: channel → complaints of T's day; ``hot_rows``: the repeat groups.
    """
    status_of = {row["complaint_id"]: row["status"] for row in open_rows}
    priority_of = {row["complaint_id"]: row["priority"] for row in open_rows}

    def alerts(rows: Sequence[Row]) -> AlertList:
        items = rows[:LIST_LIMIT]
        return AlertList(
            total=len(rows), items=tuple(_alert(r, status_of, priority_of) for r in items)
        )

    majors = BOARD_FIGURES["major"].rows(open_rows)
    channels = [c.value for c in Channel] + sorted(set(intake) - {c.value for c in Channel})
    hot = [_hot_spot(row) for row in hot_rows]
    return Dashboard(
        as_of=as_of,
        office=office,
        open=_open_complaints(open_rows),
        overdue=alerts(BOARD_FIGURES["overdue"].rows(alert_rows)),
        due_soon=alerts(BOARD_FIGURES["due_soon"].rows(alert_rows)),
        major=MajorList(total=len(majors), items=tuple(_major(r) for r in majors[:LIST_LIMIT])),
        today=Intake(
            day=as_of.astimezone(CHINA).date(),
            total=sum(intake.values()),
            by_channel=tuple(
                ChannelCount(channel=c, label=_channel_label(c), count=intake.get(c, 0))
                for c in channels
            ),
        ),
        hot_spots=HotSpots(
            days=days,
            min_count=min_count,
            units=tuple(h for h in hot if h.kind == "unit")[:LIST_LIMIT],
            buildings=tuple(h for h in hot if h.kind == "building")[:LIST_LIMIT],
            topics=tuple(h for h in hot if h.kind == "topic")[:LIST_LIMIT],
        ),
    )


def _open_complaints(open_rows: Sequence[Row]) -> OpenComplaints:
    """The open complaints by status (the procedure's order), and by office (most first)."""
    per_status: Counter[str] = Counter(row["status"] for row in open_rows)
    per_office: dict[str, Counter[str]] = {}
    for row in open_rows:
        per_office.setdefault(row["office"], Counter())[row["status"]] += 1
    statuses = [s for s in STATUS_LABELS if per_status[s]]
    statuses += sorted(s for s in per_status if s not in STATUS_LABELS)
    return OpenComplaints(
        total=len(open_rows),
        by_status=tuple(
            StatusCount(status=s, label=status_label(s), count=per_status[s]) for s in statuses
        ),
        by_office=tuple(
            OfficeOpen(
                office=name,
                total=sum(counts.values()),
                by_status={s: counts[s] for s in statuses if counts[s]},
            )
            for name, counts in sorted(
                per_office.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])
            )
        ),
    )


def _alert(
    row: Row, status_of: Mapping[Any, str], priority_of: Mapping[Any, str | None]
) -> AlertedComplaint:
    """One complaint of the overdue or due-soon list, with the clocks that put it there."""
    status = status_of.get(row["complaint_id"], "received")
    priority = priority_of.get(row["complaint_id"])
    return AlertedComplaint(
        complaint_id=row["complaint_id"],
        office=row["office"],
        unit=row["unit"],
        subject=row["subject"],
        status=status,
        status_label=status_label(status),
        priority=priority,
        priority_label=priority_label(priority),
        clocks=tuple(
            AlertClock(
                timer=clock["timer"],
                timer_label=timer_label(clock["timer"]),
                overdue=clock["overdue"],
                deadline=clock["deadline"],
                hard=clock["hard"],
                alerted_at=clock["alerted_at"],
            )
            for clock in row["clocks"]
        ),
    )


def priority_label(priority: str | None) -> str:
    """The zh-CN word of a priority (轻重缓急); ``未定`` before judgment."""
    if priority is None:
        return "未定"
    try:
        return Priority(priority).label
    except ValueError:
        return priority


def _channel_label(channel: str) -> str:
    try:
        return Channel(channel).label
    except ValueError:
        return channel


def _major(row: Row) -> MajorComplaint:
    rule = row["major_rule"]
    try:
        rule_label = MajorRule(rule).label if rule is not None else "重大投诉"
    except ValueError:
        rule_label = str(rule)
    return MajorComplaint(
        complaint_id=row["complaint_id"],
        office=row["office"],
        unit=row["unit"],
        subject=row["subject"],
        status=row["status"],
        status_label=status_label(row["status"]),
        priority=row["priority"],
        priority_label=priority_label(row["priority"]),
        rule=rule,
        rule_label=rule_label,
        flagged_at=row["major_at"],
        occurred_at=row["occurred_at"],
    )


def _hot_spot(row: Row) -> HotSpot:
    kind: HotSpotKind = row["kind"]
    return HotSpot(
        kind=kind,
        kind_label=HOT_SPOT_LABELS[kind],
        office=row["office"],
        key=row["key"],
        count=row["n"],
        latest_at=row["latest_at"],
        complaint_ids=tuple(row["ids"]),
    )

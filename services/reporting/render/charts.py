"""The report's charts: SVG geometry computed here; the template draws them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from contracts.enums import Validity
from services.reporting.monthly import (
    UNCLASSIFIED_LABEL,
    MonthlyReport,
    format_share,
)

TYPE_COLOURS = {Validity.VALID: "#c0392b", Validity.ASSIST: "#e69f00", Validity.INVALID: "#3c8dbc"}
BAR_COLOUR = "#2e7d5b"


@dataclass(frozen=True)
class Slice:
    """One slice of a pie chart: ``path`` is None when the slice is the whole circle."""

    label: str
    count: int
    share: str
    colour: str
    path: str | None
    figure: str  # the drill-down key of its count


@dataclass(frozen=True)
class PieChart:
    """A pie chart with a legend on its right."""

    title: str
    slices: list[Slice]
    radius: int = 90
    width: int = 460
    height: int = 200


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: its length in pixels and the text beside it."""

    label: str
    count: int
    share: str
    length: float
    figure: str  # the drill-down key of its count
    office: str | None = None  # the office the count is of (None: the report's)


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart, one bar per line, largest first."""

    title: str
    bars: list[Bar]
    colour: str = BAR_COLOUR
    label_width: int = 150
    bar_area: int = 330
    line_height: int = 26
    width: int = 640

    @property
    def height(self) -> int:
        """Enough lines for every bar (one line for the "no data" note)."""
        return 16 + self.line_height * max(len(self.bars), 1)


def _pie(title: str, parts: Sequence[tuple[str, int, int, str, str]], radius: int = 90) -> PieChart:
    """Slices of the parts ``(label, count, share_tenths, colour, figure)`` with counts above
    0."""
    total = sum(part[1] for part in parts)
    slices: list[Slice] = []
    start = 0
    for label, count, tenths, colour, figure in parts:
        if count == 0:
            continue
        share = format_share(tenths)
        if count == total:
            slices.append(Slice(label, count, share, colour, None, figure))
            continue
        a0 = 2 * math.pi * start / total - math.pi / 2  # 12 o'clock, clockwise
        a1 = 2 * math.pi * (start + count) / total - math.pi / 2
        large = 1 if count * 2 > total else 0
        c = radius + 10
        x0, y0 = c + radius * math.cos(a0), c + radius * math.sin(a0)
        x1, y1 = c + radius * math.cos(a1), c + radius * math.sin(a1)
        path = f"M{c},{c} L{x0:.2f},{y0:.2f} A{radius},{radius} 0 {large} 1 {x1:.2f},{y1:.2f} Z"
        slices.append(Slice(label, count, share, colour, path, figure))
        start += count
    return PieChart(title=title, slices=slices, radius=radius)


def _bars(
    title: str, parts: Sequence[tuple[str, int, int, str, str | None]], area: int = 330
) -> BarChart:
    """Bars of the parts ``(label, count, share_tenths, figure, office)``, scaled to the
    largest count."""
    largest = max((part[1] for part in parts), default=0)
    bars = [
        Bar(
            label,
            count,
            format_share(tenths),
            area * count / largest if largest else 0.0,
            figure,
            office,
        )
        for label, count, tenths, figure, office in parts
    ]
    return BarChart(title=title, bars=bars, bar_area=area)


def charts(report: MonthlyReport) -> dict[str, PieChart | BarChart]:
    """The three charts of the report: shares by type, by service category, by office."""
    by_type = _pie(
        "投诉类型占比",
        [
            (f.label, f.count, f.share_tenths, TYPE_COLOURS[f.validity], f.validity.value)
            for f in report.by_type
        ],
    )
    categories: list[tuple[str, int, int, str, str | None]] = [
        (f.label, f.count, f.share_tenths, f"category.{f.category.value}", None)
        for f in report.by_category
    ]
    if report.unclassified.count:
        u = report.unclassified
        categories.append((UNCLASSIFIED_LABEL, u.count, u.share_tenths, "unclassified", None))
    by_category = _bars("有效投诉服务类别分布", categories)
    by_office = _bars(
        "有效投诉管理处分布",
        [(f.office, f.count, f.share_tenths, "valid", f.office) for f in report.by_office],
    )
    return {"by_type": by_type, "by_category": by_category, "by_office": by_office}

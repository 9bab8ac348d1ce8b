"""What the report's reads rest on in ``schema.sql``: which months of a period a report "now"
counts from ``current_counts`` (``store.reports.whole_months``), that those counts' months are
China's, and that the named complaints' index holds the complaints a report names."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from contracts.timezone import CHINA
from services.reporting.store.reports import named, whole_months

SCHEMA = Path(__file__).parents[3] / "services" / "reporting" / "schema.sql"


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, CHINA)


def months_within(first_day: date, last_day: date) -> list[date]:
    """Every month whose days all lie in [first_day, last_day], by walking the days."""
    days = {first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)}
    starts = sorted(d for d in days if d.day == 1)
    return [
        s for s in starts if (s + timedelta(days=31)).replace(day=1) - timedelta(days=1) in days
    ]


@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    st.integers(min_value=0, max_value=800),
)
def test_the_whole_months_are_every_month_the_period_holds_whole(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    first, after = whole_months(midnight(start), midnight(end + timedelta(days=1)))
    whole = months_within(start, end)
    assert first.day == after.day == 1
    if not whole:
        assert first == after
    else:
        assert (first, after) == (whole[0], (whole[-1] + timedelta(days=31)).replace(day=1))
        assert len(whole) == (after.year - first.year) * 12 + after.month - first.month


def test_a_period_from_an_instant_after_midnight_leaves_that_month_out() -> None:
    start = midnight(date(2026, 10, 1)) + timedelta(seconds=1)
    assert whole_months(start, midnight(date(2026, 12, 1))) == (
        date(2026, 11, 1),
        date(2026, 12, 1),
    )


def test_the_counts_months_are_china_months() -> None:
    """``current_counts``' trigger reads a complaint's month in the zone the reads use."""
    text = SCHEMA.read_text(encoding="utf-8")
    assert "AT TIME ZONE 'Asia/Shanghai'" in text
    assert CHINA.key == "Asia/Shanghai"


def test_the_named_complaints_index_holds_the_complaints_a_report_names() -> None:
    """complaint_current_named's predicate is ``named`` (a report's read of the named
    complaints "now" is planned on it only while the two say the same)."""
    text = " ".join(SCHEMA.read_text(encoding="utf-8").split())
    index = text.split("CREATE INDEX IF NOT EXISTS complaint_current_named ")[1].split(";")[0]
    assert index == f"ON complaint_current (occurred_at) WHERE {named('')}"

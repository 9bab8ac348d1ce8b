"""The repeat rule's closest run (``_closest_run``) found by bisection gives exactly what the
plain definition gives — every span tried, every other scanned — and stays fast for a serial
complainer's hundreds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.workflow.domain.rules import _closest_run

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def plain_closest_run(at: datetime, others: list[datetime], window: timedelta) -> list[datetime]:
    """The definition: of the spans starting at each other not after ``at`` and at ``at``,
    the first that holds the most others."""
    near = sorted(t for t in others if abs(t - at) <= window)
    best: list[datetime] = []
    for start in [t for t in near if t <= at] + [at]:
        run = [t for t in near if start <= t <= start + window]
        if len(run) > len(best):
            best = run
    return best


# Minutes on a small grid, so equal instants, instants exactly a window apart and instants
# exactly at ``at`` all occur often.
minutes = st.integers(min_value=0, max_value=60)


@settings(max_examples=400, deadline=None)
@given(at=minutes, others=st.lists(minutes, max_size=40), window=st.integers(0, 30))
def test_the_bisected_run_is_the_plain_one(at: int, others: list[int], window: int) -> None:
    instants = [T0 + timedelta(minutes=m) for m in others]
    span = timedelta(minutes=window)
    here = T0 + timedelta(minutes=at)
    assert _closest_run(here, instants, span) == plain_closest_run(here, instants, span)


def test_a_serial_complainers_hundreds_are_counted_whole() -> None:
    # 3,000 complaints of one owner within a week: all fit one 7-day span with this one
    others = [T0 + timedelta(minutes=3 * i) for i in range(3000)]
    at = T0 + timedelta(minutes=9000)
    run = _closest_run(at, others, timedelta(days=7))
    assert run == others

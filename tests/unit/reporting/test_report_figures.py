"""Every count of the monthly report and the list of complaints behind it (issue 17, the
analyst console's drill-down): the list is the rows the count counts, for the whole company
and for each office."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.enums import Channel, ServiceCategory, Validity
from services.reporting.monthly import (
    FIGURES,
    RECORD_FIGURES,
    REPORT_TIMEZONE,
    Figure,
    Handling,
    QuotedEvent,
    ReportRow,
    ServiceLevels,
    build_monthly_report,
    figure_rows,
    find_figure,
    problem_text,
    record_complaints,
)

OFFICES = ("甲苑", "乙园", "丙城")
PERIOD = (date(2026, 3, 1), date(2026, 3, 31))
START = datetime(2026, 2, 25, tzinfo=REPORT_TIMEZONE)  # some rows fall outside the period

maybe_bool = st.one_of(st.none(), st.booleans())


@st.composite
def report_row(draw: st.DrawFn) -> ReportRow:
    validity = draw(st.one_of(st.none(), st.sampled_from(Validity)))
    replied_1 = draw(maybe_bool)
    replied_3 = True if replied_1 else draw(maybe_bool)
    status = draw(
        st.sampled_from(["received", "judged", "suspended", "closed", "merged", "withdrawn"])
    )
    return ReportRow(
        complaint_id=uuid.UUID(int=draw(st.integers(0, 2**64))),
        office=draw(st.sampled_from(OFFICES)),
        channel=draw(st.sampled_from(Channel)),
        validity=validity,
        category=draw(st.one_of(st.none(), st.sampled_from(ServiceCategory))),
        received_at=START + timedelta(hours=draw(st.integers(0, 24 * 40))),
        first_response_within_30min=draw(maybe_bool),
        replied_within_1_day=replied_1,
        replied_within_3_days=replied_3,
        overdue=draw(st.booleans()),
        revisit_satisfied=draw(maybe_bool),
        status=status,
        major=draw(st.booleans()),
        resolved_on_the_spot=draw(st.booleans()),
        suspended=status == "suspended" or draw(st.booleans()),  # suspended now: ever too
        rejudged=draw(st.booleans()),
        close_outcome=draw(st.sampled_from([None, "satisfied", "unsatisfied", "unreachable"])),
        subject=draw(st.sampled_from(["", "外墙清洗", "外墙  清洗", "路灯"])),
        description=draw(st.sampled_from(["", "没有按时清洗", "灯不亮"])),
    )


@st.composite
def quoted_event(draw: st.DrawFn, ids: list[uuid.UUID]) -> QuotedEvent:
    """An accountability event (with 0–3 records) or a preventive measure of one of ``ids``."""
    record = {"person": "张三", "measure": "通报批评", "reason": "未按时清运"}
    kind = draw(st.sampled_from(["PlanImplemented", "PreventiveMeasureRecorded", "Other"]))
    detail: dict[str, object] = (
        {"accountability": [record] * draw(st.integers(0, 3))}
        if kind == "PlanImplemented"
        else {"measure": "每日巡查"}
    )
    return QuotedEvent(
        complaint_id=draw(st.sampled_from(ids)),
        office=draw(st.sampled_from(OFFICES)),
        type=kind,
        occurred_at=START + timedelta(hours=draw(st.integers(0, 24 * 40))),
        detail=detail,
    )


@settings(max_examples=60, deadline=None)
@given(data=st.data(), rows=st.lists(report_row(), max_size=60, unique_by=lambda r: r.complaint_id))
def test_every_figure_lists_exactly_the_complaints_it_counts(
    data: st.DataObject, rows: list[ReportRow]
) -> None:
    ids = [row.complaint_id for row in rows] or [uuid.uuid4()]
    quoted = data.draw(st.lists(quoted_event(ids), max_size=12))
    for office in (None, *OFFICES):
        scope: dict[str, Any] = {"period_from": PERIOD[0], "period_to": PERIOD[1], "office": office}
        report = build_monthly_report(
            rows,
            offices=OFFICES,
            generated_at=START + timedelta(days=60),
            quoted=quoted,
            problems_per_category=10,
            **scope,
        )
        for key, figure in FIGURES.items():
            listed = figure_rows(rows, key, **scope)
            assert len(listed) == figure.shown(report), (office, key)
            assert len({row.complaint_id for row in listed}) == len(listed)
        # the main problems and the assist complaints' topics the report shows
        problems = [p for group in report.main_problems for p in group.problems]
        for problem in (*problems, *report.assist_topics):
            found = find_figure(problem.figure)
            assert isinstance(found, Figure), problem.figure
            assert found.shown(report) == problem.count
            listed = figure_rows(rows, problem.figure, **scope)
            assert len(listed) == problem.count, (office, problem.subject)
            assert {problem_text(row) for row in listed} == {problem.subject}
        # the counts of records: one complaint per record
        for key, records in RECORD_FIGURES.items():
            behind = record_complaints(quoted, key, **scope)
            assert len(behind) == records.shown(report), (office, key)
            shown = report.accountability if key == "accountability" else report.preventive_measures
            assert behind == [item.complaint_id for item in shown]


def test_the_figures_name_every_count_of_the_handling_and_the_service_levels() -> None:
    for name in (*Handling.model_fields, *ServiceLevels.model_fields):
        assert name in FIGURES
    for name in ServiceLevels.model_fields:
        assert f"{name}.base" in FIGURES
    for validity in Validity:
        assert validity.value in FIGURES and f"direct.{validity.value}" in FIGURES
    for category in ServiceCategory:
        assert f"category.{category.value}" in FIGURES


def test_a_figure_of_one_office_lists_that_office_only() -> None:
    rows = [
        ReportRow(
            complaint_id=uuid.uuid4(),
            office=office,
            channel=Channel.HOTLINE,
            validity=Validity.VALID,
            category=ServiceCategory.ENVIRONMENT,
            received_at=datetime(2026, 3, 10, 9, tzinfo=REPORT_TIMEZONE),
        )
        for office in ("甲苑", "甲苑", "乙园")
    ]
    listed = figure_rows(rows, "valid", period_from=PERIOD[0], period_to=PERIOD[1], office="甲苑")
    assert [row.office for row in listed] == ["甲苑", "甲苑"]

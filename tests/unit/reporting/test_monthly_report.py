"""The monthly report's figures: shares rounded half-up, rankings, attachments, SLA, filters."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import count
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from contracts.enums import Channel, ServiceCategory, Validity
from services.reporting.monthly import (
    InconsistentReportError,
    MonthlyReport,
    ReportRow,
    build_monthly_report,
    format_share,
    half_up_tenths,
    rounding_note,
)

CHINA = ZoneInfo("Asia/Shanghai")
JAN_1 = date(2024, 1, 1)
FEB_29 = date(2024, 2, 29)
GENERATED = datetime(2024, 3, 8, 10, 0, tzinfo=CHINA)
_ids = count(1)

SEED_VALID_PER_OFFICE = {
    "Y园": 19,
    "G小城": 11,
    "*湾花园": 3,
    "L": 2,
    "B居": 2,
    "J庭": 1,
    "W花园": 1,
    "C园": 1,
    "Y*城": 1,
    "H花园": 1,
    "M苑": 1,
    "N郡": 1,
    "S庭": 1,
}
SEED_OFFICES = [*SEED_VALID_PER_OFFICE, *(f"管理处{n}" for n in range(14, 26))]  # 25 offices
SEED_CATEGORIES = {  # 附件2's totals row of the seed: 4 4 7 17 3 3 4 3 = 45
    ServiceCategory.FACILITIES: 4,
    ServiceCategory.SECURITY: 4,
    ServiceCategory.VEHICLES_TRAFFIC: 7,
    ServiceCategory.ENVIRONMENT: 17,
    ServiceCategory.CONSTRUCTION: 3,
    ServiceCategory.FEES: 3,
    ServiceCategory.CUSTOMER_SERVICE: 4,
    ServiceCategory.HOME_SERVICE: 3,
}
SEED_DIRECT_VALID = {"*湾花园": 2, "G小城": 1, "Y园": 1, "L": 1, "J庭": 1}


def row(**fields: Any) -> ReportRow:
    """A complaint of 2024-01-10 at Y园 by hotline, valid, environment, unless told otherwise."""
    defaults: dict[str, Any] = {
        "complaint_id": UUID(int=next(_ids)),
        "office": "Y园",
        "channel": Channel.HOTLINE,
        "validity": Validity.VALID,
        "category": ServiceCategory.ENVIRONMENT,
        "received_at": datetime(2024, 1, 10, 9, 0, tzinfo=CHINA),
        "description": "垃圾清理不及时",
    }
    return ReportRow(**{**defaults, **fields})


def seed_rows() -> list[ReportRow]:
    """245 complaints shaped like the seed report: 45 valid, 166 assist, 34 invalid.

    Valid ones per office and per category as the seed says; 15 received directly by the company
    (6 valid, spread as the seed's note says, 8 assist, 1 invalid).
    """
    categories = [c for c, n in SEED_CATEGORIES.items() for _ in range(n)]
    direct_left = dict(SEED_DIRECT_VALID)
    rows = []
    for office, n in SEED_VALID_PER_OFFICE.items():
        for _ in range(n):
            direct = direct_left.get(office, 0) > 0
            if direct:
                direct_left[office] -= 1
            channel = Channel.SUPERVISION if direct else Channel.HOTLINE
            rows.append(row(office=office, category=categories.pop(), channel=channel))
    for i in range(166):
        channel = Channel.SUPERVISION if i < 8 else Channel.APP
        rows.append(
            row(
                office=SEED_OFFICES[i % 20],
                validity=Validity.ASSIST,
                category=None,
                channel=channel,
            )
        )
    for i in range(34):
        channel = Channel.SUPERVISION if i < 1 else Channel.FRONT_DESK
        rows.append(
            row(
                office=SEED_OFFICES[i % 20],
                validity=Validity.INVALID,
                category=None,
                channel=channel,
            )
        )
    return rows


def report(rows: list[ReportRow], **overrides: Any) -> MonthlyReport:
    arguments: dict[str, Any] = {
        "period_from": JAN_1,
        "period_to": FEB_29,
        "office": None,
        "offices": SEED_OFFICES,
        "generated_at": GENERATED,
    }
    return build_monthly_report(rows, **{**arguments, **overrides})


def displayed_total(tenths: list[int]) -> str:
    return format_share(sum(tenths))


# ==========================================================================================
# shares
# ==========================================================================================


def test_seed_shares_are_each_count_over_its_base_rounded_half_up() -> None:
    # the seed's own numbers: 17, 7, 4 of 45 valid; 19 and 11 of 45 for Y园 and G小城
    assert [format_share(half_up_tenths(n, 45)) for n in (17, 7, 4, 19, 11)] == [
        "37.8%",
        "15.6%",
        "8.9%",
        "42.2%",
        "24.4%",
    ]
    # 45/166/34 of 245: never nudged, so they show 100.1% together
    shares = [half_up_tenths(n, 245) for n in (45, 166, 34)]
    assert [format_share(s) for s in shares] == ["18.4%", "67.8%", "13.9%"]
    assert displayed_total(shares) == "100.1%"


@pytest.mark.parametrize(
    ("count", "base", "tenths"),
    [
        (1, 8, 125),  # 12.5 exactly: no rounding
        (1, 16, 63),  # 6.25 → 6.3: half-up, where round-half-even would give 6.2
        (3, 16, 188),  # 18.75 → 18.8
        (1, 3, 333),
        (2, 3, 667),
        (0, 5, 0),
        (5, 5, 1000),
        (0, 0, 0),
    ],
)
def test_a_share_is_rounded_half_up_to_a_tenth_of_a_percent(
    count: int, base: int, tenths: int
) -> None:
    assert half_up_tenths(count, base) == tenths
    exact = Decimal(count * 100) / Decimal(base) if base else Decimal(0)
    assert Decimal(tenths) / 10 == exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def test_the_rounding_note_is_there_exactly_when_shown_shares_miss_100_0() -> None:
    assert rounding_note([184, 678, 139]) == "数据经四舍五入"
    assert rounding_note([333, 333, 333]) == "数据经四舍五入"  # 99.9%
    assert rounding_note([500, 500]) == ""
    assert rounding_note([]) == ""
    assert rounding_note([0, 0]) == ""


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        half_up_tenths(-1, 3)


# ==========================================================================================
# headline figures
# ==========================================================================================


def test_seed_shaped_period_gives_the_seed_counts_with_shares_rounded_on_their_own() -> None:
    r = report(seed_rows())
    assert (r.received, r.judged, r.pending, r.valid) == (245, 245, 0, 45)
    figures = [(f.label, f.count, f.share_label) for f in r.by_type]
    assert figures == [
        ("有效投诉", 45, "18.4%"),
        ("协助处理投诉", 166, "67.8%"),
        ("无效投诉", 34, "13.9%"),
    ]
    assert displayed_total([f.share_tenths for f in r.by_type]) == "100.1%"
    assert r.types_note == "数据经四舍五入"


def test_complaints_not_yet_judged_are_counted_apart_from_the_type_shares() -> None:
    rows = [row(), row(validity=Validity.ASSIST), row(validity=None, category=None)]
    r = report(rows)
    assert (r.received, r.judged, r.pending) == (3, 2, 1)
    assert [f.share_label for f in r.by_type] == ["50.0%", "50.0%", "0.0%"]
    assert r.attachment1.totals.pending == 1
    assert r.attachment1.totals.total == 2


def test_valid_complaints_are_ranked_by_category_with_ties_in_declaration_order() -> None:
    r = report(seed_rows())
    ranked = [(f.rank, f.label, f.count, f.share_label) for f in r.by_category]
    assert ranked == [
        (1, "环境服务", 17, "37.8%"),
        (2, "车辆交通服务", 7, "15.6%"),  # as the seed prints it
        (3, "设施设备维护", 4, "8.9%"),
        (4, "安全服务", 4, "8.9%"),
        (5, "客户服务", 4, "8.9%"),
        (6, "施工管理", 3, "6.7%"),
        (7, "收费管理", 3, "6.7%"),
        (8, "上门服务", 3, "6.7%"),
    ]
    # 37.8 + 15.6 + 3 × 8.9 + 3 × 6.7 = 100.2: shown as computed, with the note
    assert displayed_total([f.share_tenths for f in r.by_category]) == "100.2%"
    assert r.categories_note == "数据经四舍五入"


def test_category_ranking_does_not_depend_on_the_order_of_the_rows() -> None:
    rows = seed_rows()
    random.Random(7).shuffle(rows)
    assert report(rows).by_category == report(seed_rows()).by_category


def test_valid_complaints_are_ranked_by_office_and_count_the_offices_involved() -> None:
    r = report(seed_rows())
    assert [(f.office, f.count, f.share_label) for f in r.by_office[:2]] == [
        ("Y园", 19, "42.2%"),
        ("G小城", 11, "24.4%"),  # as the seed prints it
    ]
    assert r.offices_with_valid == 13
    shown = displayed_total([f.share_tenths for f in r.by_office])
    assert shown != "100.0%"
    assert r.offices_note == "数据经四舍五入"


def test_offices_with_equal_counts_keep_the_order_of_the_company_office_list() -> None:
    rows = [
        row(office="乙"),
        row(office="乙"),
        row(office="丙"),
        row(office="丙"),
        row(office="甲"),
    ]
    first = report(rows, offices=["甲", "乙", "丙"])
    assert [(f.rank, f.office) for f in first.by_office] == [(1, "乙"), (2, "丙"), (3, "甲")]
    second = report(rows, offices=["丙", "乙", "甲"])
    assert [f.office for f in second.by_office] == ["丙", "乙", "甲"]


def test_a_valid_complaint_without_category_is_unclassified_with_its_own_share() -> None:
    rows = [row(), row(), row(category=None)]
    r = report(rows)
    assert r.unclassified.count == 1
    assert [f.count for f in r.by_category] == [2]
    assert (r.by_category[0].share_label, r.unclassified.share_label) == ("66.7%", "33.3%")
    assert r.categories_note == ""  # 66.7 + 33.3 = 100.0
    assert r.attachment2.totals.unclassified == 1
    assert r.attachment2.totals.total == 3


# ==========================================================================================
# attachments
# ==========================================================================================


def test_attachment1_lists_every_office_and_its_totals_row_equals_the_headline() -> None:
    r = report(seed_rows())
    att = r.attachment1
    assert [x.office for x in att.rows] == SEED_OFFICES
    assert [x.seq for x in att.rows] == list(range(1, 26))
    t = att.totals
    assert (t.office, t.valid, t.assist, t.invalid, t.total) == ("合计", 45, 166, 34, 245)
    assert sum(x.total for x in att.rows) == 245
    assert all(x.total == x.valid + x.assist + x.invalid for x in att.rows)
    y = next(x for x in att.rows if x.office == "Y园")
    assert y.valid == 19


def test_attachment2_row_totals_equal_attachment1_valid_and_column_totals_the_categories() -> None:
    r = report(seed_rows())
    att2 = r.attachment2
    valid_per_office = {x.office: x.valid for x in r.attachment1.rows}
    assert {x.office: x.total for x in att2.rows} == valid_per_office
    assert {c: n for c, n in att2.totals.by_category.items() if n} == SEED_CATEGORIES
    assert att2.totals.by_category[ServiceCategory.FIRE_SAFETY] == 0
    assert list(att2.totals.by_category) == list(ServiceCategory)
    assert att2.totals.total == 45


def test_offices_missing_from_the_company_list_follow_it_sorted_by_name() -> None:
    rows = [row(office="乙"), row(office="Z新项目"), row(office="A新项目")]
    r = report(rows, offices=["乙", "甲"])
    assert r.offices == ("乙", "甲", "A新项目", "Z新项目")
    assert r.offices_without_complaints == ("甲",)
    assert r.offices_with_complaints == ("乙", "A新项目", "Z新项目")


# ==========================================================================================
# complaints received directly by the company
# ==========================================================================================


def test_supervision_line_complaints_are_split_by_validity_and_office() -> None:
    r = report(seed_rows())
    d = r.direct
    assert (d.total, d.valid, d.assist, d.invalid, d.pending) == (15, 6, 8, 1, 0)
    assert [(o.office, o.count) for o in d.valid_by_office] == [
        ("*湾花园", 2),
        ("Y园", 1),
        ("G小城", 1),
        ("L", 1),
        ("J庭", 1),
    ]


def test_supervision_complaints_not_yet_judged_are_counted_as_pending() -> None:
    r = report([row(channel=Channel.SUPERVISION, validity=None, category=None), row()])
    assert (r.direct.total, r.direct.valid, r.direct.pending) == (1, 0, 1)


# ==========================================================================================
# time limits and revisits
# ==========================================================================================


def test_service_levels_count_hits_among_complaints_where_the_fact_is_known() -> None:
    rows = [
        row(
            first_response_within_30min=True,
            replied_within_1_day=True,
            replied_within_3_days=True,
            revisit_satisfied=True,
        ),
        row(
            first_response_within_30min=True,
            replied_within_1_day=False,
            replied_within_3_days=True,
            revisit_satisfied=False,
        ),
        row(
            first_response_within_30min=False,
            replied_within_1_day=False,
            replied_within_3_days=False,
            overdue=True,
        ),
        row(),  # nothing known yet
    ]
    s = report(rows).service_levels
    assert (s.first_response_within_30min.hits, s.first_response_within_30min.base) == (2, 3)
    assert s.first_response_within_30min.share_label == "66.7%"
    assert (s.replied_within_1_day.hits, s.replied_within_1_day.base) == (1, 3)
    assert s.replied_within_1_day.share_label == "33.3%"
    assert (s.replied_within_3_days.hits, s.replied_within_3_days.base) == (2, 3)
    assert (s.overdue.hits, s.overdue.base) == (1, 4)
    assert s.overdue.share_label == "25.0%"
    assert (s.revisit_satisfied.hits, s.revisit_satisfied.base) == (1, 2)


def test_a_ratio_with_no_known_fact_shows_a_dash_not_zero_percent() -> None:
    s = report([row()]).service_levels
    assert s.revisit_satisfied.base == 0
    assert s.revisit_satisfied.share_label == "—"


def test_a_row_replied_within_1_day_but_not_within_3_is_refused() -> None:
    with pytest.raises(ValidationError, match="facts disagree"):
        row(replied_within_1_day=True, replied_within_3_days=False)


def test_a_row_with_a_naive_time_or_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError):
        row(received_at=datetime(2024, 1, 10, 9, 0))
    with pytest.raises(ValidationError):
        row(valdity="valid")


# ==========================================================================================
# period, office, empty
# ==========================================================================================


def test_an_empty_period_gives_zeros_and_lists_every_office_without_complaints() -> None:
    r = report([])
    assert (r.received, r.judged, r.valid, r.offices_with_valid) == (0, 0, 0, 0)
    assert [f.share_tenths for f in r.by_type] == [0, 0, 0]
    assert r.by_category == () and r.by_office == () and r.main_problems == ()
    assert r.offices_without_complaints == tuple(SEED_OFFICES)
    assert r.attachment1.totals.total == 0
    assert r.service_levels.first_response_within_30min.share_label == "—"


def test_the_period_is_inclusive_and_counted_in_china_time() -> None:
    utc = ZoneInfo("UTC")
    rows = [
        row(received_at=datetime(2023, 12, 31, 16, 30, tzinfo=utc)),  # 2024-01-01 00:30 in China
        row(received_at=datetime(2023, 12, 31, 15, 59, tzinfo=utc)),  # 2023-12-31 23:59 in China
        row(received_at=datetime(2024, 2, 29, 15, 59, tzinfo=utc)),  # 2024-02-29 23:59 in China
        row(received_at=datetime(2024, 2, 29, 16, 0, tzinfo=utc)),  # 2024-03-01 00:00 in China
    ]
    assert report(rows).received == 2


def test_an_inverted_period_is_refused() -> None:
    with pytest.raises(ValueError, match="after"):
        report([], period_from=FEB_29, period_to=JAN_1)


def test_an_office_report_counts_only_that_office() -> None:
    r = report(seed_rows(), office="G小城")
    assert r.office == "G小城"
    assert r.offices == ("G小城",)
    assert [x.office for x in r.attachment1.rows] == ["G小城"]
    assert r.valid == 11
    assert [(f.office, f.share_label) for f in r.by_office] == [("G小城", "100.0%")]
    assert r.direct.valid == 1
    assert (
        r.received
        == r.attachment1.totals.total
        == sum(1 for x in seed_rows() if x.office == "G小城")
    )


def test_an_office_with_no_complaint_gets_an_empty_report_of_its_own() -> None:
    r = report([row()], office="管理处20")
    assert r.received == 0
    assert r.offices_without_complaints == ("管理处20",)


# ==========================================================================================
# main problems
# ==========================================================================================


def test_main_problems_are_the_most_frequent_subjects_of_the_top_categories() -> None:
    env, car, fee = (
        ServiceCategory.ENVIRONMENT,
        ServiceCategory.VEHICLES_TRAFFIC,
        ServiceCategory.FEES,
    )
    day = datetime(2024, 1, 2, 9, 0, tzinfo=CHINA)
    rows = [
        row(category=env, subject="外墙清洗", description="外墙没有按时清洗", received_at=day),
        row(
            category=env,
            subject="外墙清洗",
            description="外墙又脏了",
            received_at=day + timedelta(days=3),
        ),
        row(
            category=env,
            subject="消杀",
            description="消杀不及时",
            received_at=day + timedelta(days=1),
        ),
        row(
            category=env,
            subject="噪音",
            description="背景音乐太吵",
            received_at=day + timedelta(days=2),
        ),
        row(category=env, subject="垃圾", description="垃圾桶少", received_at=day),
        row(category=car, subject="", description="私家车位  被占用", received_at=day),
        row(
            category=car,
            subject="",
            description="私家车位 被占用",
            received_at=day + timedelta(days=1),
        ),
        row(category=fee, subject="收费", description="维修费太贵", received_at=day),
    ]
    problems = report(rows).main_problems
    assert [p.label for p in problems] == ["环境服务", "车辆交通服务"]  # the top 2 categories only
    env_problems = problems[0].problems
    assert [(p.subject, p.count) for p in env_problems] == [
        ("外墙清洗", 2),
        ("噪音", 1),  # ties: the most recent first
        ("消杀", 1),
    ]
    assert env_problems[0].latest_description == "外墙又脏了"
    # no subject: grouped by the description, whitespace folded
    assert [(p.subject, p.count) for p in problems[1].problems] == [("私家车位 被占用", 2)]


def test_main_problems_use_valid_complaints_only() -> None:
    rows = [row(subject="外墙清洗"), row(validity=Validity.ASSIST, subject="宠物")]
    assert [p.subject for p in report(rows).main_problems[0].problems] == ["外墙清洗"]


# ==========================================================================================
# consistency and JSON
# ==========================================================================================


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r.model_copy(update={"valid": r.valid - 1}),
        lambda r: r.model_copy(update={"received": r.received + 1}),
        lambda r: r.model_copy(
            update={
                "attachment1": r.attachment1.model_copy(
                    update={"totals": r.attachment1.totals.model_copy(update={"total": 243})}
                )
            }
        ),
        lambda r: r.model_copy(
            update={
                "by_type": (r.by_type[0].model_copy(update={"share_tenths": 185}), *r.by_type[1:])
            }
        ),
        lambda r: r.model_copy(update={"by_category": tuple(reversed(r.by_category))}),
        lambda r: r.model_copy(update={"offices_with_valid": 12}),
        lambda r: r.model_copy(
            update={"direct": r.direct.model_copy(update={"valid_by_office": ()})}
        ),
    ],
    ids=["valid", "received", "attachment1-total-243", "share", "ranking", "offices", "direct"],
)
def test_check_finds_figures_that_disagree(tamper: Any) -> None:
    good = report(seed_rows())
    good.check()
    with pytest.raises(InconsistentReportError):
        tamper(good).check()


def test_a_report_whose_figures_disagree_cannot_be_constructed() -> None:
    data = report(seed_rows()).model_dump()
    data["judged"] = 243  # the seed's typed total
    with pytest.raises(ValidationError, match="judged"):
        MonthlyReport.model_validate(data)


def test_the_report_round_trips_through_json_with_labels_and_shares_as_text() -> None:
    r = report(seed_rows())
    text = r.to_json()
    assert '"share_label":"18.4%"' in text
    assert '"label":"有效投诉"' in text
    assert MonthlyReport.model_validate_json(text) == r

"""Issue 15, done-when (reporting): the monthly report of a generated two-month workload in which
every exception occurs renders its written sections in JSON, HTML and XLSX, and its shares follow
item 10.

The workload is built from the domain's event classes and published straight to the log: the
lives of complaints of May and June 2017 (a period no other test uses) in offices named for this
run — suspended and resumed, closed unsatisfied and unreachable, resolved on the spot, re-judged,
transferred to another department, sent back, moved to another office, flagged major and
unflagged, merged, withdrawn, with time commitments and priorities. Every expected figure is
computed here from the workload's own description (``Spec``), not typed in. The workflow reacts
to the receipts it reads (a supervision-line complaint is flagged major by its rule), so the
major count is checked against what reporting says of each complaint, and the manual flag and
unflag of this workload on their own.
"""

from __future__ import annotations

import io
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from contracts import Channel, EventData, ServiceCategory, Validity
from contracts.enums import Priority
from contracts.envelope import Envelope, new_envelope
from contracts.intake import ComplaintReceivedV3, Submission
from contracts.lifecycle import (
    AccountabilityRecord,
    Actor,
    Awaiting,
    CauseAnalysed,
    CloseOutcome,
    ComplaintAcknowledged,
    ComplaintClosed,
    ComplaintJudged,
    ComplaintMerged,
    ComplaintOfficeTransferred,
    ComplaintRejudged,
    ComplaintResolvedOnTheSpot,
    ComplaintResumed,
    ComplaintSentBack,
    ComplaintSuspended,
    ComplaintTransferred,
    ComplaintWithdrawn,
    DepartmentAssigned,
    MajorComplaintFlagged,
    MajorComplaintUnflagged,
    MajorRule,
    OwnerNotReached,
    OwnerReplied,
    PlanApproved,
    PlanImplemented,
    PreventiveMeasureRecorded,
    ResolutionProposed,
    RevisitRecorded,
    Role,
    TimeCommitted,
)
from tests.conftest import RUN, Infra, RunningSystem
from tests.e2e.helpers import CHINA, READER, complaints, eventually, own_system
from tests.e2e.test_reporting_monthly import get_json, publish, unique_office
from tests.e2e.test_reporting_rebuild import caught_up

pytestmark = pytest.mark.infra

AGENT = Actor(staff_id="K001", role=Role.CS_AGENT)
HEAD = Actor(staff_id="K002", role=Role.CS_HEAD)
PM = Actor(staff_id="K003", role=Role.PROJECT_MANAGER)
COMPANY = Actor(staff_id="Q001", role=Role.COMPANY)
DEPT = Actor(staff_id="K004", role=Role.DEPARTMENT)
TWO_MONTHS = {"from": "2017-05-01", "to": "2017-06-30"}
JUNE = {"from": "2017-06-01", "to": "2017-06-30"}


@dataclass
class Spec:
    """One complaint of the workload: where, when, how it was judged and what happened to it."""

    office: str
    day: datetime
    subject: str
    channel: Channel = Channel.HOTLINE
    validity: Validity | None = Validity.VALID
    category: ServiceCategory | None = ServiceCategory.ENVIRONMENT
    priority: Priority = Priority.NORMAL
    exceptions: set[str] = field(default_factory=set)
    rejudged_to: tuple[Validity, ServiceCategory | None] | None = None
    moved_to: str | None = None
    summary: str = ""
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def final_validity(self) -> Validity | None:
        return self.rejudged_to[0] if self.rejudged_to else self.validity

    @property
    def final_category(self) -> ServiceCategory | None:
        return self.rejudged_to[1] if self.rejudged_to else self.category

    @property
    def counted_office(self) -> str:
        return self.moved_to or self.office

    @property
    def excluded(self) -> bool:
        return bool({"merged", "withdrawn"} & self.exceptions)


class Life:
    """The events of one complaint's life, a few minutes apart."""

    def __init__(self, spec: Spec, n: int) -> None:
        self.spec = spec
        self.at = spec.day
        self.envelopes: list[Envelope] = []
        submission = Submission.model_validate(
            {
                "submission_id": f"i15-{spec.id.hex[:12]}",
                "office": spec.office,
                "unit": f"{n % 30 + 1}栋{spec.id.int % 9000 + 1000}",
                "complainant": {"name": "林女士", "phone": f"137{spec.id.int % 10**8:08d}"},
                "subject": spec.subject,
                "description": f"{spec.subject}，业主反映多次未解决",
                "occurred_at": spec.day.isoformat(),
            }
        )
        self.add(ComplaintReceivedV3.from_submission(spec.channel, submission), minutes=0)

    def add(self, data: EventData, minutes: int = 20) -> None:
        self.at += timedelta(minutes=minutes)
        self.envelopes.append(
            new_envelope(
                data,
                event_id=uuid.uuid4(),
                complaint_id=self.spec.id,
                occurred_at=self.at,
                recorded_at=self.at + timedelta(seconds=30),
                source="test/i15-workload",
            )
        )


def live(spec: Spec, n: int, into: uuid.UUID) -> list[Envelope]:
    """The events of ``spec``'s life, every exception it names included."""
    life, ex = Life(spec, n), spec.exceptions
    add = life.add
    add(ComplaintAcknowledged(actor=AGENT))
    if "withdrawn" in ex:
        add(ComplaintWithdrawn(actor=AGENT, reason="业主撤诉"))
        return life.envelopes
    if "merged" in ex:
        add(ComplaintMerged(actor=AGENT, into_complaint_id=into, reason="重复投诉"))
        return life.envelopes
    if spec.validity is None:
        return life.envelopes
    add(
        ComplaintJudged(
            actor=HEAD, validity=spec.validity, category=spec.category, priority=spec.priority
        )
    )
    if "on_the_spot" in ex:  # judgment and answer in one step
        add(ComplaintResolvedOnTheSpot(actor=AGENT, summary="当场处理并答复业主", revisit=False))
        return life.envelopes
    if "major" in ex or "unflagged" in ex:
        add(MajorComplaintFlagged(rule=MajorRule.MANUAL, reason="人工认定", actor=PM))
    if "unflagged" in ex:
        add(MajorComplaintUnflagged(actor=PM, reason="经核实不属重大投诉"))
    if spec.rejudged_to is not None:
        validity, category = spec.rejudged_to
        add(
            ComplaintRejudged(
                actor=COMPANY,
                validity=validity,
                category=category,
                previous_validity=spec.validity,
                previous_category=spec.category,
                reason="复核：属邻里纠纷",
            ),
            minutes=60 * 24,
        )
    if spec.moved_to is not None:
        add(
            ComplaintOfficeTransferred(
                actor=COMPANY, from_office=spec.office, to_office=spec.moved_to, reason="移交"
            )
        )
    if spec.validity is not Validity.VALID:
        add(OwnerReplied(actor=AGENT, message="已向业主解释", final=True))
        if "unreachable" in ex:
            for attempt in (1, 2):
                add(OwnerNotReached(actor=AGENT, attempt_no=attempt))
            add(ComplaintClosed(actor=PM, outcome=CloseOutcome.UNREACHABLE, summary=spec.summary))
        elif "closed" in ex:
            add(ComplaintClosed(actor=PM, summary=spec.summary))
        return life.envelopes
    deadline = life.at + timedelta(days=3)
    add(DepartmentAssigned(actor=HEAD, department="保洁部", deadline=deadline, reason="manual"))
    if "sent_back" in ex:
        add(ComplaintSentBack(actor=DEPT, department="保洁部", reason="不属本部门"))
        add(DepartmentAssigned(actor=HEAD, department="工程部", deadline=deadline, reason="退单"))
    if "transferred" in ex:
        add(
            ComplaintTransferred(
                actor=HEAD, from_department="保洁部", to_department="绿化部", reason="属绿化"
            )
        )
    if "suspended" in ex or "still_suspended" in ex:
        add(
            ComplaintSuspended(
                actor=PM,
                suspension_no=1,
                awaiting=Awaiting.DEVELOPER,
                reason="等待开发商答复",
            )
        )
        if "still_suspended" in ex:
            return life.envelopes
        add(ComplaintResumed(actor=PM, suspension_no=1), minutes=60 * 48)
    if "committed" in ex:
        add(TimeCommitted(actor=AGENT, promised_at=life.at + timedelta(days=2), message="两日内"))
    add(CauseAnalysed(actor=DEPT, cause="巡查不到位", responsible_party="保洁部"))
    add(ResolutionProposed(actor=DEPT, plan_id=1, plan="限期整改"))
    add(PlanApproved(actor=PM, plan_id=1))
    accountability = (
        [AccountabilityRecord(person="张三", measure="扣罚绩效", reason="巡查不到位")]
        if "accountable" in ex
        else []
    )
    add(PlanImplemented(actor=DEPT, plan_id=1, summary="已整改", accountability=accountability))
    add(
        OwnerReplied(
            actor=AGENT, message="已整改完毕", final=True, fulfils_commitment="committed" in ex
        )
    )
    if "preventive" in ex:
        add(PreventiveMeasureRecorded(actor=PM, measure="每日巡查两次"))
    unsatisfied = "unsatisfied" in ex
    add(RevisitRecorded(actor=AGENT, visit_no=1, satisfied=not unsatisfied))
    if unsatisfied:
        add(
            ComplaintClosed(
                actor=PM,
                outcome=CloseOutcome.UNSATISFIED,
                reason="业主要求超出合同范围",
                summary=spec.summary,
            )
        )
    elif "open" not in ex:
        add(ComplaintClosed(actor=PM, summary=spec.summary))
    return life.envelopes


def day(month: int, d: int, hour: int = 9) -> datetime:
    return datetime(2017, month, d, hour, 0, tzinfo=CHINA)


def workload(a: str, b: str, c: str) -> list[Spec]:
    """Two months of complaints of offices ``a`` and ``b``, one moved to ``c``."""
    env, cars = ServiceCategory.ENVIRONMENT, ServiceCategory.VEHICLES_TRAFFIC
    return [
        # May
        Spec(
            a,
            day(5, 2),
            "外墙清洗",
            priority=Priority.URGENT,
            exceptions={"transferred", "accountable", "preventive", "closed"},
        ),
        Spec(a, day(5, 3), "车辆乱停放", category=cars, exceptions={"sent_back", "unsatisfied"}),
        Spec(
            a,
            day(5, 4),
            "楼上噪音",
            Channel.APP,
            validity=Validity.ASSIST,
            exceptions={"on_the_spot"},
        ),
        Spec(a, day(5, 5), "犬吠扰民", rejudged_to=(Validity.ASSIST, env), exceptions={"open"}),
        Spec(
            a,
            day(5, 6),
            "电梯故障",
            category=ServiceCategory.FACILITIES,
            exceptions={"suspended", "committed"},
        ),
        Spec(a, day(5, 7), "公共区域占用", exceptions={"still_suspended"}),
        Spec(
            a,
            day(5, 8),
            "门岗态度",
            category=ServiceCategory.SECURITY,
            moved_to=c,
            exceptions={"open"},
        ),
        Spec(a, day(5, 9), "垃圾清运", priority=Priority.LOW, exceptions={"unflagged"}),
        Spec(a, day(5, 10), "垃圾清运", priority=Priority.URGENT, exceptions={"major", "open"}),
        Spec(a, day(5, 11), "外墙清洗", exceptions={"merged"}),
        Spec(a, day(5, 12), "楼上噪音", exceptions={"withdrawn"}),
        Spec(
            b,
            day(5, 15),
            "外墙清洗",
            Channel.SUPERVISION,
            priority=Priority.URGENT,
            summary="经协调，外墙清洗已于月底完成，业主情绪得到缓解。",
            exceptions={"closed"},
        ),
        Spec(
            b,
            day(5, 16),
            "幼儿园通道开门",
            Channel.SUPERVISION,
            validity=Validity.INVALID,
            category=None,
            summary="多次致电未接通，已书面告知。",
            exceptions={"unreachable"},
        ),
        Spec(
            b,
            day(5, 17),
            "收费不合理",
            Channel.SUPERVISION,
            validity=Validity.ASSIST,
            category=ServiceCategory.FEES,
        ),
        # June
        Spec(a, day(6, 2), "车辆乱停放", category=cars, exceptions={"closed"}),
        Spec(a, day(6, 3), "私家车位被占用", category=cars, exceptions={"closed"}),
        Spec(a, day(6, 5), "装修噪音", validity=Validity.INVALID, category=None),
        Spec(a, day(6, 6), "宠物管理", validity=Validity.INVALID, category=None),
        Spec(b, day(6, 8), "消杀不及时", priority=Priority.LOW, exceptions={"closed"}),
    ]


def half_up(count: int, base: int) -> int:
    """The share in tenths of a percent as item 10 says: count over base, rounded half-up."""
    exact = Decimal(count) * 1000 / Decimal(base)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def assert_shares_follow_item_10(
    report: dict[str, Any], note_key: str, figures: list[dict[str, Any]], base: int
) -> None:
    for figure in figures:
        assert figure["share_tenths"] == half_up(figure["count"], base), figure
    total = sum(f["share_tenths"] for f in figures)
    assert (report[note_key] == "数据经四舍五入") == (total != 1000), (note_key, total)


@pytest.fixture(scope="module")
async def system(real_infra: Infra) -> AsyncIterator[RunningSystem]:
    """Reporting alone, on a log of this module's own: the workload is written as events the
    workflow and the SLA service would decide themselves, so they must not run and react to
    it (their answers would land between the workload's events)."""
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        real_infra.home / "logs" / f"test-{RUN}rx",
        f"{RUN}rx",
        services=["reporting"],
    ) as own:
        yield own


async def test_a_two_month_workload_with_every_exception_gives_the_written_report(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    a, b, c = unique_office("甲苑"), unique_office("乙庭"), unique_office("丙城")
    specs = workload(a, b, c)
    into = specs[0].id
    envelopes = [e for n, spec in enumerate(specs) for e in live(spec, n, into)]
    await publish(system, envelopes)

    async def applied() -> bool:
        for spec in specs:
            got = await http.get(
                f"{system.urls['reporting']}/v1/complaints/{spec.id}", headers=READER
            )
            if got.status_code != 200:
                return False
            mine = sum(1 for e in envelopes if e.complaint_id == spec.id)
            if got.json()["state"]["events"] < mine:
                return False
        return True

    await eventually(applied, timeout=40)

    def counted(office: str, months: tuple[int, ...]) -> list[Spec]:
        return [
            s
            for s in specs
            if s.counted_office == office and s.day.month in months and not s.excluded
        ]

    # ---- office a, both months: the figures, the shares and the written sections (JSON)
    report = await get_json(http, system, "/v1/reports/monthly", **TWO_MONTHS, office=a)
    mine = counted(a, (5, 6))
    types = Counter(s.final_validity for s in mine)
    assert report["received"] == len(mine)
    assert [f["count"] for f in report["by_type"]] == [types[v] for v in Validity]
    judged = sum(types[v] for v in Validity)
    assert report["judged"] == judged
    assert_shares_follow_item_10(report, "types_note", report["by_type"], judged)
    # 8/2/2 of 12: 66.7 + 16.7 + 16.7 = 100.1 (rounded down on their own: 66.6 + 16.6 + 16.6)
    assert report["types_note"] == "数据经四舍五入"
    valid = [s for s in mine if s.final_validity is Validity.VALID]
    categories = Counter(s.final_category for s in valid)
    assert {f["category"]: f["count"] for f in report["by_category"]} == {
        k.value: n for k, n in categories.items()
    }
    assert_shares_follow_item_10(report, "categories_note", report["by_category"], len(valid))

    # merged and withdrawn: out of every total, listed apart with their priority
    excluded = [s for s in specs if s.office == a and s.excluded]
    assert report["excluded"]["merged"] == 1 and report["excluded"]["withdrawn"] == 1
    assert {c["complaint_id"] for c in report["excluded"]["complaints"]} == {
        str(s.id) for s in excluded
    }
    # withdrawn and merged before any judgment: no priority yet, and the list says so
    assert [c["priority_label"] for c in report["excluded"]["complaints"]] == ["未定", "未定"]

    # the handling figures, each from the workload's own exceptions
    def having(*names: str) -> int:
        return sum(1 for s in mine if set(names) & s.exceptions)

    h = report["handling"]
    assert h["resolved_on_the_spot"] == having("on_the_spot")
    assert h["suspended"] == having("suspended", "still_suspended")
    assert h["suspended_now"] == having("still_suspended")
    assert h["closed_unsatisfied"] == having("unsatisfied")
    assert h["rejudged"] == sum(1 for s in mine if s.rejudged_to)
    states = {s.id: (await get_json(http, system, f"/v1/complaints/{s.id}"))["state"] for s in mine}
    assert h["major"] == sum(1 for st in states.values() if st["major"])
    flagged = next(s for s in mine if "major" in s.exceptions)
    unflagged = next(s for s in mine if "unflagged" in s.exceptions)
    assert states[flagged.id]["major"] and not states[unflagged.id]["major"]
    assert states[flagged.id]["priority"] == "urgent"

    # the period's accountability records and preventive measures
    assert [(r["person"], r["measure"]) for r in report["accountability"]] == [("张三", "扣罚绩效")]
    assert [m["measure"] for m in report["preventive_measures"]] == ["每日巡查两次"]
    # each of these counts opens as many complaints as it counts (issue 17): a record's
    # complaint once per record, a main problem's or an assist topic's complaints
    records = {
        key: [item["complaint_id"] for item in report[key]]
        for key in ("accountability", "preventive_measures")
    }
    problems = [p for group in report["main_problems"] for p in group["problems"]]
    topics = [*report["assist_topics"], *problems]
    for figure, count in [
        *((key, len(ids)) for key, ids in records.items()),
        *((t["figure"], t["count"]) for t in topics),
    ]:
        behind = await get_json(
            http,
            system,
            "/v1/reports/monthly/complaints",
            **TWO_MONTHS,
            office=a,
            figure=figure,
            as_of=report["generated_at"],
        )
        assert behind["count"] == len(behind["items"]) == count, figure
        if figure in records:
            assert [i["complaint_id"] for i in behind["items"]] == records[figure]
            assert behind["note"]  # one row per record, and the list says so
    # the main topics of the assist complaints, the main problems, each office in words
    assert {t["subject"] for t in report["assist_topics"]} == {
        s.subject for s in mine if s.final_validity is Validity.ASSIST
    }
    top = report["by_category"][0]["category"]
    assert report["main_problems"][0]["category"] == top
    assert report["main_problems"][0]["problems"][0]["latest_description"]
    words = report["office_categories"][0]
    assert words["office"] == a and words["text"].startswith(f"{a}的有效投诉点主要涉及")
    # the document's header and footer
    doc = report["document"]
    assert doc["issue_number"] == "品质管理部[2017]第6期"
    assert doc["addressees"] == "各管理处" and doc["cc"] == ["公司领导", "项目管理部"]

    # the office transfer: the complaint counts for c, as of now and not before the move
    moved = next(s for s in specs if s.moved_to)
    of_c = await get_json(http, system, "/v1/reports/monthly", **TWO_MONTHS, office=c)
    assert of_c["received"] == 1 and of_c["valid"] == 1
    before_move = (moved.day + timedelta(minutes=45)).isoformat()
    of_c_then = await get_json(
        http, system, "/v1/reports/monthly", **TWO_MONTHS, office=c, as_of=before_move
    )
    assert of_c_then["received"] == 0
    # the re-judgment: the report as of before it counted the first judgment
    rejudged = next(s for s in specs if s.rejudged_to)
    before_rejudge = (rejudged.day + timedelta(hours=2)).isoformat()
    then = await get_json(
        http, system, "/v1/reports/monthly", **TWO_MONTHS, office=a, as_of=before_rejudge
    )
    assert (await get_json(http, system, f"/v1/complaints/{rejudged.id}", as_of=before_rejudge))[
        "state"
    ]["validity"] == "valid"
    assert then["handling"]["rejudged"] == 0

    # ---- office b: the case write-ups of the supervision line, from the closing summary
    of_b = await get_json(http, system, "/v1/reports/monthly", **TWO_MONTHS, office=b)
    direct = [s for s in counted(b, (5, 6)) if s.channel is Channel.SUPERVISION]
    assert of_b["direct"]["total"] == len(direct)
    ups = {u["complaint"]["complaint_id"]: u for u in of_b["case_write_ups"]}
    assert set(ups) == {str(s.id) for s in direct}
    for s in direct:
        up = ups[str(s.id)]
        if s.summary:
            assert up["summary"] == s.summary and s.summary in up["text"]
        assert up["complaint"]["priority"] == s.priority.value
    assert of_b["handling"]["closed_unreachable"] == sum(
        1 for s in direct if "unreachable" in s.exceptions
    )

    # ---- June against May (环比) and June 2016 (同比)
    june = await get_json(http, system, "/v1/reports/monthly", **JUNE, office=a)
    comparisons = {c["key"]: c for c in june["comparisons"]}
    in_june, in_may = counted(a, (6,)), counted(a, (5,))
    valid_june = sum(1 for s in in_june if s.final_validity is Validity.VALID)
    valid_may = sum(1 for s in in_may if s.final_validity is Validity.VALID)
    assert (comparisons["valid"]["current"], comparisons["valid"]["previous_period"]) == (
        valid_june,
        valid_may,
    )
    assert comparisons["valid"]["previous_year"] == 0
    assert comparisons["valid"]["year_change_label"] == "—"
    change = half_up(abs(valid_june - valid_may), valid_may)
    sign = "+" if valid_june > valid_may else "-" if valid_june < valid_may else ""
    assert comparisons["valid"]["period_change_label"] == f"{sign}{change // 10}.{change % 10}%"
    assert comparisons["merged"]["previous_period"] == 1
    assert comparisons["received"]["current"] == len(in_june)

    # ---- the same written sections in the HTML page
    page = await http.get(
        f"{system.urls['reporting']}/reports/monthly",
        params={**TWO_MONTHS, "office": b},
        headers=READER,
    )
    assert page.status_code == 200
    for s in direct:
        if s.summary:
            assert s.summary in page.text
    page_html = (
        await http.get(
            f"{system.urls['reporting']}/reports/monthly",
            params={**TWO_MONTHS, "office": a},
            headers=READER,
        )
    ).text
    html = re.sub(r"<[^>]+>", "", page_html)  # the text: its counts are links (issue 17)
    for text in (
        "数据经四舍五入",
        "品质管理部[2017]第6期",
        "各管理处：",
        "主题词：客户投诉 月报",
        "抄送：公司领导，项目管理部。",
        "张三，扣罚绩效",
        "每日巡查两次",
        words["text"],
        f"当场解决（能解决的马上答复）{h['resolved_on_the_spot']}起",
        f"不满意关闭{h['closed_unsatisfied']}起",
        f"暂缓处理{h['suspended']}起",
        f"重大投诉{h['major']}起",
        "已合并投诉1起、已撤诉投诉1起",
        "主要数据环比、同比",
    ):
        assert text in html, text
    for figure in report["by_type"]:
        assert f"占总量的{figure['share_label']}" in html

    # ---- and in the workbook
    resp = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.xlsx",
        params={**TWO_MONTHS, "office": b},
        headers=READER,
    )
    assert resp.status_code == 200
    book = load_workbook(io.BytesIO(resp.content))
    assert {"汇总", "文字部分", "环比同比", "附件1", "附件2"} <= set(book.sheetnames)
    written = [[cell.value for cell in row] for row in book["文字部分"].iter_rows(min_row=3)]
    texts = " ".join(str(v) for row in written for v in row if v is not None)
    for s in direct:
        if s.summary:
            assert s.summary in texts
    assert "品质管理部[2017]第6期" in texts and "客户投诉 月报" in texts
    book_a = load_workbook(
        io.BytesIO(
            (
                await http.get(
                    f"{system.urls['reporting']}/v1/reports/monthly.xlsx",
                    params={**TWO_MONTHS, "office": a},
                    headers=READER,
                )
            ).content
        )
    )
    summary = {
        (row[0], row[1]): row[2:] for row in book_a["汇总"].iter_rows(min_row=3, values_only=True)
    }
    assert summary[("投诉处理", "当场解决")][0] == h["resolved_on_the_spot"]
    assert summary[("回访关闭", "不满意关闭")][0] == h["closed_unsatisfied"]
    assert summary[("不计入总量", "已合并")][0] == 1
    assert ("投诉类型", "数据经四舍五入") in summary
    for figure in report["by_type"]:
        stored = summary[("投诉类型", figure["label"])][2]
        assert round(stored * 1000) == figure["share_tenths"]
    written_a = " ".join(
        str(v) for row in book_a["文字部分"].iter_rows(values_only=True) for v in row if v
    )
    assert "张三" in written_a and "每日巡查两次" in written_a and words["text"] in written_a
    comparison_rows = list(book_a["环比同比"].iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in comparison_rows] == [c["label"] for c in report["comparisons"]]


async def test_rebuilding_reporting_gives_the_same_report_of_the_workload(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    """The new events go through the bulk rebuild as through the live path: the reports (every
    written section, as of a fixed instant) and each complaint's state are the same after."""
    a, b, c = unique_office("丁苑"), unique_office("戊庭"), unique_office("己城")
    specs = workload(a, b, c)
    envelopes = [e for n, spec in enumerate(specs) for e in live(spec, n, specs[0].id)]
    await publish(system, envelopes)
    last = max(e.recorded_at for e in envelopes)

    async def answers() -> dict[str, Any]:
        at = (last + timedelta(days=1)).isoformat()
        out: dict[str, Any] = {}
        for office in (a, b, c):
            for name, period in (("both", TWO_MONTHS), ("june", JUNE)):
                out[f"{office}/{name}"] = await get_json(
                    http, system, "/v1/reports/monthly", **period, office=office, as_of=at
                )
        for spec in specs:
            out[str(spec.id)] = await get_json(http, system, f"/v1/complaints/{spec.id}", as_of=at)
        return out

    async def applied() -> bool:
        for spec in specs:
            got = await http.get(
                f"{system.urls['reporting']}/v1/complaints/{spec.id}", headers=READER
            )
            mine = sum(1 for e in envelopes if e.complaint_id == spec.id)
            if got.status_code != 200 or got.json()["state"]["events"] < mine:
                return False
        return True

    await eventually(applied, timeout=40)
    await caught_up(system, "reporting")
    before = await answers()
    assert before[f"{b}/both"]["case_write_ups"] and before[f"{a}/both"]["accountability"]
    rebuilt = await complaints(system.env, "rebuild", "reporting")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    await caught_up(system, "reporting")
    assert await answers() == before

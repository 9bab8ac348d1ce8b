"""The monthly complaint report (客户投诉工作月报), computed from plain rows — no database here.

``build_monthly_report`` takes one ``ReportRow`` per complaint and returns a ``MonthlyReport``:
a frozen pydantic model that FastAPI can return as it is, and that ``render.py`` turns into HTML,
XLSX and CSV. Every figure is derived from the same rows, and the report checks on construction
that its figures agree with each other (``MonthlyReport.check``): the seed report, typed by hand,
says 243 complaints where its own lines add up to 245; a computed report cannot.

Rules the figures follow (the tests hold them):

* **Shares** are integers in tenths of a percent (``share_tenths``: 184 means 18.4%): each
  share is its own count over its own base, rounded **half-up** to one decimal (``half_up_tenths``,
  exact decimal arithmetic), as the seed prints them: 7 of 45 = 15.6%, 11 of 45 = 24.4%. A share
  is never nudged so that a column adds up to 100.0%; where the shown shares of one breakdown do
  not add up to 100.0% the report carries the note 数据经四舍五入 (``ROUNDING_NOTE``): for the
  seed's 45/166/34 of 245 that is 18.4 + 67.8 + 13.9 = 100.1.
* **Merged and withdrawn** complaints (status ``merged`` / ``withdrawn`` as of T) are left out of
  every total and listed apart with their counts (``excluded``).
* **The judgment** of a complaint is its latest (``ComplaintRejudged`` replaces it), its office
  the one it counts for as of T (after ``ComplaintOfficeTransferred``): the rows say so.
* **Not yet judged** complaints (``validity is None``) are counted apart (``pending``): the type
  shares are shares of the judged complaints, so that valid + assist + invalid = 100%.
* A **valid complaint without a category** is counted as ``unclassified`` (未分类), so that the
  category figures still add up to the valid total.
* **Ranking**: by count, largest first. Categories with equal counts keep the order in which
  ``ServiceCategory`` declares them (the column order of 附件2); offices with equal counts keep
  the order of the company's office list passed in ``offices`` (offices found in the rows but
  missing from that list follow, sorted by name).
* **The period** is inclusive on both ends and counted in the company's local time
  (Asia/Shanghai unless told otherwise); rows outside it, or of another office when ``office`` is
  given, are left out, so the caller may pass a superset.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, computed_field, model_validator

from contracts.enums import Channel, Priority, ServiceCategory, Validity
from contracts.timezone import CHINA
from services.reporting.domain import status_label

TENTHS_IN_WHOLE = 1000  # 100.0% counted in tenths of a percent
UNCLASSIFIED_LABEL = "未分类"
PENDING_LABEL = "待判定"
ROUNDING_NOTE = "数据经四舍五入"
"""Said under a breakdown whose shown shares do not add up to 100.0%."""
EXCLUDED_STATUSES = ("merged", "withdrawn")
"""Complaints in these statuses are left out of the report's totals and listed apart."""


class InconsistentReportError(ValueError):
    """Two figures of a report that must agree do not."""


class _Frozen(BaseModel):
    # extra="ignore": the JSON of a report carries computed fields (labels, shares as text)
    # and must still read back into the same report.
    model_config = ConfigDict(frozen=True, extra="ignore")


# ------------------------------------------------------------------------------------------
# input
# ------------------------------------------------------------------------------------------


class ReportRow(BaseModel):
    """One complaint as the monthly report needs it (the SQL of the reporting store feeds these).

    ``None`` means "not known yet": not judged, not classified, not yet responded, not revisited.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")  # a misspelt column fails loudly

    complaint_id: UUID
    office: str
    channel: Channel
    validity: Validity | None
    category: ServiceCategory | None
    received_at: AwareDatetime
    first_response_within_30min: bool | None = None
    replied_within_1_day: bool | None = None
    replied_within_3_days: bool | None = None
    overdue: bool = False
    revisit_satisfied: bool | None = None
    subject: str = ""
    description: str = ""
    status: str | None = None  # as of T; merged and withdrawn ones are listed apart
    priority: Priority | None = None  # 轻重缓急, set at judgment
    major: bool = False  # the latest MajorComplaintFlagged / Unflagged is a flag
    resolved_on_the_spot: bool = False
    suspended: bool = False  # ever suspended (暂缓)
    rejudged: bool = False
    close_outcome: str | None = None  # closed: satisfied, unsatisfied, unreachable
    close_summary: str = ""  # closed: 总结评价
    merged_into: UUID | None = None

    @model_validator(mode="after")
    def _reply_facts_agree(self) -> ReportRow:
        if self.replied_within_1_day is True and self.replied_within_3_days is False:
            raise ValueError("replied within 1 working day but not within 3: facts disagree")
        return self


# ------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------


def format_share(share_tenths: int) -> str:
    """A share in tenths of a percent as shown in the report: ``184`` → ``"18.4%"``."""
    whole, tenth = divmod(share_tenths, 10)
    return f"{whole}.{tenth}%"


class _Shared(_Frozen):
    count: int
    share_tenths: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share_percent(self) -> float:
        """The share in percent, one decimal (for JSON readers)."""
        return self.share_tenths / 10

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share_label(self) -> str:
        """The share as the report prints it, e.g. ``18.4%``."""
        return format_share(self.share_tenths)


class TypeFigure(_Shared):
    """Complaints of one validity (有效 / 协助处理 / 无效) and their share of the judged ones."""

    validity: Validity

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """The zh-CN name of the type."""
        return self.validity.label


class CategoryFigure(_Shared):
    """Valid complaints of one service category, their share of the valid ones, their rank."""

    category: ServiceCategory
    rank: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """The zh-CN name of the category."""
        return self.category.label


class OfficeFigure(_Shared):
    """Valid complaints of one office, their share of the valid ones, and the office's rank."""

    office: str
    rank: int


class OfficeCount(_Frozen):
    """A count for one office."""

    office: str
    count: int


class UnclassifiedFigure(_Shared):
    """Valid complaints with no service category yet, kept so the category shares add up."""


class DirectComplaints(_Frozen):
    """Complaints the company received directly (服务监督热线), bypassing the office."""

    total: int
    valid: int
    assist: int
    invalid: int
    pending: int
    valid_by_office: tuple[OfficeCount, ...]


class Ratio(_Frozen):
    """``hits`` out of ``base`` complaints for which the fact is known, with the share."""

    hits: int
    base: int
    share_tenths: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share_label(self) -> str:
        """The share as the report prints it; ``—`` when no complaint has the fact yet."""
        return format_share(self.share_tenths) if self.base else "—"


class ServiceLevels(_Frozen):
    """The time limits of the procedure, and the revisits (回访)."""

    first_response_within_30min: Ratio
    replied_within_1_day: Ratio
    replied_within_3_days: Ratio
    overdue: Ratio
    revisit_satisfied: Ratio


class MainProblem(_Frozen):
    """One subject that recurs among the valid complaints of a category (or among the assist
    complaints), with its latest text; ``figure`` names its count for the drill-down."""

    subject: str
    count: int
    latest_description: str
    latest_at: AwareDatetime
    figure: str


class CategoryProblems(_Frozen):
    """The main problems (主要问题) of one of the top categories."""

    category: ServiceCategory
    problems: tuple[MainProblem, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """The zh-CN name of the category."""
        return self.category.label


class Attachment1Row(_Frozen):
    """附件1, one office: valid, assist, invalid, their total; not-yet-judged kept apart."""

    seq: int
    office: str
    valid: int
    assist: int
    invalid: int
    total: int
    pending: int


class Attachment1(_Frozen):
    """附件1 客户投诉汇总表: per office, with a totals row (``seq`` 0, office ``合计``)."""

    rows: tuple[Attachment1Row, ...]
    totals: Attachment1Row


class Attachment2Row(_Frozen):
    """附件2, one office: valid complaints per service category, unclassified, and the total."""

    seq: int
    office: str
    by_category: dict[ServiceCategory, int]
    unclassified: int
    total: int


class Attachment2(_Frozen):
    """附件2 客户有效投诉汇总表: office × service category, with a totals row."""

    rows: tuple[Attachment2Row, ...]
    totals: Attachment2Row


class QuotedEvent(BaseModel):
    """An event of the period whose text the report quotes: an accountability record
    (``PlanImplemented``) or a preventive measure (``PreventiveMeasureRecorded``), with the office
    its complaint counts for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    complaint_id: UUID
    office: str
    type: str
    occurred_at: AwareDatetime
    detail: dict[str, Any]
    subject: str = ""


class ListedComplaint(_Frozen):
    """One complaint in a list of the report, with its priority (轻重缓急)."""

    complaint_id: UUID
    office: str
    occurred_at: AwareDatetime
    subject: str
    status: str | None
    priority: Priority | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def priority_label(self) -> str:
        """The zh-CN word of the priority (``未定`` before judgment)."""
        return self.priority.label if self.priority is not None else "未定"


class ExcludedComplaints(_Frozen):
    """Merged (已合并) and withdrawn (已撤诉) complaints: left out of every total, listed here."""

    merged: int
    withdrawn: int
    complaints: tuple[ListedComplaint, ...]


class Handling(_Frozen):
    """How the period's complaints were handled, in counts (the written sections quote them).

    ``closed_*``: closed with that outcome (the revisit figures count them apart); ``suspended``:
    suspended (暂缓) at some time, ``suspended_now``: still suspended as of T.
    """

    major: int
    resolved_on_the_spot: int
    suspended: int
    suspended_now: int
    rejudged: int
    closed_satisfied: int
    closed_unsatisfied: int
    closed_unreachable: int


class OfficeCategories(_Frozen):
    """One office's main categories of valid complaints, and the sentence that says so."""

    office: str
    categories: tuple[ServiceCategory, ...]
    counts: tuple[int, ...]
    text: str


class AccountabilityItem(_Frozen):
    """One person held to account in the period (责任追究, from ``PlanImplemented``)."""

    complaint_id: UUID
    office: str
    occurred_at: AwareDatetime
    subject: str
    person: str
    measure: str
    reason: str


class PreventiveMeasure(_Frozen):
    """One preventive measure recorded in the period (预防措施)."""

    complaint_id: UUID
    office: str
    occurred_at: AwareDatetime
    subject: str
    measure: str


class CaseWriteUp(_Frozen):
    """A complaint the company received directly (服务监督热线), written up as seed 000's
    section 二 does: what it was about, how it stands, and the closing summary (总结评价)."""

    complaint: ListedComplaint
    description: str
    validity: Validity | None
    category: ServiceCategory | None
    close_outcome: str | None
    summary: str
    text: str


class Comparison(_Frozen):
    """One headline figure against the previous period (环比) and a year before (同比).

    ``*_change_tenths``: the change in tenths of a percent of the earlier figure, half-up;
    ``None`` when the earlier figure is 0 (or the earlier report was not asked for)."""

    key: str
    label: str
    current: int
    previous_period: int | None
    previous_year: int | None
    period_change_tenths: int | None
    year_change_tenths: int | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def figure(self) -> str | None:
        """The figure (drill-down key) of the three values; ``None`` for a count of offices,
        which has no list of complaints."""
        return HEADLINE_FIGURE_KEYS.get(self.key, self.key)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def period_change_label(self) -> str:
        """环比 as printed: ``+12.5%``, ``-3.0%``, or ``—``."""
        return _change_label(self.period_change_tenths)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def year_change_label(self) -> str:
        """同比 as printed."""
        return _change_label(self.year_change_tenths)


def _change_label(tenths: int | None) -> str:
    if tenths is None:
        return "—"
    sign = "+" if tenths > 0 else "-" if tenths < 0 else ""
    return sign + format_share(abs(tenths))


class DocumentText(_Frozen):
    """The document's header and footer as the report prints them (configurable text,
    ``services.reporting.document``): 期号, addressees, 主题词, 抄送, issuer."""

    issue_number: str = ""
    addressees: str = ""
    subject_words: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    issuer: str = ""
    department: str = ""


class MonthlyReport(_Frozen):
    """The monthly report: every figure of the seed report, computed from one set of rows.

    Construction runs ``check``; a report whose figures disagree cannot be built.
    """

    period_from: date
    period_to: date
    office: str | None  # None: the whole company
    generated_at: AwareDatetime
    offices: tuple[str, ...]  # the offices the report covers, in the company's order
    offices_with_complaints: tuple[str, ...]
    offices_without_complaints: tuple[str, ...]
    received: int  # every complaint of the period, judged or not
    judged: int
    pending: int
    by_type: tuple[TypeFigure, ...]  # valid, assist, invalid, in that order
    direct: DirectComplaints
    valid: int
    by_category: tuple[CategoryFigure, ...]  # ranked; categories with no valid complaint left out
    unclassified: UnclassifiedFigure
    by_office: tuple[OfficeFigure, ...]  # ranked; offices with no valid complaint left out
    offices_with_valid: int
    attachment1: Attachment1
    attachment2: Attachment2
    service_levels: ServiceLevels
    main_problems: tuple[CategoryProblems, ...]
    # 数据经四舍五入 under a breakdown whose shown shares do not add up to 100.0% ("" when they do)
    types_note: str = ""
    categories_note: str = ""
    offices_note: str = ""
    excluded: ExcludedComplaints = ExcludedComplaints(merged=0, withdrawn=0, complaints=())
    handling: Handling = Handling(
        major=0,
        resolved_on_the_spot=0,
        suspended=0,
        suspended_now=0,
        rejudged=0,
        closed_satisfied=0,
        closed_unsatisfied=0,
        closed_unreachable=0,
    )
    assist_topics: tuple[MainProblem, ...] = ()
    office_categories: tuple[OfficeCategories, ...] = ()
    accountability: tuple[AccountabilityItem, ...] = ()
    preventive_measures: tuple[PreventiveMeasure, ...] = ()
    case_write_ups: tuple[CaseWriteUp, ...] = ()
    comparisons: tuple[Comparison, ...] = ()
    # the periods the comparison's earlier values are of (None: not compared)
    previous_period_from: date | None = None
    previous_period_to: date | None = None
    previous_year_from: date | None = None
    previous_year_to: date | None = None
    document: DocumentText = DocumentText()

    @model_validator(mode="after")
    def _consistent(self) -> MonthlyReport:
        self.check()
        return self

    def type_figure(self, validity: Validity) -> TypeFigure:
        """The figure of one validity."""
        return next(figure for figure in self.by_type if figure.validity is validity)

    def to_json(self) -> str:
        """The report as JSON (what the HTTP API returns)."""
        return self.model_dump_json()

    def check(self) -> None:
        """Raise ``InconsistentReportError`` unless every total agrees with its parts.

        Headline totals, the two attachments, the rankings, the shares and the direct complaints
        must all tell the same story.
        """
        counts = {figure.validity: figure.count for figure in self.by_type}
        _agree("types listed", tuple(f.validity for f in self.by_type), tuple(Validity))
        _agree("judged = valid + assist + invalid", self.judged, sum(counts.values()))
        _agree("received = judged + pending", self.received, self.judged + self.pending)
        _agree("valid", self.valid, counts[Validity.VALID])
        _shares_of("types", [(f.count, f.share_tenths) for f in self.by_type], self.judged)
        _noted("types", [f.share_tenths for f in self.by_type], self.types_note)

        att1 = self.attachment1
        for row1 in (*att1.rows, att1.totals):
            _agree(
                f"附件1 {row1.office} total", row1.total, row1.valid + row1.assist + row1.invalid
            )
        for column in ("valid", "assist", "invalid", "total", "pending"):
            column_sum = sum(getattr(row, column) for row in att1.rows)
            _agree(f"附件1 totals row, {column}", getattr(att1.totals, column), column_sum)
        _agree("附件1 valid = headline", att1.totals.valid, self.valid)
        _agree("附件1 assist = headline", att1.totals.assist, counts[Validity.ASSIST])
        _agree("附件1 invalid = headline", att1.totals.invalid, counts[Validity.INVALID])
        _agree("附件1 total = headline", att1.totals.total, self.judged)
        _agree("附件1 pending = headline", att1.totals.pending, self.pending)
        _agree("附件1 offices", tuple(r.office for r in att1.rows), self.offices)

        att2 = self.attachment2
        for row in (*att2.rows, att2.totals):
            _agree(f"附件2 {row.office} categories", tuple(row.by_category), tuple(ServiceCategory))
            row_sum = sum(row.by_category.values()) + row.unclassified
            _agree(f"附件2 {row.office} total", row.total, row_sum)
        for category in ServiceCategory:
            column_sum = sum(row.by_category[category] for row in att2.rows)
            _agree(f"附件2 totals row, {category}", att2.totals.by_category[category], column_sum)
        _agree(
            "附件2 unclassified", att2.totals.unclassified, sum(r.unclassified for r in att2.rows)
        )
        _agree("附件2 total = headline valid", att2.totals.total, self.valid)
        valid_per_office = {row.office: row.valid for row in att1.rows}
        _agree("附件2 rows = 附件1 valid", {r.office: r.total for r in att2.rows}, valid_per_office)

        ranked = {figure.category: figure.count for figure in self.by_category}
        nonzero = {c: n for c, n in att2.totals.by_category.items() if n}
        _agree("categories = 附件2 totals row", ranked, nonzero)
        _agree("unclassified = 附件2", self.unclassified.count, att2.totals.unclassified)
        category_shares = [(f.count, f.share_tenths) for f in self.by_category]
        unclassified = (self.unclassified.count, self.unclassified.share_tenths)
        _shares_of("categories", [*category_shares, unclassified], self.valid)
        _noted("categories", [t for _, t in [*category_shares, unclassified]], self.categories_note)
        _ranked(
            "categories", [f.count for f in self.by_category], [f.rank for f in self.by_category]
        )

        offices = {figure.office: figure.count for figure in self.by_office}
        _agree("offices = 附件1 valid", offices, {o: n for o, n in valid_per_office.items() if n})
        _agree("offices with valid complaints", self.offices_with_valid, len(self.by_office))
        _shares_of("offices", [(f.count, f.share_tenths) for f in self.by_office], self.valid)
        _noted("offices", [f.share_tenths for f in self.by_office], self.offices_note)
        _ranked("offices", [f.count for f in self.by_office], [f.rank for f in self.by_office])

        with_complaints = {r.office for r in att1.rows if r.total + r.pending}
        _agree("offices with complaints", set(self.offices_with_complaints), with_complaints)
        _agree(
            "offices with and without complaints",
            sorted((*self.offices_with_complaints, *self.offices_without_complaints)),
            sorted(self.offices),
        )

        direct = self.direct
        direct_parts = direct.valid + direct.assist + direct.invalid + direct.pending
        _agree("direct = its parts", direct.total, direct_parts)
        _agree("direct valid by office", sum(o.count for o in direct.valid_by_office), direct.valid)
        if direct.total > self.received or direct.valid > self.valid:
            raise InconsistentReportError("more direct complaints than complaints")

        levels = self.service_levels
        for name in ServiceLevels.model_fields:
            ratio: Ratio = getattr(levels, name)
            if not 0 <= ratio.hits <= ratio.base <= self.received:
                raise InconsistentReportError(f"{name}: {ratio.hits} of {ratio.base}")
            _agree(f"{name} share", ratio.share_tenths, _ratio(ratio.hits, ratio.base).share_tenths)
        _agree("overdue base", levels.overdue.base, self.received)

        excluded = self.excluded
        _agree(
            "excluded = merged + withdrawn",
            len(excluded.complaints),
            excluded.merged + excluded.withdrawn,
        )
        h = self.handling
        for name in Handling.model_fields:
            if not 0 <= getattr(h, name) <= self.received:
                raise InconsistentReportError(f"handling {name}: {getattr(h, name)}")
        if h.suspended_now > h.suspended:
            raise InconsistentReportError("more complaints suspended now than ever")
        _agree("case write-ups = direct complaints", len(self.case_write_ups), self.direct.total)
        headline = headline_figures(self)
        for comparison in self.comparisons:
            _agree(f"comparison {comparison.key}", comparison.current, headline[comparison.key])


def _agree(what: str, actual: object, expected: object) -> None:
    if actual != expected:
        raise InconsistentReportError(f"{what}: {actual!r} != {expected!r}")


def _shares_of(what: str, parts: Sequence[tuple[int, int]], base: int) -> None:
    for count, share in parts:
        _agree(f"{what}: share of {count} in {base}", share, half_up_tenths(count, base))


def _noted(what: str, shares: Sequence[int], note: str) -> None:
    _agree(f"{what}: rounding note", note, rounding_note(shares))


def _ranked(what: str, counts: Sequence[int], ranks: Sequence[int]) -> None:
    _agree(f"{what}: ranked by count", list(counts), sorted(counts, reverse=True))
    _agree(f"{what}: ranks", list(ranks), list(range(1, len(ranks) + 1)))


# ------------------------------------------------------------------------------------------
# computation
# ------------------------------------------------------------------------------------------


def half_up_tenths(count: int, base: int) -> int:
    """``count`` of ``base`` in tenths of a percent, rounded half-up (exact decimal
    arithmetic): 7 of 45 → 156 (15.6%), 11 of 45 → 244, 45 of 245 → 184. 0 when ``base`` is 0."""
    if count < 0 or base < 0:
        raise ValueError("counts must not be negative")
    if base == 0:
        return 0
    exact = Decimal(count) * TENTHS_IN_WHOLE / Decimal(base)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rounding_note(shares: Sequence[int]) -> str:
    """``数据经四舍五入`` when the shown shares (tenths) do not add up to 100.0%, else ``""``
    (also ``""`` for a breakdown with nothing to share)."""
    total = sum(shares)
    return ROUNDING_NOTE if total and total != TENTHS_IN_WHOLE else ""


def _ratio(hits: int, base: int) -> Ratio:
    return Ratio(hits=hits, base=base, share_tenths=half_up_tenths(hits, base))


def _office_order(
    offices: Sequence[str], office: str | None, rows: Sequence[ReportRow]
) -> list[str]:
    """The offices a report covers, in the company's order; unlisted ones follow by name."""
    if office is not None:
        return [office]
    listed = list(dict.fromkeys(offices))
    unlisted = sorted({row.office for row in rows} - set(listed))
    return listed + unlisted


def _ranked_offices(counts: Counter[str], order: Sequence[str]) -> list[str]:
    position = {office: index for index, office in enumerate(order)}
    present = [office for office in order if counts[office] > 0]
    return sorted(present, key=lambda office: (-counts[office], position[office]))


def problem_text(row: ReportRow) -> str:
    """What a main problem groups a complaint under: its subject (without one, its
    description), whitespace collapsed."""
    return " ".join((row.subject or row.description).split()) or "（无描述）"


def problem_id(text: str) -> str:
    """A main problem's text as a figure key names it: a digest (16 hex digits), since the
    text may be as long as a description and a key travels in a URL."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


PROBLEM_ID = re.compile(r"[0-9a-f]{16}")


def problem_figure(category: ServiceCategory | None, text: str) -> str:
    """The figure key of the main problem ``text`` of the valid complaints of ``category``
    (``problem.<category>.<id>``), or of the assist complaints when ``category`` is ``None``
    (``assist_topic.<id>``)."""
    if category is None:
        return f"assist_topic.{problem_id(text)}"
    return f"problem.{category.value}.{problem_id(text)}"


def _main_problems(
    rows: Sequence[ReportRow], limit: int, category: ServiceCategory | None
) -> tuple[MainProblem, ...]:
    """The most frequent subjects among ``rows`` (ties: the most recent first), with the latest
    text of each. Rows with no subject are grouped by their exact description instead
    (``problem_text``). ``category``: whose problems these are (``None``: the assist
    complaints'), for each problem's figure key."""
    groups: dict[str, list[ReportRow]] = defaultdict(list)
    for row in rows:
        groups[problem_text(row)].append(row)
    problems = []
    for subject, members in groups.items():
        latest = max(members, key=lambda row: (row.received_at, str(row.complaint_id)))
        problems.append(
            MainProblem(
                subject=subject,
                count=len(members),
                latest_description=latest.description,
                latest_at=latest.received_at,
                figure=problem_figure(category, subject),
            )
        )
    problems.sort(key=lambda p: (-p.count, -p.latest_at.timestamp(), p.subject))
    return tuple(problems[:limit])


HEADLINE_FIGURES: dict[str, str] = {
    "received": "投诉总量（含待判定）",
    "judged": "投诉总量",
    "valid": "有效投诉",
    "assist": "协助处理投诉",
    "invalid": "无效投诉",
    "pending": "待判定",
    "direct": "公司直接受理投诉",
    "direct_valid": "公司直接受理有效投诉",
    "offices_with_valid": "涉及有效投诉的管理处",
    "major": "重大投诉",
    "resolved_on_the_spot": "当场解决",
    "suspended": "暂缓处理",
    "rejudged": "复核改判",
    "closed_satisfied": "满意关闭",
    "closed_unsatisfied": "不满意关闭",
    "closed_unreachable": "无法联系关闭",
    "overdue": "超期投诉",
    "revisit_satisfied": "回访满意",
    "accountability": "责任追究",
    "preventive_measures": "预防措施",
    "merged": "已合并（不计入总量）",
    "withdrawn": "已撤诉（不计入总量）",
}
"""Every headline figure of the report, in the order the comparison lists them."""

HEADLINE_FIGURE_KEYS: dict[str, str | None] = {
    "direct_valid": "direct.valid",
    "offices_with_valid": None,  # a count of offices: there is no list of complaints behind it
}
"""The drill-down key (``figure``) of a headline figure whose key is not its own."""


def headline_figures(report: MonthlyReport) -> dict[str, int]:
    """The report's headline figures by key (``HEADLINE_FIGURES``)."""
    counts = {figure.validity: figure.count for figure in report.by_type}
    h = report.handling
    return {
        "received": report.received,
        "judged": report.judged,
        "valid": report.valid,
        "assist": counts[Validity.ASSIST],
        "invalid": counts[Validity.INVALID],
        "pending": report.pending,
        "direct": report.direct.total,
        "direct_valid": report.direct.valid,
        "offices_with_valid": report.offices_with_valid,
        "major": h.major,
        "resolved_on_the_spot": h.resolved_on_the_spot,
        "suspended": h.suspended,
        "rejudged": h.rejudged,
        "closed_satisfied": h.closed_satisfied,
        "closed_unsatisfied": h.closed_unsatisfied,
        "closed_unreachable": h.closed_unreachable,
        "overdue": report.service_levels.overdue.hits,
        "revisit_satisfied": report.service_levels.revisit_satisfied.hits,
        "accountability": len(report.accountability),
        "preventive_measures": len(report.preventive_measures),
        "merged": report.excluded.merged,
        "withdrawn": report.excluded.withdrawn,
    }


def _change_tenths(current: int, earlier: int | None) -> int | None:
    if not earlier:
        return None
    tenths = half_up_tenths(abs(current - earlier), earlier)
    return tenths if current >= earlier else -tenths


def comparisons(
    report: MonthlyReport,
    previous_period: MonthlyReport | None,
    previous_year: MonthlyReport | None,
) -> tuple[Comparison, ...]:
    """Every headline figure of ``report`` beside the previous period's (环比) and the same
    period a year before (同比)."""
    now = headline_figures(report)
    before = headline_figures(previous_period) if previous_period is not None else {}
    year = headline_figures(previous_year) if previous_year is not None else {}
    return tuple(
        Comparison(
            key=key,
            label=label,
            current=now[key],
            previous_period=before.get(key),
            previous_year=year.get(key),
            period_change_tenths=_change_tenths(now[key], before.get(key)),
            year_change_tenths=_change_tenths(now[key], year.get(key)),
        )
        for key, label in HEADLINE_FIGURES.items()
    )


def with_comparisons(
    report: MonthlyReport,
    previous_period: MonthlyReport | None,
    previous_year: MonthlyReport | None,
) -> MonthlyReport:
    """``report`` with its month-on-month and year-on-year comparison (checked again)."""
    return MonthlyReport.model_validate(
        {
            **dict(report),
            "comparisons": comparisons(report, previous_period, previous_year),
            "previous_period_from": previous_period.period_from if previous_period else None,
            "previous_period_to": previous_period.period_to if previous_period else None,
            "previous_year_from": previous_year.period_from if previous_year else None,
            "previous_year_to": previous_year.period_to if previous_year else None,
        }
    )


def _listed(row: ReportRow) -> ListedComplaint:
    return ListedComplaint(
        complaint_id=row.complaint_id,
        office=row.office,
        occurred_at=row.received_at,
        subject=row.subject,
        status=row.status,
        priority=row.priority,
    )


def _in_words(categories: Sequence[ServiceCategory]) -> str:
    labels = [category.label for category in categories]
    if len(labels) <= 2:
        return "和".join(labels)
    return "、".join(labels[:-1]) + "和" + labels[-1]


def _office_categories(
    offices: Sequence[str], per_office: Mapping[str, Counter[ServiceCategory | None]], top: int
) -> tuple[OfficeCategories, ...]:
    """Each office with valid complaints: its ``top`` categories (ties: declaration order),
    in words as seed 000 writes them ("G小城的有效投诉点主要涉及环境服务和车辆交通服务")."""
    out = []
    for office in offices:
        counts = per_office[office]
        ranked = sorted((c for c in ServiceCategory if counts[c]), key=lambda c: -counts[c])[:top]
        if not ranked:
            continue
        out.append(
            OfficeCategories(
                office=office,
                categories=tuple(ranked),
                counts=tuple(counts[c] for c in ranked),
                text=f"{office}的有效投诉点主要涉及{_in_words(ranked)}",
            )
        )
    return tuple(out)


_OUTCOME_WORDS = {
    "satisfied": "满意关闭",
    "unsatisfied": "不满意关闭",
    "unreachable": "无法联系关闭",
}


def _write_up(row: ReportRow) -> CaseWriteUp:
    """One directly received complaint as a paragraph of section 二."""
    judged = row.validity.label if row.validity is not None else PENDING_LABEL
    category = f"，{row.category.label}" if row.category is not None else ""
    head = f"{row.office}“{row.subject or row.description}”的投诉（{judged}{category}）"
    if row.status == "closed":
        ending = _OUTCOME_WORDS.get(row.close_outcome or "satisfied", "已关闭")
        summary = row.close_summary.strip() or "（未填写总结评价）"
        text = f"{head}已{ending}。{summary}"
    else:
        state = status_label(row.status) if row.status else status_label("received")
        text = f"{head}目前{state}，仍在处理中。"
    return CaseWriteUp(
        complaint=_listed(row),
        description=row.description,
        validity=row.validity,
        category=row.category,
        close_outcome=row.close_outcome if row.status == "closed" else None,
        summary=row.close_summary if row.status == "closed" else "",
        text=text,
    )


# ------------------------------------------------------------------------------------------
# figures and the complaints behind them
# ------------------------------------------------------------------------------------------


def _in_scope(
    at: datetime,
    row_office: str,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo,
) -> bool:
    return period_from <= at.astimezone(timezone).date() <= period_to and (
        office is None or row_office == office
    )


def report_scope(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> tuple[list[ReportRow], list[ReportRow]]:
    """The rows a report counts (``selected``) and the merged and withdrawn ones it lists apart
    (``excluded``): those of the period (dates in ``timezone``) and, if given, of ``office``."""
    chosen = [
        row
        for row in rows
        if _in_scope(row.received_at, row.office, period_from, period_to, office, timezone)
    ]
    return (
        [row for row in chosen if row.status not in EXCLUDED_STATUSES],
        [row for row in chosen if row.status in EXCLUDED_STATUSES],
    )


def quoted_scope(
    quoted: Iterable[QuotedEvent],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> list[QuotedEvent]:
    """The quoted events a report counts: those that occurred in the period (dates in
    ``timezone``) for ``office`` (the one their complaint counts for as of T), if given, in the
    order of when they occurred (then by complaint)."""
    return [
        q
        for q in sorted(quoted, key=lambda q: (q.occurred_at, str(q.complaint_id)))
        if _in_scope(q.occurred_at, q.office, period_from, period_to, office, timezone)
    ]


@dataclass(frozen=True)
class RecordFigure:
    """A count of records, not of complaints: the accountability records (one
    ``PlanImplemented`` may hold several) and the preventive measures of the period.

    ``test`` picks the quoted events of its kind, ``records`` the records one of them holds;
    the report lists those records and counts them, and the drill-down lists each record's
    complaint once per record (a complaint with two records is listed twice), so the list is
    as long as the count."""

    key: str
    label: str
    test: Callable[[QuotedEvent], bool]
    records: Callable[[QuotedEvent], Sequence[Mapping[str, Any]]]
    shown: Callable[[MonthlyReport], int]


RECORD_FIGURES: dict[str, RecordFigure] = {
    f.key: f
    for f in (
        RecordFigure(
            "accountability",
            "责任追究记录",
            lambda q: q.type == "PlanImplemented",
            lambda q: q.detail.get("accountability") or (),
            lambda report: len(report.accountability),
        ),
        RecordFigure(
            "preventive_measures",
            "预防措施记录",
            lambda q: q.type == "PreventiveMeasureRecorded",
            lambda q: (q.detail,),
            lambda report: len(report.preventive_measures),
        ),
    )
}
"""The report's counts of records, by key."""


def record_complaints(
    quoted: Iterable[QuotedEvent],
    key: str,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> list[UUID]:
    """The complaints behind the record count ``key``, one entry per record, in the order the
    report lists the records. Raises ``KeyError`` for a key that names no record count."""
    figure = RECORD_FIGURES[key]
    scoped = quoted_scope(
        quoted, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    return [q.complaint_id for q in scoped if figure.test(q) for _ in figure.records(q)]


@dataclass(frozen=True)
class Figure:
    """One count of the report: which of its rows it counts (``test``), among the counted rows
    or the excluded ones (``excluded``), and where the built report shows it (``shown``).

    The report computes these counts with ``test`` and the drill-down lists the rows ``test``
    accepts, so a figure and the list behind it cannot drift apart. The breakdowns by
    validity, category and office count with a ``Counter`` over the same attribute (one pass
    over 40,000 rows instead of one per figure); ``tests/unit/reporting/test_report_figures``
    holds every figure's ``shown`` equal to its count of ``test``.
    """

    key: str
    label: str
    test: Callable[[ReportRow], bool]
    shown: Callable[[MonthlyReport], int | None]  # None: the report does not show this count
    excluded: bool = False


def _validity_is(validity: Validity | None) -> Callable[[ReportRow], bool]:
    return lambda row: row.validity is validity


def _direct_and(test: Callable[[ReportRow], bool]) -> Callable[[ReportRow], bool]:
    return lambda row: row.channel is Channel.SUPERVISION and test(row)


def _valid_of(category: ServiceCategory | None) -> Callable[[ReportRow], bool]:
    return lambda row: row.validity is Validity.VALID and row.category is category


def _closed_with(*outcomes: str | None) -> Callable[[ReportRow], bool]:
    return lambda row: row.status == "closed" and row.close_outcome in outcomes


def _known(name: str) -> Callable[[ReportRow], bool]:
    return lambda row: getattr(row, name) is not None


def _true(name: str) -> Callable[[ReportRow], bool]:
    return lambda row: getattr(row, name) is True


def _level(name: str) -> Callable[[MonthlyReport], Ratio]:
    return lambda report: getattr(report.service_levels, name)


def _figures() -> dict[str, Figure]:
    def type_count(validity: Validity) -> Callable[[MonthlyReport], int]:
        return lambda report: report.type_figure(validity).count

    def category_count(category: ServiceCategory) -> Callable[[MonthlyReport], int]:
        return lambda report: report.attachment2.totals.by_category[category]

    def handled(name: str) -> Callable[[MonthlyReport], int]:
        return lambda report: int(getattr(report.handling, name))

    def hits(name: str) -> Callable[[MonthlyReport], int]:
        return lambda report: _level(name)(report).hits

    def base(name: str) -> Callable[[MonthlyReport], int]:
        return lambda report: _level(name)(report).base

    out = [
        Figure("received", "投诉总量（含待判定）", lambda row: True, lambda r: r.received),
        Figure("judged", "投诉总量", lambda row: row.validity is not None, lambda r: r.judged),
        Figure("pending", PENDING_LABEL, _validity_is(None), lambda r: r.pending),
        *(Figure(v.value, f"{v.label}投诉", _validity_is(v), type_count(v)) for v in Validity),
        *(
            Figure(f"category.{c.value}", f"有效投诉·{c.label}", _valid_of(c), category_count(c))
            for c in ServiceCategory
        ),
        Figure(
            "unclassified",
            f"有效投诉·{UNCLASSIFIED_LABEL}",
            _valid_of(None),
            lambda r: r.unclassified.count,
        ),
        Figure(
            "direct",
            "公司直接受理投诉",
            _direct_and(lambda row: True),
            lambda r: r.direct.total,
        ),
        *(
            Figure(
                f"direct.{v.value}",
                f"公司直接受理·{v.label}投诉",
                _direct_and(_validity_is(v)),
                (lambda name: lambda r: int(getattr(r.direct, name)))(v.value),
            )
            for v in Validity
        ),
        Figure(
            "direct.pending",
            f"公司直接受理·{PENDING_LABEL}",
            _direct_and(_validity_is(None)),
            lambda r: r.direct.pending,
        ),
        Figure("major", "重大投诉", _true("major"), handled("major")),
        Figure(
            "resolved_on_the_spot",
            "当场解决",
            _true("resolved_on_the_spot"),
            handled("resolved_on_the_spot"),
        ),
        Figure("suspended", "暂缓处理", _true("suspended"), handled("suspended")),
        Figure(
            "suspended_now",
            "至今仍暂缓",
            lambda row: row.status == "suspended",
            handled("suspended_now"),
        ),
        Figure("rejudged", "复核改判", _true("rejudged"), handled("rejudged")),
        Figure(
            "closed_satisfied",
            "满意关闭",
            _closed_with("satisfied", None),
            handled("closed_satisfied"),
        ),
        Figure(
            "closed_unsatisfied",
            "不满意关闭",
            _closed_with("unsatisfied"),
            handled("closed_unsatisfied"),
        ),
        Figure(
            "closed_unreachable",
            "无法联系关闭",
            _closed_with("unreachable"),
            handled("closed_unreachable"),
        ),
        Figure(
            "merged",
            "已合并",
            lambda row: row.status == "merged",
            lambda r: r.excluded.merged,
            True,
        ),
        Figure(
            "withdrawn",
            "已撤诉",
            lambda row: row.status == "withdrawn",
            lambda r: r.excluded.withdrawn,
            True,
        ),
    ]
    for name, label in SERVICE_LEVEL_LABELS.items():
        base_test = (lambda row: True) if name == "overdue" else _known(name)
        out.append(Figure(name, label, _true(name), hits(name)))
        out.append(Figure(f"{name}.base", f"{label}（基数）", base_test, base(name)))
    return {figure.key: figure for figure in out}


SERVICE_LEVEL_LABELS: dict[str, str] = {
    "first_response_within_30min": "首问30分钟内响应",
    "replied_within_1_day": "1个工作日内答复",
    "replied_within_3_days": "3个工作日内答复",
    "overdue": "超期投诉",
    "revisit_satisfied": "回访满意",
}
"""The service levels (``ServiceLevels``' fields) and their zh-CN names."""

FIGURES: dict[str, Figure] = {}
"""Every count of the report a reader can drill into, by key (filled below)."""


def _count(rows: Sequence[ReportRow], key: str) -> int:
    return sum(1 for row in rows if FIGURES[key].test(row))


def _problem_figure(key: str) -> Figure | None:
    """The figure of a main problem (``problem.<category>.<id>``) or an assist complaints'
    topic (``assist_topic.<id>``), or ``None``: a problem counts the rows the report groups
    under its text (``problem_text``), among the valid rows of its category or the assist
    rows, which is how ``_main_problems`` counts it."""
    kind, _, rest = key.partition(".")
    category: ServiceCategory | None
    if kind == "problem":
        name, _, digest = rest.partition(".")
        try:
            category = ServiceCategory(name)
        except ValueError:
            return None
        validity, label = Validity.VALID, f"有效投诉·{category.label}·主要问题"
    elif kind == "assist_topic":
        category, digest = None, rest
        validity, label = Validity.ASSIST, "协助处理投诉·主要问题"
    else:
        return None
    if not PROBLEM_ID.fullmatch(digest):
        return None

    def test(row: ReportRow) -> bool:
        return (
            row.validity is validity
            and (category is None or row.category is category)
            and problem_id(problem_text(row)) == digest
        )

    def shown(report: MonthlyReport) -> int | None:
        problems = (
            report.assist_topics
            if category is None
            else tuple(p for group in report.main_problems for p in group.problems)
        )
        return next((p.count for p in problems if p.figure == key), None)

    return Figure(key, label, test, shown)


def find_figure(key: str) -> Figure | RecordFigure | None:
    """The count of the report named ``key``: a key of ``FIGURES`` or ``RECORD_FIGURES``, a
    main problem's ``problem.<category>.<id>`` or an assist topic's ``assist_topic.<id>``
    (``MainProblem.figure``); ``None`` when ``key`` names none."""
    if key in FIGURES:
        return FIGURES[key]
    if key in RECORD_FIGURES:
        return RECORD_FIGURES[key]
    return _problem_figure(key)


def figure_rows(
    rows: Iterable[ReportRow],
    key: str,
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    timezone: tzinfo = CHINA,
) -> list[ReportRow]:
    """The rows behind the figure ``key`` of the report of ``period_from``–``period_to`` for
    ``office`` (``None``: the company): the ones its count counts, in the order given.
    Raises ``KeyError`` for a key that names no count of complaints (see ``find_figure``;
    record counts: ``record_complaints``)."""
    figure = find_figure(key)
    if not isinstance(figure, Figure):
        raise KeyError(key)
    selected, excluded = report_scope(
        rows, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    return [row for row in (excluded if figure.excluded else selected) if figure.test(row)]


def build_monthly_report(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    offices: Sequence[str],
    generated_at: datetime,
    timezone: tzinfo = CHINA,
    top_categories: int = 2,
    problems_per_category: int = 3,
    quoted: Iterable[QuotedEvent] = (),
    document: DocumentText | None = None,
) -> MonthlyReport:
    """Compute the monthly report of ``period_from``–``period_to`` (both inclusive).

    ``office`` None reports on the whole company; an office name reports on that office alone.
    ``offices`` lists every office of the company in its usual order (the order of the
    attachments and of ties in rankings), so that offices with no complaint appear too.
    Rows outside the period (dates in ``timezone``) or of other offices are left out; merged
    and withdrawn ones are listed apart (``excluded``), out of every total.
    The main problems are given for the ``top_categories`` highest-ranked categories, at most
    ``problems_per_category`` subjects each. ``quoted``: the period's accountability records
    and preventive measures (other events, periods and offices are left out). ``document``:
    the header and footer text. Raises ``ValueError`` for an inverted period.
    """
    if period_from > period_to:
        raise ValueError(f"period_from {period_from} is after period_to {period_to}")

    selected, excluded_rows = report_scope(
        rows, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    order = _office_order(offices, office, selected)

    per_office: dict[str, Counter[Validity | None]] = {name: Counter() for name in order}
    per_office_category: dict[str, Counter[ServiceCategory | None]] = {
        name: Counter() for name in order
    }
    for row in selected:
        per_office[row.office][row.validity] += 1
        if row.validity is Validity.VALID:
            per_office_category[row.office][row.category] += 1
    types: Counter[Validity | None] = Counter(row.validity for row in selected)
    valid_rows = [row for row in selected if row.validity is Validity.VALID]

    judged_counts = [types[validity] for validity in Validity]
    judged = sum(judged_counts)
    by_type = tuple(
        TypeFigure(validity=validity, count=count, share_tenths=half_up_tenths(count, judged))
        for validity, count in zip(Validity, judged_counts, strict=True)
    )

    valid = len(valid_rows)
    categories: Counter[ServiceCategory | None] = Counter(row.category for row in valid_rows)
    category_counts = [categories[category] for category in ServiceCategory]
    ranked_categories = sorted(  # sorted() is stable: ties keep the declaration order
        (category for category in ServiceCategory if categories[category]),
        key=lambda category: -categories[category],
    )
    by_category = tuple(
        CategoryFigure(
            category=category,
            count=categories[category],
            share_tenths=half_up_tenths(categories[category], valid),
            rank=i,
        )
        for i, category in enumerate(ranked_categories, start=1)
    )
    unclassified = UnclassifiedFigure(
        count=categories[None], share_tenths=half_up_tenths(categories[None], valid)
    )

    valid_per_office: Counter[str] = Counter(row.office for row in valid_rows)
    by_office = tuple(
        OfficeFigure(
            office=name,
            count=valid_per_office[name],
            share_tenths=half_up_tenths(valid_per_office[name], valid),
            rank=i,
        )
        for i, name in enumerate(_ranked_offices(valid_per_office, order), start=1)
    )

    direct_rows = [row for row in selected if FIGURES["direct"].test(row)]
    direct_types: Counter[Validity | None] = Counter(row.validity for row in direct_rows)
    direct_valid: Counter[str] = Counter(
        row.office for row in direct_rows if row.validity is Validity.VALID
    )
    direct = DirectComplaints(
        total=len(direct_rows),
        valid=direct_types[Validity.VALID],
        assist=direct_types[Validity.ASSIST],
        invalid=direct_types[Validity.INVALID],
        pending=direct_types[None],
        valid_by_office=tuple(
            OfficeCount(office=name, count=direct_valid[name])
            for name in _ranked_offices(direct_valid, order)
        ),
    )

    att1_rows = tuple(
        Attachment1Row(
            seq=seq,
            office=name,
            valid=counts[Validity.VALID],
            assist=counts[Validity.ASSIST],
            invalid=counts[Validity.INVALID],
            total=counts[Validity.VALID] + counts[Validity.ASSIST] + counts[Validity.INVALID],
            pending=counts[None],
        )
        for seq, (name, counts) in enumerate(per_office.items(), start=1)
    )
    att1_totals = Attachment1Row(
        seq=0,
        office="合计",
        valid=types[Validity.VALID],
        assist=types[Validity.ASSIST],
        invalid=types[Validity.INVALID],
        total=judged,
        pending=types[None],
    )
    att2_rows = tuple(
        Attachment2Row(
            seq=seq,
            office=name,
            by_category={category: counts[category] for category in ServiceCategory},
            unclassified=counts[None],
            total=sum(counts.values()),
        )
        for seq, (name, counts) in enumerate(per_office_category.items(), start=1)
    )
    att2_totals = Attachment2Row(
        seq=0,
        office="合计",
        by_category=dict(zip(ServiceCategory, category_counts, strict=True)),
        unclassified=categories[None],
        total=valid,
    )

    service_levels = ServiceLevels(
        **{
            name: _ratio(_count(selected, name), _count(selected, f"{name}.base"))
            for name in ServiceLevels.model_fields
        }
    )

    main_problems = tuple(
        CategoryProblems(
            category=figure.category,
            problems=_main_problems(
                [row for row in valid_rows if row.category is figure.category],
                problems_per_category,
                figure.category,
            ),
        )
        for figure in by_category[:top_categories]
    )
    assist_rows = [row for row in selected if row.validity is Validity.ASSIST]

    handling = Handling(**{name: _count(selected, name) for name in Handling.model_fields})

    scoped = quoted_scope(
        quoted, period_from=period_from, period_to=period_to, office=office, timezone=timezone
    )
    accountability = [
        AccountabilityItem(
            complaint_id=q.complaint_id,
            office=q.office,
            occurred_at=q.occurred_at,
            subject=q.subject,
            person=record["person"],
            measure=record["measure"],
            reason=record["reason"],
        )
        for q in scoped
        if RECORD_FIGURES["accountability"].test(q)
        for record in RECORD_FIGURES["accountability"].records(q)
    ]
    measures = [
        PreventiveMeasure(
            complaint_id=q.complaint_id,
            office=q.office,
            occurred_at=q.occurred_at,
            subject=q.subject,
            measure=record["measure"],
        )
        for q in scoped
        if RECORD_FIGURES["preventive_measures"].test(q)
        for record in RECORD_FIGURES["preventive_measures"].records(q)
    ]

    with_complaints = tuple(name for name in order if sum(per_office[name].values()))
    category_shares = [f.share_tenths for f in by_category]
    return MonthlyReport(
        period_from=period_from,
        period_to=period_to,
        office=office,
        generated_at=generated_at,
        offices=tuple(order),
        offices_with_complaints=with_complaints,
        offices_without_complaints=tuple(n for n in order if n not in with_complaints),
        received=len(selected),
        judged=judged,
        pending=types[None],
        by_type=by_type,
        direct=direct,
        valid=valid,
        by_category=by_category,
        unclassified=unclassified,
        by_office=by_office,
        offices_with_valid=len(by_office),
        attachment1=Attachment1(rows=att1_rows, totals=att1_totals),
        attachment2=Attachment2(rows=att2_rows, totals=att2_totals),
        service_levels=service_levels,
        main_problems=main_problems,
        types_note=rounding_note([f.share_tenths for f in by_type]),
        categories_note=rounding_note([*category_shares, unclassified.share_tenths]),
        offices_note=rounding_note([f.share_tenths for f in by_office]),
        excluded=ExcludedComplaints(
            merged=_count(excluded_rows, "merged"),
            withdrawn=_count(excluded_rows, "withdrawn"),
            complaints=tuple(_listed(row) for row in excluded_rows),
        ),
        handling=handling,
        assist_topics=_main_problems(assist_rows, 5, None),
        office_categories=_office_categories(order, per_office_category, top_categories),
        accountability=tuple(accountability),
        preventive_measures=tuple(measures),
        case_write_ups=tuple(_write_up(row) for row in direct_rows),
        document=document if document is not None else DocumentText(),
    )


FIGURES.update(_figures())

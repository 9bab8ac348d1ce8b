"""The monthly report's rows and its figures as data: ``ReportRow`` in, ``MonthlyReport`` out
(frozen pydantic models, as the API returns them)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, computed_field, model_validator

from contracts.enums import Channel, Priority, ServiceCategory, Validity

TENTHS_IN_WHOLE = 1000  # 100.0% counted in tenths of a percent
UNCLASSIFIED_LABEL = "未分类"
PENDING_LABEL = "待判定"
ROUNDING_NOTE = "数据经四舍五入"
"""Said under a breakdown whose shown shares do not add up to 100.0%."""
EXCLUDED_STATUSES = ("merged", "withdrawn")
"""Complaints in these statuses are left out of the report's totals and listed apart."""


HEADLINE_COLUMNS = (
    "office",
    "channel",
    "validity",
    "overdue",
    "revisit_satisfied",
    "status",
    "major",
    "resolved_on_the_spot",
    "suspended",
    "rejudged",
    "close_outcome",
)
"""The fields of a ``ReportRow`` the headline figures read (``period_headline``; besides when
and where it occurred, which scope it): an earlier period is counted over its complaints
grouped by these alone (a test holds the headline so counted to the built report's)."""

HEADLINE_FIGURE_KEYS: dict[str, str | None] = {
    "direct_valid": "direct.valid",
    "offices_with_valid": None,  # a count of offices: there is no list of complaints behind it
}
"""The drill-down key (``figure``) of a headline figure whose key is not its own."""


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


class PeriodHeadline(_Frozen):
    """The headline figures of a period (``shares.HEADLINE_FIGURES``, by key): what a later
    report compares itself with (环比, 同比), without the rest of that period's report."""

    period_from: date
    period_to: date
    figures: dict[str, int]


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
        """Raise ``InconsistentReportError`` unless every total agrees with its parts
        (``services.reporting.monthly.consistency``)."""
        from services.reporting.monthly.consistency import check_report

        check_report(self)

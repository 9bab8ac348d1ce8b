"""The monthly complaint report (客户投诉工作月报), computed from plain rows — no database here.

``build_monthly_report`` takes one ``ReportRow`` per complaint and returns a ``MonthlyReport``:
a frozen pydantic model that FastAPI can return as it is, and that ``render.py`` turns into HTML,
XLSX and CSV. Every figure is derived from the same rows, and the report checks on construction
that its figures agree with each other (``MonthlyReport.check``): the seed report, typed by hand,
says 243 complaints where its own lines add up to 245; a computed report cannot.

Rules the figures follow (the tests hold them):

* **Shares** are integers in tenths of a percent (``share_tenths``: 184 means 18.4%) allocated
  with the **largest-remainder method** (Hamilton): each part gets the floor of its exact share
  of 1000 tenths, and the tenths still missing go one each to the parts with the largest
  remainders (ties: the larger count first, then the earlier part in the listed order). Shown to
  one decimal, the shares of one breakdown therefore add up to exactly 100.0%. For the seed's
  45/166/34 of 245, rounding each share on its own gives 18.4 + 67.8 + 13.9 = 100.1; this gives
  18.4 + 67.7 + 13.9.
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

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, computed_field, model_validator

from contracts.enums import Channel, ServiceCategory, Validity

REPORT_TIMEZONE = ZoneInfo("Asia/Shanghai")
TENTHS_IN_WHOLE = 1000  # 100.0% counted in tenths of a percent
UNCLASSIFIED_LABEL = "未分类"
PENDING_LABEL = "待判定"


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
    """One subject that recurs among the valid complaints of a category, with its latest text."""

    subject: str
    count: int
    latest_description: str
    latest_at: AwareDatetime


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
        _shares_add_up("types", [f.share_tenths for f in self.by_type], self.judged)

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
        category_shares = [f.share_tenths for f in self.by_category]
        _shares_add_up("categories", [*category_shares, self.unclassified.share_tenths], self.valid)
        _ranked(
            "categories", [f.count for f in self.by_category], [f.rank for f in self.by_category]
        )

        offices = {figure.office: figure.count for figure in self.by_office}
        _agree("offices = 附件1 valid", offices, {o: n for o, n in valid_per_office.items() if n})
        _agree("offices with valid complaints", self.offices_with_valid, len(self.by_office))
        _shares_add_up("offices", [f.share_tenths for f in self.by_office], self.valid)
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


def _agree(what: str, actual: object, expected: object) -> None:
    if actual != expected:
        raise InconsistentReportError(f"{what}: {actual!r} != {expected!r}")


def _shares_add_up(what: str, shares: Sequence[int], base: int) -> None:
    _agree(f"{what}: shares add up", sum(shares), TENTHS_IN_WHOLE if base else 0)


def _ranked(what: str, counts: Sequence[int], ranks: Sequence[int]) -> None:
    _agree(f"{what}: ranked by count", list(counts), sorted(counts, reverse=True))
    _agree(f"{what}: ranks", list(ranks), list(range(1, len(ranks) + 1)))


# ------------------------------------------------------------------------------------------
# computation
# ------------------------------------------------------------------------------------------


def largest_remainder_tenths(counts: Sequence[int]) -> list[int]:
    """Shares of ``counts`` in tenths of a percent that add up to exactly 1000 (100.0%).

    Largest-remainder (Hamilton) method: each part gets ``floor(count * 1000 / total)``; the
    tenths still missing go one each to the parts with the largest remainders, ties going to the
    larger count, then to the earlier part. A part with count 0 always gets 0. With no counts at
    all (total 0) every share is 0.
    """
    if any(count < 0 for count in counts):
        raise ValueError("counts must not be negative")
    total = sum(counts)
    if total == 0:
        return [0] * len(counts)
    floors: list[int] = []
    remainders: list[int] = []
    for count in counts:
        floor, remainder = divmod(count * TENTHS_IN_WHOLE, total)
        floors.append(floor)
        remainders.append(remainder)
    missing = TENTHS_IN_WHOLE - sum(floors)  # < number of parts with a remainder
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], -counts[i], i))
    for index in order[:missing]:
        floors[index] += 1
    return floors


def _ratio(hits: int, base: int) -> Ratio:
    return Ratio(
        hits=hits, base=base, share_tenths=largest_remainder_tenths([hits, base - hits])[0]
    )


def _known_ratio(values: Iterable[bool | None]) -> Ratio:
    known = [value for value in values if value is not None]
    return _ratio(sum(known), len(known))


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


def _main_problems(rows: Sequence[ReportRow], limit: int) -> tuple[MainProblem, ...]:
    """The most frequent subjects among ``rows`` (ties: the most recent first), with the latest
    text of each. Rows with no subject are grouped by their exact description instead."""
    groups: dict[str, list[ReportRow]] = defaultdict(list)
    for row in rows:
        key = " ".join((row.subject or row.description).split()) or "（无描述）"
        groups[key].append(row)
    problems = []
    for subject, members in groups.items():
        latest = max(members, key=lambda row: (row.received_at, str(row.complaint_id)))
        problems.append(
            MainProblem(
                subject=subject,
                count=len(members),
                latest_description=latest.description,
                latest_at=latest.received_at,
            )
        )
    problems.sort(key=lambda p: (-p.count, -p.latest_at.timestamp(), p.subject))
    return tuple(problems[:limit])


def build_monthly_report(
    rows: Iterable[ReportRow],
    *,
    period_from: date,
    period_to: date,
    office: str | None,
    offices: Sequence[str],
    generated_at: datetime,
    timezone: tzinfo = REPORT_TIMEZONE,
    top_categories: int = 2,
    problems_per_category: int = 3,
) -> MonthlyReport:
    """Compute the monthly report of ``period_from``–``period_to`` (both inclusive).

    ``office`` None reports on the whole company; an office name reports on that office alone.
    ``offices`` lists every office of the company in its usual order (the order of the
    attachments and of ties in rankings), so that offices with no complaint appear too.
    Rows outside the period (dates in ``timezone``) or of other offices are left out.
    The main problems are given for the ``top_categories`` highest-ranked categories, at most
    ``problems_per_category`` subjects each. Raises ``ValueError`` for an inverted period.
    """
    if period_from > period_to:
        raise ValueError(f"period_from {period_from} is after period_to {period_to}")
    selected = [
        row
        for row in rows
        if period_from <= row.received_at.astimezone(timezone).date() <= period_to
        and (office is None or row.office == office)
    ]
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
    by_type = tuple(
        TypeFigure(validity=validity, count=count, share_tenths=share)
        for validity, count, share in zip(
            Validity, judged_counts, largest_remainder_tenths(judged_counts), strict=True
        )
    )

    categories: Counter[ServiceCategory | None] = Counter(row.category for row in valid_rows)
    category_counts = [categories[category] for category in ServiceCategory]
    *category_shares, unclassified_share = largest_remainder_tenths(
        [*category_counts, categories[None]]
    )
    share_of = dict(zip(ServiceCategory, category_shares, strict=True))
    ranked_categories = sorted(  # sorted() is stable: ties keep the declaration order
        (category for category in ServiceCategory if categories[category]),
        key=lambda category: -categories[category],
    )
    by_category = tuple(
        CategoryFigure(
            category=category, count=categories[category], share_tenths=share_of[category], rank=i
        )
        for i, category in enumerate(ranked_categories, start=1)
    )

    valid_per_office: Counter[str] = Counter(row.office for row in valid_rows)
    office_shares = dict(
        zip(order, largest_remainder_tenths([valid_per_office[o] for o in order]), strict=True)
    )
    by_office = tuple(
        OfficeFigure(
            office=name, count=valid_per_office[name], share_tenths=office_shares[name], rank=i
        )
        for i, name in enumerate(_ranked_offices(valid_per_office, order), start=1)
    )

    direct_rows = [row for row in selected if row.channel is Channel.SUPERVISION]
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
        total=sum(judged_counts),
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
        total=len(valid_rows),
    )

    service_levels = ServiceLevels(
        first_response_within_30min=_known_ratio(r.first_response_within_30min for r in selected),
        replied_within_1_day=_known_ratio(r.replied_within_1_day for r in selected),
        replied_within_3_days=_known_ratio(r.replied_within_3_days for r in selected),
        overdue=_ratio(sum(r.overdue for r in selected), len(selected)),
        revisit_satisfied=_known_ratio(r.revisit_satisfied for r in selected),
    )

    main_problems = tuple(
        CategoryProblems(
            category=figure.category,
            problems=_main_problems(
                [row for row in valid_rows if row.category is figure.category],
                problems_per_category,
            ),
        )
        for figure in by_category[:top_categories]
    )

    with_complaints = tuple(name for name in order if sum(per_office[name].values()))
    return MonthlyReport(
        period_from=period_from,
        period_to=period_to,
        office=office,
        generated_at=generated_at,
        offices=tuple(order),
        offices_with_complaints=with_complaints,
        offices_without_complaints=tuple(n for n in order if n not in with_complaints),
        received=len(selected),
        judged=sum(judged_counts),
        pending=types[None],
        by_type=by_type,
        direct=direct,
        valid=len(valid_rows),
        by_category=by_category,
        unclassified=UnclassifiedFigure(count=categories[None], share_tenths=unclassified_share),
        by_office=by_office,
        offices_with_valid=len(by_office),
        attachment1=Attachment1(rows=att1_rows, totals=att1_totals),
        attachment2=Attachment2(rows=att2_rows, totals=att2_totals),
        service_levels=service_levels,
        main_problems=main_problems,
    )

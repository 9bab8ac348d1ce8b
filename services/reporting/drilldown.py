"""The complaints behind a count (issue 17): the typed list the drill-down answers, its HTML
page, and the links of the analyst console's pages.

A count of the monthly report is a ``monthly.Figure``, a count of the dashboard a
``dashboard.BoardFigure``; each names the test that both counts and lists its complaints, so a
list has exactly as many rows as the count it was reached from (``reports.monthly_figure``,
``reports.board_figure``). Every link carries the instant the page was computed for
(``as_of``), so a list opened later still shows what the count counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.enums import ServiceCategory, Validity
from contracts.timezone import CHINA
from services.reporting.domain import status_label

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

MONTHLY_PAGE = "/reports/monthly"
MONTHLY_LIST = "/reports/monthly/complaints"
DASHBOARD_PAGE = "/dashboard"
DASHBOARD_LIST = "/dashboard/complaints"
CONSOLE_PAGES = (MONTHLY_PAGE, MONTHLY_LIST, DASHBOARD_PAGE, DASHBOARD_LIST)
RECORD_NOTE = "本数按记录计：每条记录列出其所属投诉一次，一起投诉有多条记录时列出多次。"
"""Said on the list behind a count of records (``monthly.RECORD_FIGURES``)."""
"""The pages whose GET forms the console submits (blank fields are dropped by a redirect)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ShownComplainant(_Frozen):
    """The complainant as the reader may see them (``auth.shown_complainant``)."""

    name: str
    phone: str


class ListedComplaint(_Frozen):
    """One complaint behind a count."""

    complaint_id: UUID
    office: str = Field(description="The office it counts for as of T")
    occurred_at: AwareDatetime = Field(description="投诉时间: when it occurred")
    received_at: AwareDatetime = Field(description="When the platform received it")
    validity: Validity | None = Field(description="The latest judgment; None: not judged yet")
    validity_label: str
    category: ServiceCategory | None
    category_label: str
    status: str
    status_label: str
    subject: str
    complainant: ShownComplainant
    timers: tuple[str, ...] = Field(
        default=(),
        description="On the dashboard's 已超时 / 即将超时 lists: the zh-CN names of the "
        "complaint's clocks that put it there (overdue ones; about to breach ones); else empty",
    )


class ComplaintList(_Frozen):
    """The complaints behind one count, a page at a time (oldest first).

    ``count`` is the number of complaints the count counts: the figure shown on the page the
    link came from, for the same period, office and ``as_of``.
    """

    figure: str
    label: str
    count: int
    office: str | None
    period_from: date | None = None
    period_to: date | None = None
    as_of: AwareDatetime
    page: int
    page_size: int
    pages: int
    items: tuple[ListedComplaint, ...]
    note: str = Field(
        default="",
        description="What one row stands for when it needs saying: a count of records "
        "(accountability, preventive measures) lists a complaint once per record; the "
        "dashboard's 已超时 / 即将超时 list each complaint once with its clocks (``timers``)",
    )


def listed(row: Mapping[str, Any], complainant: Mapping[str, Any]) -> ListedComplaint:
    """A store row of ``store.listed_complaints`` (with ``timers``, the labels of its clocks,
    on an alert list) and the complainant as the reader sees them."""
    validity = Validity(row["validity"]) if row["validity"] is not None else None
    category = ServiceCategory(row["category"]) if row["category"] is not None else None
    return ListedComplaint(
        complaint_id=row["complaint_id"],
        office=row["office"],
        occurred_at=row["occurred_at"],
        received_at=row["received_at"],
        validity=validity,
        validity_label=validity.label if validity is not None else "待判定",
        category=category,
        category_label=category.label if category is not None else "—",
        status=row["status"],
        status_label=status_label(row["status"]),
        subject=row["subject"],
        complainant=ShownComplainant(name=complainant["name"], phone=complainant["phone"]),
        timers=tuple(row.get("timers", ())),
    )


def pages(count: int, page_size: int) -> int:
    """How many pages ``count`` complaints fill (at least one, which may be empty)."""
    return max(1, -(-count // page_size))


def instant_text(at: datetime) -> str:
    """An instant for a link: China time, to the microsecond (a link must not move it)."""
    return at.astimezone(CHINA).isoformat()


def url(path: str, **params: object) -> str:
    """``path`` with the query ``params`` (``None`` left out)."""
    query = urlencode({k: str(v) for k, v in params.items() if v is not None})
    return f"{path}?{query}" if query else path


def monthly_params(
    period_from: date, period_to: date, office: str | None, as_of: datetime
) -> dict[str, object]:
    """The query of a monthly report (or its drill-down, or its downloads)."""
    return {
        "from": period_from.isoformat(),
        "to": period_to.isoformat(),
        "office": office,
        "as_of": instant_text(as_of),
    }


def local_input(at: datetime | None) -> str:
    """An instant as a ``datetime-local`` input shows it (China time), ``""`` for none."""
    if at is None:
        return ""
    return at.astimezone(CHINA).replace(tzinfo=None).isoformat(timespec="seconds")


_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_list_html(found: ComplaintList, *, back: str, back_label: str, this: str) -> str:
    """The list as a zh-CN page: the count, the rows, links to the other pages and back.

    ``this`` is the list page's own path; its pages are linked with the same parameters.
    """
    params: dict[str, object] = {
        "figure": found.figure,
        "from": found.period_from.isoformat() if found.period_from else None,
        "to": found.period_to.isoformat() if found.period_to else None,
        "office": found.office,
        "as_of": instant_text(found.as_of),
        "page_size": found.page_size if found.page_size != DEFAULT_PAGE_SIZE else None,
    }

    def page_url(page: int) -> str:
        return url(this, **params, page=page)

    return _ENV.get_template("complaints.html").render(
        found=found,
        back=back,
        back_label=back_label,
        previous=page_url(found.page - 1) if found.page > 1 else None,
        next=page_url(found.page + 1) if found.page < found.pages else None,
        local=lambda at: at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"),
        as_of=found.as_of.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        scope=found.office if found.office is not None else "全公司",
        timers=any(c.timers for c in found.items),
    )


class Picker(BaseModel):
    """What a console page's form offers: the offices the reader may pick (``company``: may
    pick the whole company too) and the ``as_of`` asked for (``None``: live)."""

    model_config = ConfigDict(frozen=True)

    offices: tuple[str, ...]
    company: bool
    as_of: datetime | None = None

"""The monthly report's header and footer as configurable text (``document.yaml``).

The seed report (000) opens with 期号 and addressees and ends with 主题词, 抄送 and the issuer;
a company prints its own. They are data: ``document.yaml`` next to this module, or the file
``COMPLAINTS_REPORTING_DOCUMENT`` names. A file that does not parse, an unknown key or a bad
placeholder in ``issue_number`` is refused at start with an error naming the field.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.reporting.monthly import DocumentText

DEFAULT_DOCUMENT_FILE = Path(__file__).with_name("document.yaml")

_Line = Annotated[str, Field(max_length=200)]


class DocumentSettings(BaseModel):
    """The keys of ``document.yaml`` (all optional)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    department: _Line = "品质管理部"
    issue_number: _Line = "{department}[{year}]第{month}期"
    addressees: _Line = "各管理处"
    subject_words: tuple[_Line, ...] = ("客户投诉", "月报")
    cc: tuple[_Line, ...] = ("公司领导", "项目管理部")
    issuer: _Line = ""

    @field_validator("issue_number")
    @classmethod
    def _placeholders_known(cls, value: str) -> str:
        try:
            value.format(department="", year=0, month=0, months="")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"unknown or malformed placeholder {error}; use {{department}}, {{year}}, "
                "{month} or {months}"
            ) from None
        return value

    def text_for(self, period_from: date, period_to: date) -> DocumentText:
        """The header and footer of the report of ``period_from``–``period_to``."""
        first = period_from.year * 12 + period_from.month - 1
        last = period_to.year * 12 + period_to.month - 1
        months = [str(index % 12 + 1) for index in range(first, last + 1)]
        return DocumentText(
            issue_number=self.issue_number.format(
                department=self.department,
                year=period_to.year,
                month=period_to.month,
                months="、".join(months),
            ),
            addressees=self.addressees,
            subject_words=self.subject_words,
            cc=self.cc,
            issuer=self.issuer,
            department=self.department,
        )


def parse_document(text: str, source: str = "document.yaml") -> DocumentSettings:
    """The settings of a ``document.yaml`` text; ``ValueError`` naming the bad field."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(f"{source}: not YAML: {error}") from None
    try:
        return DocumentSettings.model_validate(doc or {})
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"{source}: {problems}") from None


def load_document(path: Path | None = None) -> DocumentSettings:
    """Read ``path`` (default: ``document.yaml`` next to this module)."""
    path = path or DEFAULT_DOCUMENT_FILE
    return parse_document(path.read_text(encoding="utf-8"), str(path))

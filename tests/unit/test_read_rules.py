"""The one office rule and the one masking rule every service reads through, and the login's
guards (``services.runtime.auth``, ``services.runtime.login``). Expectations are literal."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from services.runtime.auth import Staff, StaffRole, office_scope, shown_complainant
from services.runtime.login import safe_next

OWNER = {"name": "何先生", "phone": "13812345678"}
MASKED = {"name": "何**", "phone": "138****5678"}


@pytest.mark.parametrize(
    ("role", "office", "shown"),
    [
        (StaffRole.CS_AGENT, "Y园", OWNER),
        (StaffRole.CS_HEAD, "Y园", OWNER),
        (StaffRole.DEPARTMENT, "Y园", OWNER),
        (StaffRole.SUPERVISOR, "Y园", OWNER),
        (StaffRole.PROJECT_MANAGER, "Y园", OWNER),
        (StaffRole.CS_AGENT, "G小城", MASKED),
        (StaffRole.PROJECT_MANAGER, "G小城", MASKED),
        (StaffRole.COMPANY, None, MASKED),
        (StaffRole.ANALYST, None, MASKED),
        (StaffRole.SYSTEM, None, MASKED),
    ],
)
def test_names_and_phones_are_whole_only_for_the_complaints_own_office(
    role: StaffRole, office: str | None, shown: dict[str, str]
) -> None:
    staff = Staff(staff_id="s", role=role, office=office)
    assert shown_complainant(staff, "Y园", OWNER) == shown


def test_an_office_role_reads_its_own_office_and_is_refused_another_naming_office() -> None:
    agent = Staff(staff_id="a", role=StaffRole.CS_AGENT, office="Y园")
    assert office_scope(agent, None) == "Y园"
    assert office_scope(agent, "Y园") == "Y园"
    with pytest.raises(HTTPException) as refused:
        office_scope(agent, "G小城")
    assert refused.value.status_code == 403 and str(refused.value.detail).startswith("office:")


def test_company_and_analyst_read_every_office_or_the_one_they_ask_for() -> None:
    for role in (StaffRole.COMPANY, StaffRole.ANALYST):
        staff = Staff(staff_id="c", role=role)
        assert office_scope(staff, None) is None
        assert office_scope(staff, "G小城") == "G小城"


@pytest.mark.parametrize(
    ("asked", "goes_to"),
    [
        ("/dashboard?office=Y园", "/dashboard?office=Y园"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_after_login_only_a_path_of_this_service(asked: str | None, goes_to: str) -> None:
    assert safe_next(asked) == goes_to

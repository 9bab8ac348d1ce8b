"""Staff tokens: signed, expiring, and the local development secret refused elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.runtime.auth import DEV_SECRET, Staff, StaffRole, issue_token, verify_token
from services.runtime.settings import Environment, Settings

LOCAL = Settings(env=Environment.LOCAL)
AGENT = Staff(staff_id="A001", role=StaffRole.CS_AGENT, office="Y园")


def test_a_token_names_who_it_was_issued_to() -> None:
    assert verify_token(LOCAL, issue_token(LOCAL, AGENT)) == AGENT


def test_an_expired_token_is_refused() -> None:
    old = issue_token(
        LOCAL, AGENT, ttl=timedelta(minutes=5), now=datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(ValueError, match="expired"):
        verify_token(LOCAL, old)


def test_outside_local_mode_a_secret_is_required_and_the_dev_secret_refused() -> None:
    with pytest.raises(RuntimeError, match="must be set"):
        issue_token(Settings(env=Environment.PRODUCTION), AGENT)
    with pytest.raises(RuntimeError, match="development secret"):
        verify_token(Settings(env=Environment.PRODUCTION, staff_token_secret=DEV_SECRET), "x")


def test_a_local_token_does_not_open_a_production_system() -> None:
    production = Settings(env=Environment.PRODUCTION, staff_token_secret="prod-secret-42")
    with pytest.raises(ValueError):
        verify_token(production, issue_token(LOCAL, AGENT))


def test_office_roles_need_an_office_and_the_analyst_acts_as_nobody() -> None:
    with pytest.raises(ValueError, match="office"):
        issue_token(LOCAL, Staff(staff_id="D1", role=StaffRole.DEPARTMENT, office=None))
    analyst = Staff(staff_id="N1", role=StaffRole.ANALYST, office=None)
    assert verify_token(LOCAL, issue_token(LOCAL, analyst)).may_see_office("G小城")
    with pytest.raises(ValueError):
        _ = analyst.actor

"""Credentials rotated without an outage, step by step as docs/operations.md ("Rotating
credentials") says: during each step every credential in use still works, and after the last
one the old credential is refused."""

from __future__ import annotations

import jwt
import pytest

from contracts import Channel
from contracts.submissions import sign
from services.intake.consumer import authenticate
from services.intake.settings import IntakeSettings
from services.runtime.auth import Staff, StaffRole, issue_token, verify_token
from services.runtime.settings import Environment, Settings
from tests.unit.intake.test_submissions_topic_protocol import record

OLD, NEW = "old-hotline-key-0123456789", "new-hotline-key-9876543210"
OTHERS = {Channel.APP: "app-key-0123456789abcdef", Channel.SUPERVISION: "sup-key-0123456789abc"}
AGENT = Staff(staff_id="A001", role=StaffRole.CS_AGENT, office="Y园")
SECRET_OLD = "o" * 40
SECRET_NEW = "n" * 40


def intake(hotline: str | list[str]) -> IntakeSettings:
    return IntakeSettings(
        env=Environment.PRODUCTION,
        database_url="postgresql://complaints:s3cret-pw@db/complaints",
        staff_token_secret=SECRET_OLD,
        intake_api_keys={Channel.HOTLINE: hotline, **OTHERS},
        vault_pepper="p" * 40,
    )


def signed_by(key: str) -> object:
    value = b'{"submission_id": "r-1"}'
    return record(value, [("x-channel", b"hotline"), ("x-signature", sign(key, value).encode())])


def test_a_channel_key_is_rotated_in_three_steps_without_an_outage() -> None:
    before = intake(OLD)
    assert before.channel_for_key(OLD) is Channel.HOTLINE
    assert before.channel_for_key(NEW) is None

    # 1. The new key in front of the old one: both open the channel, records signed with
    #    either verify, and the channel's current key (which the simulator signs with) is new.
    both = intake([NEW, OLD])
    assert both.problems() == []
    assert both.channel_for_key(OLD) is Channel.HOTLINE
    assert both.channel_for_key(NEW) is Channel.HOTLINE
    assert both.key_of(Channel.HOTLINE) == NEW
    assert authenticate(both, signed_by(OLD)) is Channel.HOTLINE  # type: ignore[arg-type]
    assert authenticate(both, signed_by(NEW)) is Channel.HOTLINE  # type: ignore[arg-type]

    # 2. (the channel switches to the new key) 3. The old key removed: refused everywhere.
    after = intake([NEW])
    assert after.channel_for_key(OLD) is None
    assert after.channel_for_key(NEW) is Channel.HOTLINE
    refused = authenticate(after, signed_by(OLD))  # type: ignore[arg-type]
    assert isinstance(refused, list) and "any key" in refused[0].reason


def test_every_key_of_a_rotation_is_checked_like_a_single_one() -> None:
    reasons = " ".join(p.reason for p in intake([NEW, "dev-hotline"]).problems())
    assert "development key(s) for hotline" in reasons
    reasons = " ".join(p.reason for p in intake([NEW, "short"]).problems())
    assert "shorter than" in reasons
    shared = intake([NEW, OTHERS[Channel.APP]]).problems()
    assert "one key for hotline and app" in " ".join(p.reason for p in shared)


def tokens(**settings: object) -> Settings:
    return Settings(
        env=Environment.PRODUCTION,
        database_url="postgresql://complaints:s3cret-pw@db/complaints",
        vault_pepper="p" * 40,
        **settings,  # type: ignore[arg-type]
    )


def test_the_token_secret_is_rotated_in_three_steps_without_an_outage() -> None:
    before = tokens(staff_token_secret=SECRET_OLD)  # a single secret: tokens carry no key id
    old_token = issue_token(before, AGENT)
    assert "kid" not in jwt.get_unverified_header(old_token)

    # 1. Every service verifies the new secret too, still signing with the old one.
    step1 = tokens(staff_token_secret=SECRET_OLD, staff_token_secrets={"2026-11": SECRET_NEW})
    assert step1.problems() == []
    assert verify_token(step1, old_token) == AGENT
    assert "kid" not in jwt.get_unverified_header(issue_token(step1, AGENT))
    # 2. New tokens are signed with the new secret, under its key id; old ones still work.
    step2 = step1.model_copy(update={"staff_token_key_id": "2026-11"})
    assert step2.problems() == []
    new_token = issue_token(step2, AGENT)
    assert jwt.get_unverified_header(new_token)["kid"] == "2026-11"
    for settings in (step1, step2):  # copies not yet restarted with step 2 accept it too
        assert verify_token(settings, new_token) == AGENT
        assert verify_token(settings, old_token) == AGENT
    with pytest.raises(ValueError):
        verify_token(before, new_token)  # why step 1 comes first, on every copy

    # 3. After the longest token life, the old secret is removed: old tokens are refused.
    after = tokens(staff_token_secrets={"2026-11": SECRET_NEW})
    assert verify_token(after, new_token) == AGENT
    with pytest.raises(ValueError, match="no key id"):
        verify_token(after, old_token)

    # The next rotation is between key ids: a token of a removed id names it.
    later = tokens(staff_token_secrets={"2027-05": "m" * 40})
    with pytest.raises(ValueError, match="'2026-11'"):
        verify_token(later, new_token)


def test_every_secret_of_a_rotation_is_checked_like_a_single_one() -> None:
    problems = tokens(
        staff_token_secrets={"a": "short", "b": "dev-staff-secret-only-for-local-mode"},
        staff_token_key_id="c",
    )._token_problems()
    text = " | ".join(str(p) for p in problems)
    assert "COMPLAINTS_STAFF_TOKEN_SECRETS['a']: 5 characters" in text
    assert "COMPLAINTS_STAFF_TOKEN_SECRETS['b']: is the development secret" in text
    assert "COMPLAINTS_STAFF_TOKEN_KEY_ID: 'c' is none of the key ids" in text

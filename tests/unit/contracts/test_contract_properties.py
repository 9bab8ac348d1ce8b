"""Property-based tests of the contracts: whatever comes in, the rules hold."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import Channel, decode_event, encode_event, new_envelope
from contracts.intake import (
    Address,
    ComplaintReceivedV3,
    Submission,
    mask_name,
    mask_phone,
    normalise_phone,
)
from services.reporting.monthly import half_up_tenths, rounding_note

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Allocated mainland mobile prefixes (not every 1xx is: 140, 154, ... are not).
PREFIXES = (
    [f"13{d}" for d in range(10)]
    + [f"18{d}" for d in range(10)]
    + [
        "150",
        "151",
        "152",
        "153",
        "155",
        "156",
        "157",
        "158",
        "159",
        "147",
        "166",
        "173",
        "176",
        "177",
        "198",
        "199",
    ]
)
mobile = st.builds(
    lambda p, rest: f"{p}{rest:08d}", st.sampled_from(PREFIXES), st.integers(0, 10**8 - 1)
)
formatting = st.sampled_from(
    [
        lambda n: n,
        lambda n: f"+86 {n}",
        lambda n: f"0086{n}",
        lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
        lambda n: f" {n[:3]} {n[3:7]} {n[7:]} ",
    ]
)
text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=60
).filter(lambda s: s.strip())


@PROPS
@given(mobile, formatting)
def test_a_mainland_mobile_written_any_usual_way_normalises_to_its_11_digits(
    number: str, fmt: Callable[[str], str]
) -> None:
    written = fmt(number)
    assert normalise_phone(written) == number
    assert normalise_phone(normalise_phone(written)) == number  # idempotent


@PROPS
@given(st.text(max_size=30))
def test_any_text_is_either_a_valid_phone_or_refused_with_a_value_error(value: str) -> None:
    try:
        phone = normalise_phone(value)
    except ValueError:
        return
    assert phone.isdigit() and 7 <= len(phone) <= 12


@PROPS
@given(mobile)
def test_a_masked_phone_shows_at_most_seven_digits(number: str) -> None:
    masked = mask_phone(number)
    assert len(masked) == len(number)
    assert sum(ch.isdigit() for ch in masked) <= 7
    assert masked[:3] == number[:3] and masked[-4:] == number[-4:]


@PROPS
@given(text)
def test_a_masked_name_keeps_only_the_first_character(name: str) -> None:
    masked = mask_name(name)
    assert masked[:1] == name[:1] and set(masked[1:]) <= {"*"}


@PROPS
@given(st.text(max_size=40))
def test_parsing_an_address_never_fails_and_only_uses_what_was_written(unit: str) -> None:
    address = Address.parse(unit)
    compact = unit.replace(" ", "")
    for part in (address.building, address.entrance, address.room):
        assert part is None or part in compact


submissions = st.builds(
    lambda sid, office, unit, name, phone, subject, desc, demand, minutes: {
        "submission_id": sid,
        "office": office,
        "unit": unit,
        "complainant": {"name": name, "phone": phone},
        "subject": subject,
        "description": desc,
        "demand": demand,
        "occurred_at": (datetime(2026, 11, 1, tzinfo=UTC) - timedelta(minutes=minutes)),
    },
    st.from_regex(r"[A-Za-z0-9._:\-]{1,40}", fullmatch=True),
    text.map(lambda s: s[:50]),
    text.map(lambda s: s[:50]),
    text.map(lambda s: s[:50]),
    mobile,
    text.map(lambda s: s[:100]),
    text,
    st.text(max_size=100),
    st.integers(0, 10**6),
)


@PROPS
@given(submissions)
def test_an_accepted_submission_survives_the_log_unchanged(raw: dict[str, object]) -> None:
    try:
        submission = Submission.model_validate(raw)
    except ValidationError:
        return  # refused with field errors: nothing reaches the log
    event = ComplaintReceivedV3.from_submission(Channel.APP, submission)
    envelope = new_envelope(
        event,
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=event.occurred_at,
        recorded_at=datetime.now(UTC),
        source="t",
    )
    decoded_envelope, decoded = decode_event(encode_event(envelope))
    # read back as the newest version (in clear, as version 3 wrote it), every value kept
    assert decoded.model_dump() == event.model_dump() and decoded_envelope == envelope


@PROPS
@given(st.binary(max_size=300))
def test_arbitrary_bytes_from_the_log_decode_or_raise_value_error_only(raw: bytes) -> None:
    with pytest.raises(ValueError):
        decode_event(raw)


@PROPS
@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=30))
def test_report_shares_are_each_within_half_a_tenth_and_noted_when_they_miss_100(
    counts: list[int],
) -> None:
    total = sum(counts)
    tenths = [half_up_tenths(count, total) for count in counts]
    for count, share in zip(counts, tenths, strict=True):
        exact = Fraction(1000 * count, total) if total else Fraction(0)
        assert -Fraction(1, 2) < share - exact <= Fraction(1, 2)  # half-up
    assert (rounding_note(tenths) != "") == (total > 0 and sum(tenths) != 1000)

"""The vault's cryptography (issue 16, point 5): a sealed value opens only with its
complainant's key, for its complainant and its field; an erased key opens to 已删除; a
reference is the same for every written form of one number, and depends on the pepper."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts import Channel, ServiceCategory, decode_event, encode_event, new_envelope
from contracts.intake import (
    ChannelRefs,
    Complainant,
    ComplaintReceived,
    ComplaintReceivedV3,
    SealedComplainant,
    SealedText,
    Submission,
)
from services.runtime import vault
from services.runtime.vault import ERASED, KeyState

PEPPER = b"a-pepper-of-this-test-only-0123456789"
KEY = AESGCM.generate_key(bit_length=256)


def test_seal_then_unseal_gives_the_value_back_and_hides_it() -> None:
    ref = vault.complainant_ref(PEPPER, "13812345678")
    sealed = vault.seal(KEY, ref, "complainant", {"name": "何先生", "phone": "13812345678"})
    assert "13812345678" not in sealed and "何先生" not in sealed
    assert vault.unseal(KEY, ref, "complainant", sealed) == {
        "name": "何先生",
        "phone": "13812345678",
    }
    # a fresh nonce each time: the same value never seals to the same bytes
    assert sealed != vault.seal(KEY, ref, "complainant", {"name": "何先生", "phone": "13812345678"})


def test_a_sealed_value_does_not_open_for_another_ref_field_or_key() -> None:
    ref = vault.complainant_ref(PEPPER, "13812345678")
    other = vault.complainant_ref(PEPPER, "13900001111")
    sealed = vault.seal(KEY, ref, "description", "楼上漏水，业主何先生13812345678")
    with pytest.raises(InvalidTag):
        vault.unseal(KEY, other, "description", sealed)  # moved to another complainant
    with pytest.raises(InvalidTag):
        vault.unseal(KEY, ref, "demand", sealed)  # moved to another field
    with pytest.raises(InvalidTag):
        vault.unseal(AESGCM.generate_key(bit_length=256), ref, "description", sealed)


def test_the_ref_is_the_same_for_every_written_form_and_depends_on_the_pepper() -> None:
    forms = ["13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "138 1234 5678"]
    refs = {vault.complainant_ref(PEPPER, f) for f in forms}
    assert len(refs) == 1
    (ref,) = refs
    assert len(ref) == 64 and "13812345678" not in ref
    assert vault.complainant_ref(b"another-pepper-0123456789abcdef0123", "13812345678") != ref
    assert vault.complainant_ref(PEPPER, "13900001111") != ref


def sealed_receipt(key: bytes, phone: str = "13812345678") -> ComplaintReceived:
    ref = vault.complainant_ref(PEPPER, phone)
    return ComplaintReceived(
        office="Y园",
        unit="3栋1单元502",
        complainant=SealedComplainant(
            ref=ref,
            sealed=vault.seal(key, ref, "complainant", {"name": "何先生", "phone": phone}),
        ),
        subject="漏水",
        description=SealedText(sealed=vault.seal(key, ref, "description", "卫生间漏水")),
        demand=SealedText(sealed=vault.seal(key, ref, "demand", "尽快维修")),
        occurred_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
        channel="hotline",
        submission_id="call-vault-1",
        address={},
        over_the_head=False,
    )


def test_a_living_key_opens_every_sealed_field() -> None:
    personal = vault.personal_of(PEPPER, sealed_receipt(KEY))
    opened = vault.open_with(personal, KeyState(KEY, None))
    assert opened == vault.Opened("何先生", "13812345678", "卫生间漏水", "尽快维修", erased=False)


@pytest.mark.parametrize(
    "state",
    [
        KeyState(None, datetime(2026, 12, 1, tzinfo=UTC)),  # erased
        None,  # no row at all
        KeyState(AESGCM.generate_key(bit_length=256), None),  # a fresh key after an erasure
    ],
    ids=["erased", "unknown", "re-keyed"],
)
def test_an_erased_or_missing_key_opens_every_field_to_erased(state: KeyState | None) -> None:
    personal = vault.personal_of(PEPPER, sealed_receipt(KEY))
    opened = vault.open_with(personal, state)
    assert opened.erased
    assert (opened.name, opened.phone, opened.description, opened.demand) == (ERASED,) * 4


def receipt_before_sealing() -> ComplaintReceived:
    """A receipt as intake wrote it before sealing: every personal field in clear."""
    data: dict[str, Any] = sealed_receipt(KEY).model_dump()
    data |= {
        "complainant": Complainant(name="何先生", phone="13812345678"),
        "description": "卫生间漏水",
        "demand": "",
    }
    return ComplaintReceived.model_validate(data)


def test_a_receipt_from_before_sealing_reads_in_clear_until_its_complainant_is_erased() -> None:
    personal = vault.personal_of(PEPPER, receipt_before_sealing())
    assert personal["ref"] == vault.complainant_ref(PEPPER, "13812345678")
    assert vault.open_with(personal, None).name == "何先生"
    erased = vault.open_with(personal, KeyState(None, datetime(2026, 12, 1, tzinfo=UTC)))
    assert erased.erased and erased.name == ERASED and erased.description == ERASED


@pytest.mark.parametrize("form", ["+86 138-1234-5678", "0086 13812345678", "138 1234 5678"])
def test_a_receipt_in_clear_has_the_reference_of_its_number_in_any_written_form(form: str) -> None:
    # The reference of a receipt in clear hashes the phone as the receipt holds it, without
    # parsing it again: what that relies on is that the receipt's validator normalised it.
    data: dict[str, Any] = receipt_before_sealing().model_dump()
    data["complainant"] = {"name": "何先生", "phone": form}
    received = ComplaintReceived.model_validate(data)
    ref = vault.complainant_ref(PEPPER, "13812345678")
    assert vault.ref_of(PEPPER, received) == ref
    assert vault.personal_of_logged(PEPPER, received.model_dump(mode="json"))["ref"] == ref


@pytest.mark.parametrize(
    "state",
    [
        KeyState(KEY, None),
        KeyState(None, datetime(2026, 12, 1, tzinfo=UTC)),
        None,
        KeyState(AESGCM.generate_key(bit_length=256), None),
    ],
    ids=["living", "erased", "unknown", "re-keyed"],
)
@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "before-sealing"])
def test_the_description_alone_opens_as_it_does_with_every_field(
    state: KeyState | None, sealed: bool
) -> None:
    """What a report reads (``description_with``, one field unsealed) is the description
    ``open_with`` gives, for every state of the key, sealed or from before sealing."""
    receipt = sealed_receipt(KEY) if sealed else receipt_before_sealing()
    personal = vault.personal_of(PEPPER, receipt)
    assert vault.description_with(personal, state) == vault.open_with(personal, state).description


async def test_sealing_a_received_complaint_keeps_every_other_fact_and_opens_to_its_own() -> None:
    received = ComplaintReceivedV3.from_submission(
        Channel.APP,
        Submission(
            submission_id="APP-1",
            office="G小城",
            unit="12幢2单元1101室",
            complainant=Complainant(name="林女士", phone="13922334455"),
            subject="垃圾清运",
            description="垃圾桶满了",
            demand="每天按时清运",
            occurred_at=datetime(2026, 10, 5, 19, 40, tzinfo=UTC),
        ),
        photos=["oss://owner-photos/a.jpg"],
        owner_category=ServiceCategory.ENVIRONMENT,
        channel_refs=ChannelRefs(account_id="U0012345"),
    )

    async def key_for(ref: str) -> bytes:
        return KEY

    sealed = await vault.seal_received(key_for, PEPPER, received)

    assert type(sealed) is ComplaintReceived
    personal = set(vault.PERSONAL)
    assert sealed.model_dump(exclude=personal) == received.model_dump(exclude=personal)
    assert isinstance(sealed.complainant, SealedComplainant)
    assert sealed.complainant.ref == vault.complainant_ref(PEPPER, "13922334455")
    opened = vault.open_with(vault.personal_of(PEPPER, sealed), KeyState(KEY, None))
    assert opened == vault.Opened(
        "林女士", "13922334455", "垃圾桶满了", "每天按时清运", erased=False
    )
    # what goes into the log reads back as the same event
    envelope = new_envelope(
        sealed,
        event_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        occurred_at=received.occurred_at,
        recorded_at=received.occurred_at,
        source="intake/app",
    )
    assert decode_event(encode_event(envelope))[1] == sealed

"""ComplaintReceived v3 and SubmissionRejected: what intake writes, and old versions read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from contracts import Channel, ComplaintReceived, decode_event, encode_event, new_envelope
from contracts.intake import ChannelRefs, ComplaintReceivedV3, Submission, photo_reference
from contracts.submissions import Reason, RecordRef, SubmissionRejected
from tests.unit.intake.samples import submission

STORED = Path(__file__).parents[1] / "contracts" / "stored_events"
SUBMISSION = Submission.model_validate(submission())


def test_stored_v2_supervision_complaint_is_read_over_the_head_with_nothing_else_added() -> None:
    envelope, data = decode_event((STORED / "ComplaintReceived.v2.json").read_bytes())
    assert envelope.schema_version == 2  # read as stored, never rewritten
    assert isinstance(data, ComplaintReceived)
    assert data.channel is Channel.SUPERVISION and data.over_the_head
    assert data.photos == [] and data.owner_category is None
    assert data.channel_refs == ChannelRefs()
    assert data.address.building == "12幢"


def test_stored_v1_hotline_complaint_reaches_v3_through_both_upcasters() -> None:
    _, data = decode_event((STORED / "ComplaintReceived.v1.json").read_bytes())
    assert isinstance(data, ComplaintReceived)
    assert not data.over_the_head and data.address.room == "502"


@pytest.mark.parametrize("channel", list(Channel))
def test_over_the_head_follows_the_channel_when_code_leaves_it_out(channel: Channel) -> None:
    event = ComplaintReceived.model_validate(
        {**SUBMISSION.model_dump(), "channel": channel, "address": {}}
    )
    assert event.over_the_head is channel.is_over_the_head
    assert ComplaintReceivedV3.from_submission(channel, SUBMISSION).over_the_head is (
        channel.is_over_the_head
    )


@pytest.mark.parametrize(
    "ref",
    [
        "https://img.example.cn/a/b.jpg?x-oss-process=resize",
        "oss://owner-photos/2026/10/a.jpg",
        "complaints/2026/10/5f1c.jpg",
    ],
)
def test_photo_references_are_urls_or_object_keys(ref: str) -> None:
    assert photo_reference(ref) == ref


@pytest.mark.parametrize(
    "bad", ["data:image/png;base64,iVBORw0KGgo", "x" * 513, "ftp ://a b", "../../etc/passwd"]
)
def test_a_photo_given_as_bytes_or_nonsense_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        photo_reference(bad)


def test_an_event_never_carries_more_than_nine_photos() -> None:
    with pytest.raises(ValidationError, match="photos"):
        ComplaintReceivedV3.from_submission(
            Channel.APP, SUBMISSION, photos=[f"oss://p/{n}.jpg" for n in range(10)]
        )


def test_rejection_round_trips_naming_every_reason_and_its_record() -> None:
    rejected = SubmissionRejected(
        channel=None,
        submission_id="APP-1",
        format="app.complaint",
        reasons=[Reason(field="header x-signature", reason="does not verify")],
        record=RecordRef(topic="complaints.submissions", partition=3, offset=41),
    )
    rid = uuid.uuid4()
    envelope = new_envelope(
        rejected,
        event_id=rid,
        complaint_id=rid,
        occurred_at=datetime.now(UTC),
        recorded_at=datetime.now(UTC),
        source="intake/submissions",
    )
    assert decode_event(encode_event(envelope))[1] == rejected
    with pytest.raises(ValidationError, match="reasons"):
        SubmissionRejected.model_validate({**rejected.model_dump(), "reasons": []})

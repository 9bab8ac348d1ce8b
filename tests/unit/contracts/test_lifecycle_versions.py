"""Lifecycle events whose payload changed (issue 15): the published v1s are read forever,
upcast to the newest shape with the meaning they had when they were written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from contracts import decode_event
from contracts.enums import Priority
from contracts.lifecycle import (
    CloseOutcome,
    ComplaintClosed,
    ComplaintJudged,
    OwnerReplied,
    scheduled_resume_id,
)

STORED = Path(__file__).parent / "stored_events"


def stored(name: str) -> tuple[int, object]:
    envelope, data = decode_event((STORED / name).read_bytes())
    return envelope.schema_version, data


def test_a_v1_judgment_is_read_as_a_normal_priority_one() -> None:
    version, data = stored("ComplaintJudged.v1.json")
    assert version == 1 and isinstance(data, ComplaintJudged)
    assert (data.validity.value, data.priority) == ("valid", Priority.NORMAL)


def test_a_v1_reply_kept_the_open_promise_as_every_reply_did_then() -> None:
    # So a rebuild of the SLA clocks from the log gives the same promise verdicts as before.
    version, data = stored("OwnerReplied.v1.json")
    assert version == 1 and isinstance(data, OwnerReplied)
    assert (data.final, data.fulfils_commitment) == (True, True)


def test_a_v1_close_was_a_satisfied_one() -> None:
    version, data = stored("ComplaintClosed.v1.json")
    assert version == 1 and isinstance(data, ComplaintClosed)
    assert (data.outcome, data.reason, data.note) == (CloseOutcome.SATISFIED, "", "回访满意，存档")


def test_scheduled_resume_id_is_the_same_for_the_same_suspension_and_instant() -> None:
    cid = uuid.uuid4()
    until = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    same = scheduled_resume_id(cid, 1, until.astimezone(UTC))
    assert scheduled_resume_id(cid, 1, until) == same
    assert scheduled_resume_id(cid, 2, until) != same
    assert scheduled_resume_id(cid, 1, until + timedelta(minutes=1)) != same
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduled_resume_id(cid, 1, until.replace(tzinfo=None))

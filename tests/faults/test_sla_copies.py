"""Two copies of the SLA service under load through intake, one killed with SIGKILL while
deadlines fall due (the policy's targets are seconds long): the other takes its partitions
over and its scheduler goes on. Every SlaWarning and SlaBreached in the log is decided once
per (complaint, timer, deadline) — counted over every record of the log, not by the outbox's
key —, every alert that fell due is there, and the clocks equal a fold of the log by the same
policy. The workflow's states and escalations are checked against the log as well."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Infra, RunningSystem
from tests.faults.copies import copies_system, kill_one_copy_under_load

pytestmark = pytest.mark.infra


@pytest.fixture
async def two_slas(real_infra: Infra, tmp_path: Path) -> AsyncIterator[RunningSystem]:
    async for system in copies_system(real_infra, tmp_path, {"intake": 1, "workflow": 1, "sla": 2}):
        yield system


async def test_two_sla_copies_one_killed_while_deadlines_fall_due_alert_once(
    http: httpx.AsyncClient, two_slas: RunningSystem
) -> None:
    # killed once some alerts were decided (the first warnings come 12 s after a receipt)
    await kill_one_copy_under_load(http, two_slas, kill="sla-2", once_outbox=("sla", 10))

"""Two copies of the workflow under load through intake, one killed with SIGKILL while it
decides: the other takes its partitions over (the consumer group rebalances), every
complaint's state equals a fold of its events in the log, every event is in its history once
(counted by a trigger), and each automatic rule — major on receipt, routing on judgment,
escalation on a breach — decided once per complaint and cause, counted in the log itself.
The SLA service's short targets make breaches (and so escalations) fall due meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Infra, RunningSystem
from tests.faults.copies import copies_system, kill_one_copy_under_load

pytestmark = pytest.mark.infra


@pytest.fixture
async def two_workflows(real_infra: Infra, tmp_path: Path) -> AsyncIterator[RunningSystem]:
    async for system in copies_system(real_infra, tmp_path, {"intake": 1, "workflow": 2, "sla": 1}):
        yield system


async def test_two_workflow_copies_one_killed_mid_stream_decide_each_rule_once(
    http: httpx.AsyncClient, two_workflows: RunningSystem
) -> None:
    # killed once it has decided some 60 events (receipts' rules, commands): mid-stream
    await kill_one_copy_under_load(
        http, two_workflows, kill="workflow-2", once_outbox=("workflow", 60)
    )

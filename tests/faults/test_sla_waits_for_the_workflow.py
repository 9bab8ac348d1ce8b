"""A stop decided before its deadline but published long after it is still a stop: the SLA
judges a deadline once the workflow's watermark has passed it, not after a fixed grace.

The workflow copy that relays its outbox is frozen (SIGSTOP) while another copy decides the
acknowledgement, a few seconds before the first-response deadline: the event waits in the
outbox, past the deadline and far past the grace. No breach is judged meanwhile; once the
relay goes on, the clock is met."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import RUN, Infra
from tests.e2e.helpers import READER, eventually, minutes_ago, own_system, read_events
from tests.e2e.test_workflow_lifecycle import AGENT, received, unique_phone
from tests.faults.burst import run_id

pytestmark = pytest.mark.infra


async def first_response(http: httpx.AsyncClient, sla: str, cid: str) -> dict[str, Any] | None:
    resp = await http.get(f"{sla}/v1/complaints/{cid}/sla", headers=READER)
    if resp.status_code == 404:
        return None
    resp.raise_for_status()
    return next((c for c in resp.json()["clocks"] if c["timer"] == "first_response"), None)


async def test_a_stop_published_long_after_its_deadline_is_no_breach(
    real_infra: Infra, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    async with own_system(
        real_infra.kafka_bootstrap,
        real_infra.admin_database_url,
        tmp_path,
        f"{RUN}_wm{run_id()}",
        services=["intake", "workflow", "sla"],  # the first workflow copy takes the relay
    ) as system:
        await asyncio.to_thread(system.start, "workflow", 2)  # stands by as relay
        bootstrap, events = system.env["COMPLAINTS_KAFKA_BOOTSTRAP"], system.topics["events"]
        sla = system.urls["sla"]
        desk = await received(
            http,
            system,
            occurred_at=minutes_ago(29.9),  # first response due in about six seconds
            complainant={"name": "欧阳先生", "phone": unique_phone()},
        )
        clock = await eventually(lambda: first_response(http, sla, desk.id))
        assert clock["state"] == "running"
        deadline = datetime.fromisoformat(clock["deadline"])

        async def logged(kind: str) -> list[dict[str, Any]]:
            return [
                e
                for e in await read_events(bootstrap, events)
                if e["complaint_id"] == desk.id and e["type"] == kind
            ]

        async def decided_breaches() -> int:
            conn = await asyncpg.connect(system.database_url)
            try:
                return int(
                    await conn.fetchval(
                        "SELECT count(*) FROM sla.outbox WHERE complaint_id = $1 "
                        "AND headers->>'event-type' = 'SlaBreached'",
                        UUID(desk.id),
                    )
                )
            finally:
                await conn.close()

        async def warned() -> bool:
            history = (await desk.get())["history"]
            return any(e["type"] == "SlaWarning" for e in history)

        # The clock is past its warning point: the SLA warns at once, and a workflow copy
        # applies the warning with the complaint's row locked. Frozen in that transaction, a
        # copy would hold back the acknowledgement below; so freeze once it is applied.
        await eventually(warned)
        relay = system.procs["workflow"]
        # At any other instant the relay holds the writer lock for one statement at most
        # (``store.fence``), so frozen it holds back no command of the other copy.
        os.kill(relay.pid, signal.SIGSTOP)
        try:
            desk.base = system.urls["workflow-2"]
            await desk.do("acknowledge", AGENT)  # decided and committed before the deadline
            assert datetime.now(UTC) < deadline
            # Past the deadline by ten times the grace (0.3 s).
            await asyncio.sleep((deadline - datetime.now(UTC)).total_seconds() + 3.0)
            assert await logged("ComplaintAcknowledged") == []  # still in the outbox
            # The clock's view folds what the SLA knows as of now (breached, for all it
            # knows); the SLA decided nothing: no breach in its outbox, the record of every
            # alert it ever decided.
            assert await decided_breaches() == 0
        finally:
            os.kill(relay.pid, signal.SIGCONT)

        async def met() -> bool:
            now = await first_response(http, sla, desk.id)
            return now is not None and now["state"] == "met"

        await eventually(met, timeout=30)
        assert len(await logged("ComplaintAcknowledged")) == 1
        assert await decided_breaches() == 0
        assert await logged("SlaBreached") == []

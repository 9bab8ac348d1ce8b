"""Rebuilding reporting's projection from offset 0 (a new generation) gives the same answers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contracts.sla import AlertKind, SlaBreached
from tests.conftest import RunningSystem
from tests.e2e.helpers import READER, complaints, wait_caught_up
from tests.e2e.test_reporting_dashboard import sla_envelope
from tests.e2e.test_reporting_monthly import (
    get_json,
    publish,
    reporting_has_caught_up,
    submit,
    unique_office,
)

pytestmark = pytest.mark.infra


async def answers(http: httpx.AsyncClient, system: RunningSystem, as_of: str) -> dict[str, Any]:
    """Every kind of answer reporting gives, as of one instant, company-wide."""
    csv = await http.get(
        f"{system.urls['reporting']}/v1/reports/monthly.csv",
        params={"sheet": "attachment2", "as_of": as_of},
        headers=READER,
    )
    return {
        "this_month": await get_json(http, system, "/v1/reports/monthly", as_of=as_of),
        "july_august": await get_json(
            http,
            system,
            "/v1/reports/monthly",
            **{"from": "2025-07-01", "to": "2025-08-31"},
            as_of=as_of,
        ),
        "dashboard": await get_json(http, system, "/v1/dashboard", as_of=as_of),
        "attachment2_csv": csv.text,
    }


async def caught_up(system: RunningSystem, schema: str) -> None:
    await wait_caught_up(
        system.database_url,
        system.env["COMPLAINTS_KAFKA_BOOTSTRAP"],
        system.topics["events"],
        schema,
        timeout=40,
    )


async def test_rebuilding_reporting_from_offset_0_gives_the_same_reports(
    http: httpx.AsyncClient, system: RunningSystem
) -> None:
    office = unique_office("戊园")
    done = await submit(http, system, office, subject="电梯困人")
    await done.handle("facilities", satisfied=True)
    half = await submit(http, system, office, subject="电梯困人")
    await half.judge("assist", "security")
    await publish(
        system,
        [
            sla_envelope(
                half.id,
                SlaBreached(timer="reply", deadline=datetime.now(UTC), hard=False),
                AlertKind.BREACHED,
            )
        ],
    )
    await reporting_has_caught_up(http, system, [done, half])
    as_of = datetime.now(UTC).isoformat()
    # Whatever was recorded by `as_of` is in the log and applied before the first answers.
    await asyncio.sleep(1.0)
    await caught_up(system, "workflow")
    await caught_up(system, "reporting")
    before = await answers(http, system, as_of)
    assert before["dashboard"]["overdue"]["total"] >= 1
    assert any(r["office"] == office for r in before["this_month"]["attachment1"]["rows"])

    rebuilt = await complaints(system.env, "rebuild", "reporting")  # live, beside the old one
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "is live" in rebuilt.stdout
    await caught_up(system, "reporting")
    after = await answers(http, system, as_of)
    assert after == before

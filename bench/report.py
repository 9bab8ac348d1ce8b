"""Monthly report query time over 1,000,000 complaints.

A million complaints cannot go through the log within the benchmark's ten minutes, so the
reporting projection's own tables are loaded with COPY in the shape the projection writes
(a received, a judged and, for most, a closed fact per complaint), 24 months over 25 offices,
each complaint's personal fields sealed under its complainant's key (250,000 complainants).
Then the real service's HTTP endpoint is timed: one office and the whole company, one month.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson

from bench.common import Bench, reader_headers
from contracts import ServiceCategory, Validity
from services.reporting import store
from services.reporting.projection import SETTLE_CHUNK
from services.reporting.store.writing import EVENT_COLUMNS
from services.runtime import vault

OFFICES = [f"第{i:02d}管理处" for i in range(1, 25)] + ["Y园"]
CATEGORIES = [c.value for c in ServiceCategory]
START = datetime(2024, 12, 1, tzinfo=UTC)
MONTHS = 24

COMPLAINANTS = 250_000
"""Distinct complainants of the benchmark (four complaints each on average), each with a key of
its own in the vault: every complaint's personal fields are sealed under it, as intake seals
them, and the report opens each description through the vault."""


def _complainants(n: int = COMPLAINANTS) -> list[tuple[str, bytes]]:
    """(reference, key) of each complainant."""
    return [
        (hashlib.sha256(f"complainant-{k}".encode()).hexdigest(), os.urandom(32)) for k in range(n)
    ]


def _sealed_personal(ref: str, key: bytes, n: int) -> str:
    """A complaint's personal fields as the projection keeps them (``vault.personal_of``)."""
    return orjson.dumps(
        {
            "ref": ref,
            "complainant": {
                "ref": ref,
                "sealed": vault.seal(
                    key, ref, "complainant", {"name": "业主", "phone": "13800000000"}
                ),
            },
            "description": {
                "sealed": vault.seal(key, ref, "description", f"夜间施工噪音（第{n}次）")
            },
            "demand": {"sealed": vault.seal(key, ref, "demand", "")},
        }
    ).decode()


COMPLAINT_COLUMNS = [
    "complaint_id",
    "channel",
    "submission_id",
    "office",
    "unit",
    "complainant_ref",
    "personal",
    "subject",
    "occurred_at",
    "received_at",
    "received_day",
    "received_event_id",
    "unit_key",
    "building",
    "topic",
]
"""The complaint columns ``_rows`` makes, in order."""
FACT_COLUMNS = [
    c for c in EVENT_COLUMNS if c not in ("seq", "office", "priority", "outcome", "detail")
]
"""The event fact columns ``_fact`` makes, in order."""


def _rows(
    n: int, complainants: list[tuple[str, bytes]], seed: int = 11
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    span = (timedelta(days=30.4) * MONTHS).total_seconds()
    complaints, events = [], []
    for i in range(n):
        cid = uuid.UUID(int=rng.getrandbits(128))
        office = OFFICES[i % len(OFFICES)]
        at = START + timedelta(seconds=rng.uniform(0, span))
        channel = "supervision" if i % 16 == 0 else ("app" if i % 3 else "hotline")
        unit = f"{i % 40 + 1}栋{i % 3 + 1}单元{i % 900 + 101}"
        complaints.append(
            (
                cid,
                channel,
                f"s-{i}",
                office,
                unit,
                complainants[i % len(complainants)][0],
                _sealed_personal(*complainants[i % len(complainants)], i),
                "噪音",
                at,
                at,
                (at + timedelta(hours=8)).date(),
                uuid.uuid4(),
                unit,
                unit.split("栋")[0] + "栋",
                "噪音",
            )
        )
        r = rng.random()
        validity = (
            Validity.VALID if r < 0.185 else (Validity.ASSIST if r < 0.862 else Validity.INVALID)
        )
        category = rng.choice(CATEGORIES) if validity is not Validity.INVALID else None
        judged = at + timedelta(minutes=rng.uniform(5, 120))
        events.append(_fact(cid, "ComplaintReceived", at, "received"))
        events.append(_fact(cid, "ComplaintJudged", judged, "judged", validity.value, category))
        if rng.random() < 0.8:
            closed = judged + timedelta(days=rng.uniform(1, 5))
            events.append(_fact(cid, "ComplaintClosed", closed, "closed"))
    return complaints, events


def _fact(
    cid: uuid.UUID,
    kind: str,
    at: datetime,
    status: str,
    validity: str | None = None,
    category: str | None = None,
) -> tuple[Any, ...]:
    """An event fact row (the columns ``load`` COPYs), recorded when it occurred."""
    return (uuid.uuid4(), cid, kind, at, at, status, validity, category, *(None,) * 6)


async def load(database_url: str, n: int) -> float:
    """COPY ``n`` complaints and their facts into the projection; return seconds taken."""
    started = time.perf_counter()
    complainants = _complainants()
    complaints, events = _rows(n, complainants)
    conn = await asyncpg.connect(database_url)
    try:
        # Throwaway data: no autovacuum worker (it runs as the superuser, and the sandbox's
        # role could not force it off to drop the database afterwards). ANALYZE below
        # gives the planner its statistics.
        # The live generation's tables (reporting.complaints … are views over them).
        live = await conn.fetchval(
            "SELECT 'reporting_g' || gen FROM reporting.generations WHERE state = 'live'"
        )
        await conn.execute(
            f"ALTER TABLE {live}.complaints SET (autovacuum_enabled = off);"
            f"ALTER TABLE {live}.events SET (autovacuum_enabled = off)"
        )
        async with conn.transaction():
            await conn.copy_records_to_table(
                "complainant_keys",
                schema_name="vault",
                records=complainants,
                columns=["complainant_ref", "key"],
            )
            await conn.copy_records_to_table(
                "complaints",
                schema_name=live,
                records=complaints,
                columns=COMPLAINT_COLUMNS,
            )
            await conn.copy_records_to_table(
                "events",
                schema_name=live,
                records=events,
                columns=FACT_COLUMNS,
            )
        await conn.execute(f"ANALYZE {live}.complaints; ANALYZE {live}.events")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def fold_current(database_url: str) -> float:
    """Fold each complaint's state as every event applied has it into ``complaint_current``,
    as a builder does after the swap of a bulk load (``ComplaintsProjection.settle``): what
    the report "now" reads; seconds taken."""
    started = time.perf_counter()
    conn = await asyncpg.connect(database_url)
    try:
        live = await conn.fetchval(
            "SELECT 'reporting_g' || gen FROM reporting.generations WHERE state = 'live'"
        )
        await conn.execute(f"INSERT INTO {live}.current_pending DEFAULT VALUES")
        more = True
        while more:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL search_path TO {live}, reporting")
                more = await store.fold_pending(conn, SETTLE_CHUNK)
        await conn.execute(f"ANALYZE {live}.complaint_current")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _time(http: httpx.AsyncClient, url: str, params: dict[str, str]) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        resp = await http.get(url, params=params)
        runs.append(time.perf_counter() - started)
        resp.raise_for_status()
    return statistics.median(runs[1:])  # the first run warms the caches


AS_OF = "2026-11-10T09:00:00+08:00"
"""The past instant of ``company_as_of_ms``: ten days after the month reported on."""


async def measure(bench: Bench, *, n: int = 1_000_000) -> dict[str, Any]:
    """Median time of the monthly report, one office and company-wide (now, and as of a past
    instant), over ``n`` complaints."""
    async with bench.system("report", ["reporting"]) as system:
        load_s = await load(system.database_url, n)
        current_s = await fold_current(system.database_url)
        month = date(2026, 10, 1)
        params = {"from": month.isoformat(), "to": "2026-10-31"}
        url = f"{system.urls['reporting']}/v1/reports/monthly"
        async with httpx.AsyncClient(timeout=120, headers=reader_headers()) as http:
            office = await _time(http, url, {**params, "office": "Y园"})
            company = await _time(http, url, params)
            # the same report as the log stood at a past instant (after the month's end)
            as_of = await _time(http, url, {**params, "as_of": AS_OF})
            report = (await http.get(url, params=params)).json()
        in_month = report.get("received")
    return {
        "complaints": n,
        "load_s": round(load_s, 1),
        "current_fold_s": round(current_s, 1),
        "complaints_in_month": in_month,
        "office_ms": round(office * 1000, 1),
        "company_ms": round(company * 1000, 1),
        "company_as_of_ms": round(as_of * 1000, 1),
        "target_office_ms": 50,
        "target_company_ms": 300,
        "target_company_as_of_ms": 1000,
    }

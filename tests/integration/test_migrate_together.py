"""Copies of a service starting together on a fresh database (``docker compose up``, ``make up``
with intake's two copies, ``--scale``): one migrates, the others wait and find it done.

They wait for an advisory lock; taken inside their transaction, the waiters' DDL did not see
what the first had committed, and ``CREATE SCHEMA IF NOT EXISTS`` failed on the schema it had
just made (``services.runtime.store.migrating``)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from deploy.local import sandbox
from services.intake.spec import SPEC
from services.runtime.app import build_app
from services.runtime.settings import Settings
from tests.conftest import RUN, Infra

pytestmark = pytest.mark.infra
COPIES = 3


@pytest.mark.parametrize("attempt", range(3))
async def test_copies_migrating_a_fresh_database_together_all_start(
    real_infra: Infra, attempt: int
) -> None:
    name = f"complaints_test_{RUN}_mig{attempt}_{uuid.uuid4().hex[:4]}"
    url = await sandbox.create_database(real_infra.admin_database_url, name)
    settings = SPEC.settings(database_url=url)
    assert isinstance(settings, Settings)
    services = [build_app(SPEC, settings).state.service for _ in range(COPIES)]
    try:
        for service in services:
            await service.open_pool(2)
        failures = [
            repr(result)
            for result in await asyncio.gather(
                *(service.migrate() for service in services), return_exceptions=True
            )
            if result is not None
        ]
        assert failures == []
        assert all(service.migrated for service in services)
    finally:
        for service in services:
            if service._pool is not None:
                await service.pool.close()
        await sandbox.drop_database(real_infra.admin_database_url, name)

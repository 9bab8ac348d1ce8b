"""Fixtures for tests against the real system.

The infrastructure is the project's own: a real Kafka broker (KRaft, Apache's jars from Maven
Central) and a real PostgreSQL, started by ``deploy.local.infra`` or reused when already running
(``make up``). With ``COMPLAINTS_TEST_INFRA=testcontainers`` and a Docker engine, testcontainers
provides them instead.

Each test session is isolated from the developer's data: its own database
(``complaints_test_<run>``) and its own topics (``test.<run>.complaints.*``). The services run as
real processes (``python -m services.<name>``) on free ports.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from deploy.local import infra, sandbox, stack
from deploy.local.sandbox import RunningSystem, free_port

RUN = uuid.uuid4().hex[:8]
__all__ = ["RUN", "Infra", "RunningSystem", "free_port"]  # tests import these from here


@dataclass
class Infra:
    """Where the real broker and database of this test session are."""

    kafka_bootstrap: str
    admin_database_url: str  # the database the test databases are created from
    home: Path


@pytest.fixture(scope="session")
def real_infra() -> Iterator[Infra]:
    """The real Kafka and PostgreSQL: testcontainers if asked for, else local processes."""
    if os.environ.get("COMPLAINTS_TEST_INFRA") == "testcontainers":
        yield from _testcontainers_infra()
        return
    cfg = infra.InfraConfig.from_env()
    with _SessionRegistry(cfg.home / "run" / "test-sessions") as sessions:
        before = infra.status(cfg)
        for part in ("kafka", "postgres"):
            if not before[part]["running"]:
                sessions.started(part)
        infra.ensure_kafka(cfg)
        infra.ensure_postgres(cfg)
    try:
        yield Infra(
            kafka_bootstrap=f"127.0.0.1:{cfg.kafka_port}",
            admin_database_url=cfg.database_url,
            home=cfg.home,
        )
    finally:
        # Leave the machine as found: what a test session started is stopped by the last
        # session still running (two sessions at once share the broker and the database).
        with _SessionRegistry(cfg.home / "run" / "test-sessions") as sessions:
            for part in sessions.leave():
                {"kafka": infra.stop_kafka, "postgres": infra.stop_postgres}[part](cfg)


class _SessionRegistry:
    """The test sessions using the local infrastructure, one file per live process, and what
    a test session started; held under an exclusive file lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> _SessionRegistry:
        import fcntl

        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = (self.folder / ".lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        (self.folder / f"session-{os.getpid()}").touch()
        return self

    def __exit__(self, *_: object) -> None:
        self._lock.close()  # releases the lock

    def started(self, part: str) -> None:
        (self.folder / f"started-{part}").touch()

    def leave(self) -> list[str]:
        """Leave; the parts to stop if this was the last live session."""
        (self.folder / f"session-{os.getpid()}").unlink(missing_ok=True)
        for mark in self.folder.glob("session-*"):
            pid = int(mark.name.removeprefix("session-"))
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                mark.unlink(missing_ok=True)  # a session that died without leaving
            else:
                return []
        parts = []
        for mark in self.folder.glob("started-*"):
            parts.append(mark.name.removeprefix("started-"))
            mark.unlink()
        return sorted(parts)


def _testcontainers_infra() -> Iterator[Infra]:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(f"COMPLAINTS_TEST_INFRA=testcontainers but no Docker engine answers: {exc}")
    from tests.containers import kafka_container, postgres_container

    # The images of docker-compose.yml; see tests/containers.py for why Kafka needs a subclass.
    with kafka_container() as kafka, postgres_container() as pg:
        yield Infra(
            kafka_bootstrap=kafka.get_bootstrap_server(),
            admin_database_url=pg.get_connection_url(),
            home=Path(".local"),
        )


@pytest.fixture(scope="session")
async def test_database(real_infra: Infra) -> AsyncIterator[str]:
    """A fresh database for this session, dropped at the end."""
    name = f"complaints_test_{RUN}"
    yield await sandbox.create_database(real_infra.admin_database_url, name)
    await sandbox.drop_database(real_infra.admin_database_url, name)


@pytest.fixture
async def own_database(real_infra: Infra, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database for one test, named after its module, dropped after it."""
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"complaints_test_{RUN}_{module}"
    yield await sandbox.create_database(real_infra.admin_database_url, name)
    await sandbox.drop_database(real_infra.admin_database_url, name)


@pytest.fixture(scope="session")
async def test_topics(real_infra: Infra) -> AsyncIterator[dict[str, str]]:
    """This session's topic names; the topics are deleted at the end."""
    topics = sandbox.topic_names(f"test.{RUN}")
    yield topics
    await sandbox.delete_topics(real_infra.kafka_bootstrap, topics.values())


@pytest.fixture(scope="session")
def system_env(
    real_infra: Infra, test_database: str, test_topics: dict[str, str]
) -> dict[str, str]:
    """The ``COMPLAINTS_*`` environment of this session's services."""
    return sandbox.environment(
        bootstrap=real_infra.kafka_bootstrap,
        database_url=test_database,
        topics=test_topics,
        COMPLAINTS_PUBLISH_TIMEOUT_S="5",
    )


@pytest.fixture(scope="session")
def system(real_infra: Infra, system_env: dict[str, str]) -> Iterator[RunningSystem]:
    """All four services running as real processes against the real broker and database."""
    sys_ = RunningSystem(
        env=system_env,
        database_url=system_env["COMPLAINTS_DATABASE_URL"],
        topics={
            k: system_env[f"COMPLAINTS_TOPIC_{k.upper()}"]
            for k in ("events", "submissions", "deadletter")
        },
        logs=real_infra.home / "logs" / f"test-{RUN}",
    )
    try:
        for name in stack.SERVICES:
            sys_.start(name)
        yield sys_
    finally:
        sys_.stop_all()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the services."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


CHROMIUM = os.environ.get("COMPLAINTS_CHROMIUM", "/usr/bin/chromium")
"""Debian's chromium (the bootstrap installs it); Playwright's own browser download does not
work on our machines, so it is always started from this path (``executable_path``)."""


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """One headless chromium for the session, driven by Playwright."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


SCREENSHOTS = (
    Path(os.environ.get("COMPLAINTS_HOME", Path(__file__).resolve().parents[1] / ".local"))
    / "screenshots"
    / RUN
)
"""Where the browser tests photograph every page (``.local/`` is git-ignored)."""

_PHOTOGRAPHED: set[tuple[str, str]] = set()
"""The kinds of page photographed this session: a screenshot costs about a second here, so
each page (its service and path, ids left out) is taken once, the first time a test loads it."""


class PagePhotographer:
    """Photographs each kind of page ``page`` loads, the first time this session sees it."""

    def __init__(self, page: Page, test: str) -> None:
        self.test = re.sub(r"[^\w.-]+", "_", test)[:80]
        self.taken: list[asyncio.Task[bytes]] = []
        page.on("load", self._loaded)

    def _loaded(self, page: Page) -> None:
        where = page.url.split("//", 1)[-1].split("?", 1)[0]
        kind = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "ID", where.split("/", 1)[-1]) or "index"
        port = where.split("/", 1)[0].rsplit(":", 1)[-1]
        if (port, kind) in _PHOTOGRAPHED:
            return
        _PHOTOGRAPHED.add((port, kind))
        name = re.sub(r"[^\w.-]+", "_", kind)
        target = SCREENSHOTS / f"{name}--{self.test}.png"
        self.taken.append(asyncio.ensure_future(page.screenshot(path=target)))

    async def finish(self) -> None:
        """Wait for the screenshots under way (a page closed meanwhile has none)."""
        await asyncio.gather(*self.taken, return_exceptions=True)


@pytest.fixture
async def browser_context(
    chromium: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """Make fresh pages in fresh contexts (no cookies), as a zh-CN user in Shanghai sees
    them (keyword arguments go to ``new_context``, e.g. ``java_script_enabled=False``); every
    kind of page they load is photographed into ``.local/screenshots/<run>/``."""
    contexts: list[BrowserContext] = []
    photographers: list[PagePhotographer] = []

    async def new_page(**options: Any) -> Page:
        context = await chromium.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", **options)
        contexts.append(context)
        page = await context.new_page()
        photographers.append(PagePhotographer(page, request.node.name))
        return page

    try:
        yield new_page
    finally:
        for photographer in photographers:
            await photographer.finish()
        for context in contexts:
            await context.close()


@pytest.fixture
async def browser_page(browser_context: Callable[..., Awaitable[Page]]) -> Page:
    """A fresh page in a fresh context (no cookies), as a zh-CN user in Shanghai sees it."""
    return await browser_context()

"""Shared fixtures: the real services once per module, a scripted upstream behind one openai backend."""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import ScriptedUpstream, ThreadedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends

TEST_KEY = "test-key-upstream-0123456789"


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ThreadedUpstream() as running:
        yield running


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("dario") / "home"
    with running_services(home) as started:
        started.add_backend("scripted", upstream.base_url, TEST_KEY)
        yield started


@pytest.fixture
async def frontend(services: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.scripts.clear()
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 1)
        yield server


@pytest.fixture(scope="module")
def both_kinds(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    """An openai backend "gpt" and an anthropic one "claude", both on the scripted upstream: gpt-* models are
    served natively by one, claude-* by the other, and a client of either API reaches both kinds."""
    with running_services(tmp_path_factory.mktemp("both-kinds") / "home") as started:
        started.add_backend("gpt", upstream.base_url, "test-key-openai-0123456789", kind="openai")
        started.add_backend("claude", upstream.base_url, "test-key-anthropic-0123456789", kind="anthropic")
        yield started


@pytest.fixture
async def both_kinds_frontend(both_kinds: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    async with running_frontend(both_kinds.config) as server:
        await wait_for_backends(server, 2)
        yield server


def analytics_rows(home: pathlib.Path, request_ids: list[str], deadline_seconds: float = 15.0) -> dict[str, dict]:
    """Waits until analytics.db holds a row for each request id; returns them by id."""
    deadline = time.monotonic() + deadline_seconds
    found: dict[str, dict] = {}
    while time.monotonic() < deadline:
        database = home / "analytics.db"
        if database.exists():
            connection = sqlite3.connect(database)
            connection.row_factory = sqlite3.Row
            marks = ",".join("?" * len(request_ids))
            rows = connection.execute(f"select * from requests where request_id in ({marks})", request_ids)
            found = {row["request_id"]: dict(row) for row in rows}
            connection.close()
            if len(found) == len(request_ids):
                return found
        time.sleep(0.05)
    raise AssertionError(f"analytics has {len(found)} of {len(request_ids)} requests after {deadline_seconds}s")


async def async_analytics_rows(home: pathlib.Path, request_ids: list[str]) -> dict[str, dict]:
    return await asyncio.to_thread(analytics_rows, home, request_ids)


async def eventually(condition: Callable[[], bool], message: str, timeout: float = 10.0) -> None:
    """Waits (bounded) for condition(): for what another task notices on its own schedule, e.g. an upstream
    noticing a closed connection on its next write."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{message} within {timeout:.0f}s")
        await asyncio.sleep(0.02)

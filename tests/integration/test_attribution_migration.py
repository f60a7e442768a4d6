"""An analytics database from before attribution: the real pool_service migrates it on start, its rows stay
(grouped under no session), and the requests that follow are recorded and grouped with their attribution."""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import sqlite_utils
from aiohttp.test_utils import TestServer

from dario.json_types import JsonObject
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from pool_service import migrations
from pool_service.analytics import TABLE
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
OLD_ROWS: list[JsonObject] = [{"request_id": f"old-{index}", "started_at": time.time() - 86_400, "api_format": "openai",
             "backend": "scripted", "model": "gpt-4o-mini", "status": 200, "input_tokens": 10, "output_tokens": 5}
            for index in range(3)]


def old_database(path: pathlib.Path) -> None:
    """The schema as released before issue 14 (every migration up to m006_attribution), with rows in it."""
    database = sqlite_utils.Database(path)
    migrations.migrations.apply(database, stop_before="m006_attribution")
    assert "session" not in database.table(TABLE).columns_dict
    database.table(TABLE).insert_all(OLD_ROWS)
    database.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("migrated") / "home"
    home.mkdir(mode=0o700, parents=True)
    old_database(home / "analytics.db")
    with running_services(home) as started:
        started.add_backend("scripted", upstream.base_url, "test-key-migrated-0123456789")
        yield started


@pytest.fixture
async def frontend(services: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 1)
        yield server


async def test_an_old_database_is_migrated_and_reported_beside_new_attributed_rows(frontend: TestServer,
                                                                                     services: Services) -> None:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/chat/completions"), data=body,
                                headers={"content-type": "application/json", "user-agent": "llm/0.27",
                                         "x-dario-session": "after-upgrade"}) as answer:
            assert answer.status == 200, await answer.text()
            request_id = answer.headers["request-id"]
        rows = await async_analytics_rows(services.home, [request_id, *(row["request_id"] for row in OLD_ROWS)])
        async with session.get(frontend.make_url(f"/analytics?window={7 * 86400}&by=session,client")) as answer:
            report = await answer.json()
    assert (rows[request_id]["client"], rows[request_id]["session"]) == ("llm", "after-upgrade")
    assert rows["old-0"]["session"] is None and rows["old-0"]["input_tokens"] == 10
    sessions = {entry["session"]: entry["requests"] for entry in report["by_session"]}
    assert sessions == {"after-upgrade": 1, "": 3}
    assert report["all_time"]["requests"] == 4
    database = sqlite_utils.Database(services.home / "analytics.db")
    try:
        indexed = {tuple(index.columns) for index in database.table(TABLE).indexes}
    finally:
        database.close()
    assert {("session",), ("project",), ("client",), ("started_at",)} <= indexed

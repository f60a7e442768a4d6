"""The frontend started before its services answers 503 naming what is down, then recovers by itself."""

from __future__ import annotations

import pathlib

import aiohttp
import pytest

from dario.config import Environment, load_config
from dario.testing.scripted_upstream import ThreadedUpstream
from dario.testing.stack import running_frontend, running_services, wait_for_backends

pytestmark = pytest.mark.timeout(120)
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def test_frontend_waits_for_its_services_and_recovers_without_a_restart(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    config = load_config(Environment.read({"DARIO_HOME": str(home)}))
    config.paths.ensure()
    async with running_frontend(config) as server, aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/v1/chat/completions"), json=BODY) as answer:
            document = await answer.json()
            assert answer.status == 503
            assert "credential_service" in document["error"]["message"]
            assert "dario up" in document["error"]["message"]
            assert answer.headers["request-id"].startswith("req_")
        async with session.get(server.make_url("/health")) as answer:
            health = await answer.json()
            assert health["status"] == "degraded"
            assert health["services"]["pool_service"]["state"] == "UNAVAILABLE"

        with ThreadedUpstream() as upstream, running_services(home) as services:
            services.add_backend("late", upstream.base_url, "test-key-recovery-0123456789")
            await wait_for_backends(server, 1)
            async with session.post(server.make_url("/v1/chat/completions"), json=BODY) as answer:
                assert answer.status == 200, await answer.text()
                assert answer.headers["x-dario-backend"] == "late"

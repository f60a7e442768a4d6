"""config.toml routing in the running frontend: rewrite, reload on change without dropping requests, bad files."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from frontend.state import STATE

pytestmark = pytest.mark.timeout(120)
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def two_backends(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("routing") / "home") as started:
        started.add_backend("first", upstream.base_url, "test-key-first-0123456789")
        started.add_backend("second", upstream.base_url, "test-key-second-0123456789")
        yield started


@pytest.fixture
async def frontend(two_backends: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    two_backends.config.paths.config.unlink(missing_ok=True)
    upstream.scripts.clear()
    async with running_frontend(two_backends.config) as server:
        await wait_for_backends(server, 2)
        yield server


async def write_config(server: TestServer, services: Services, text: str, expect_error: bool = False) -> None:
    """Writes config.toml and waits (bounded) until the frontend's watcher has read it."""
    watcher = server.app[STATE].config_watcher
    before = watcher.current
    path = services.config.paths.config
    path.write_text(text)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if (watcher.error if expect_error else watcher.current is not before):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the frontend did not pick up config.toml")


async def served_by(server: TestServer, model: str) -> tuple[str, str]:
    client = openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    return raw.headers["x-dario-backend"], raw.parse().model


async def test_rules_reload_on_change_and_a_bad_file_keeps_the_last_good_rules(
    frontend: TestServer, two_backends: Services, upstream: ScriptedUpstream
) -> None:
    assert await served_by(frontend, "gpt-4o") == ("first", "gpt-4o")
    await write_config(frontend, two_backends, '[[routes]]\nmatch = "gpt-*"\nbackend = "second"\nmodel = "gpt-4.1"\n')
    assert await served_by(frontend, "gpt-4o") == ("second", "gpt-4.1")
    assert upstream.requests[-1].json["model"] == "gpt-4.1"  # the rewrite reaches the upstream
    await write_config(frontend, two_backends, '[[routes]]\nmatch = "gpt-*"\nbackend = "second"\nmodel = 5\n',
                       expect_error=True)
    assert "line 1" in frontend.app[STATE].config_watcher.error
    assert await served_by(frontend, "gpt-4o") == ("second", "gpt-4.1")


async def test_a_reload_does_not_drop_a_request_in_flight(frontend: TestServer, two_backends: Services,
                                                         upstream: ScriptedUpstream) -> None:
    upstream.push(Script(content="slow " * 40, split=300, chunk_delay=0.05))
    client = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0)
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    text = ""
    async for chunk in stream:
        if not text:
            await write_config(frontend, two_backends, 'default_backend = "second"\n[aliases]\nx = "gpt-4o"\n')
        text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text == "slow " * 40
    assert stream.response.headers["x-dario-backend"] == "first"


async def test_aliases_and_default_backend_from_config(frontend: TestServer, two_backends: Services) -> None:
    await write_config(frontend, two_backends, 'default_backend = "second"\n[aliases]\nquick = "gpt-4o-mini"\n')
    assert await served_by(frontend, "quick") == ("first", "gpt-4o-mini")
    assert await served_by(frontend, "llama-3") == ("second", "llama-3")


async def test_models_lists_what_the_routes_serve(frontend: TestServer, two_backends: Services) -> None:
    await write_config(frontend, two_backends, '[aliases]\nquick = "gpt-4o-mini"\n\n[[routes]]\nmatch = "house-model"\n'
                       'backend = "second"\nmodel = "llama-3.3-70b"\n')
    client = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0)
    owners = {model.id: model.owned_by for model in (await client.models.list()).data}
    assert owners["quick"] == "first" and owners["house-model"] == "second"
    assert "llama-3.3-70b" not in owners  # a rewrite target is not itself a name clients can ask for
    assert owners["gpt-4o"] == "first"  # from the upstream's own listing
    assert "opus" not in owners  # no anthropic backend, so the default alias serves nothing here

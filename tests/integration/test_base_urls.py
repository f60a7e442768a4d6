"""Base URLs as providers document them: the Anthropic SDK form (no /v1) at a path prefix, an OpenAI-compatible
URL without its version, and the probe `dario backend add` / `backend test` make from credential_service."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import anthropic
import openai
import pytest

from dario.testing.processes import REPO, environment
from dario.testing.scripted_upstream import ScriptedUpstream, ThreadedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends

pytestmark = pytest.mark.timeout(120)
KEY = "test-key-base-urls-0123456789"
REFUSED = "test-key-refused-0123456789"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def dario(home: pathlib.Path, *arguments: str, key: str | None = KEY) -> subprocess.CompletedProcess:
    extra = ("--key-stdin",) if key and arguments[:2] == ("backend", "add") else ()
    return subprocess.run([sys.executable, "-m", "dario.cli.main", *arguments, *extra],
                          env=environment(home, {"COLUMNS": "250"}), input=key, capture_output=True, text=True,
                          timeout=90, cwd=REPO)


@pytest.fixture(scope="module")
def compatible() -> Iterator[ScriptedUpstream]:
    """An Anthropic-compatible endpoint mounted as DeepSeek's is: https://api.deepseek.com/anthropic/v1/messages."""
    with ThreadedUpstream(prefix="/anthropic/v1") as running:
        running.accept_token = lambda token: token != REFUSED
        yield running


@pytest.fixture(scope="module")
def versioned() -> Iterator[ScriptedUpstream]:
    """An OpenAI-compatible server under /v1 (as Ollama, vLLM, LM Studio)."""
    with ThreadedUpstream() as running:
        yield running


@pytest.fixture(scope="module")
def unversioned() -> Iterator[ScriptedUpstream]:
    """An OpenAI-compatible server with no version in its paths (as https://api.perplexity.ai/chat/completions)."""
    with ThreadedUpstream(prefix="") as running:
        yield running


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("base-urls") / "home") as started:
        yield started


def stored_url(services: Services, name: str) -> str:
    listed = json.loads(dario(services.home, "backend", "list", "--json").stdout)["backends"]
    return next(backend["base_url"] for backend in listed if backend["name"] == name)


async def test_an_anthropic_backend_added_as_its_sdk_base_url_serves_the_anthropic_sdk(
    services: Services, compatible: ScriptedUpstream
) -> None:
    host = compatible.base_url.removesuffix("/anthropic/v1")
    added = dario(services.home, "backend", "add", "deepseek-like", "--kind", "anthropic", "--base-url",
                  f"{host}/anthropic")
    assert added.returncode == 0, added.stderr
    assert f"requests go to {host}/anthropic/v1/messages" in added.stdout
    assert (f"probe: GET {host}/anthropic/v1/models with account default answered 200, 2 model(s) listed"
            in added.stdout)
    again = dario(services.home, "backend", "add", "deepseek-like", "--kind", "anthropic", "--base-url",
                  f"{host}/anthropic/v1", "--account", "second")  # the /v1 form names the same backend
    assert again.returncode == 0 and "has 2 credential(s)" in again.stdout, again.stderr
    assert stored_url(services, "deepseek-like") == f"{host}/anthropic/v1"
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 1)
        client = anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="dario", max_retries=0)
        message = await client.messages.create(model="claude-sonnet-5-5", max_tokens=50, messages=MESSAGES)
    assert message.content[0].text
    assert compatible.requests[-1].path == "/anthropic/v1/messages"
    assert compatible.requests[-1].headers["x-api-key"] == KEY


def test_a_refused_key_and_a_wrong_path_are_told_apart(services: Services, compatible: ScriptedUpstream) -> None:
    host = compatible.base_url.removesuffix("/anthropic/v1")
    refused = dario(services.home, "backend", "add", "refused", "--kind", "anthropic", "--base-url",
                    f"{host}/anthropic", key=REFUSED)
    assert refused.returncode == 0, refused.stderr  # stored: the key may be fixed with `accounts add --replace`
    assert "answered 401" in refused.stdout and "the base URL is right, the key was refused" in refused.stdout
    assert REFUSED not in refused.stdout + refused.stderr
    wrong = dario(services.home, "backend", "add", "wrong-path", "--kind", "anthropic", "--base-url",
                  f"{host}/nothing")
    assert f"{host}/nothing/v1/models with account default answered 404" in wrong.stdout
    assert "nothing is served at this base URL" in wrong.stdout
    tested = dario(services.home, "backend", "test", "wrong-path")
    assert tested.returncode == 1 and "answered 404" in tested.stdout
    unreachable = dario(services.home, "backend", "add", "nobody", "--kind", "openai", "--base-url",
                        "http://127.0.0.1:9/v1")
    assert unreachable.returncode == 0 and "no answer" in unreachable.stdout
    skipped = dario(services.home, "backend", "add", "unprobed", "--kind", "openai", "--base-url",
                    "http://127.0.0.1:9/v1", "--no-probe")
    assert "not probed (--no-probe)" in skipped.stdout
    for name in ("refused", "wrong-path", "nobody", "unprobed"):
        dario(services.home, "backend", "remove", name)


async def test_an_openai_url_without_a_version_is_stored_where_the_api_answers(
    services: Services, versioned: ScriptedUpstream, unversioned: ScriptedUpstream
) -> None:
    bare_host = versioned.base_url.removesuffix("/v1")
    local = dario(services.home, "backend", "add", "local", "--kind", "openai", "--base-url", bare_host)
    assert local.returncode == 0, local.stderr
    assert f"{bare_host}/models answered 404, {bare_host}/v1/models answered 200: stored with /v1" in local.stdout
    assert stored_url(services, "local") == f"{bare_host}/v1"
    kept = dario(services.home, "backend", "add", "unversioned", "--kind", "openai", "--base-url",
                 unversioned.base_url)
    assert kept.returncode == 0 and "answered 200" in kept.stdout
    assert stored_url(services, "unversioned") == unversioned.base_url  # as documented, no /v1 added
    tested = dario(services.home, "backend", "test", "unversioned", "--json")
    assert tested.returncode == 0
    assert json.loads(tested.stdout)["results"][0]["url"] == f"{unversioned.base_url}/models"
    services.config.paths.config.write_text('[[routes]]\nmatch = "local-*"\nbackend = "local"\n\n[[routes]]\n'
                                              'match = "bare-*"\nbackend = "unversioned"\n')
    try:
        async with running_frontend(services.config) as server:
            await wait_for_backends(server, 3)
            client = openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)
            for model, upstream, path in (("local-model", versioned, "/v1/chat/completions"),
                                          ("bare-model", unversioned, "/chat/completions")):
                answer = await client.chat.completions.create(model=model, messages=MESSAGES)
                assert answer.choices[0].message.content
                assert upstream.requests[-1].path == path
    finally:
        services.config.paths.config.unlink()

"""Backend compatibility profiles end to end (issue 16): config.toml's overrides reach the request dario sends, a
clamped output limit is told in a header, and what a profile refuses is dario's own 400 in the client's format."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import aiohttp
import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.config import parse_config
from dario.testing.llamacpp_like import DEEPSEEK_THINKING, ThreadedLlamaCpp
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends

pytestmark = pytest.mark.timeout(120)
CONFIG = """
[compat.capped]
max_output_tokens = 8192
[compat.vllm]
profile = "vllm"
[compat.oai]
profile = "openai"
[models."tiny-*"]
max_output_tokens = 100

[[routes]]
match = "capped-*"
backend = "capped"
[[routes]]
match = "vllm-*"
backend = "vllm"
[[routes]]
match = "oai-*"
backend = "oai"
[[routes]]
match = "tiny-*"
backend = "generic"
"""
BACKENDS = ("capped", "vllm", "oai", "generic")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("compat") / "home") as started:
        for name in BACKENDS:
            started.add_backend(name, upstream.base_url, f"test-key-{name}-0123456789", kind="openai")
        yield started


@pytest.fixture
async def frontend(services: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    parsed = parse_config(CONFIG)
    config = dataclasses.replace(services.config, compat=parsed.compat, models=parsed.models, routing=parsed.routing)
    async with running_frontend(config) as server:
        await wait_for_backends(server, len(BACKENDS))
        yield server


def claude(server: TestServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="dario", max_retries=0)


async def test_claude_codes_32000_is_clamped_to_the_backends_cap_and_the_header_says_so(
        frontend: TestServer, upstream: ScriptedUpstream) -> None:
    async with claude(frontend).messages.stream(model="capped-qwen", max_tokens=32000,
                                                messages=[{"role": "user", "content": "hi"}]) as stream:
        assert stream.response.headers["x-dario-max-tokens-clamped"] == "32000->8192"
        await stream.get_final_message()
    assert upstream.requests[-1].json["max_tokens"] == 8192


async def test_a_native_chat_request_is_clamped_to_the_models_cap_from_config(
        frontend: TestServer, upstream: ScriptedUpstream) -> None:
    client = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(
        model="tiny-model", max_tokens=5000, messages=[{"role": "user", "content": "hi"}])
    assert raw.headers["x-dario-max-tokens-clamped"] == "5000->100"
    assert upstream.requests[-1].json["max_tokens"] == 100 and raw.parse().choices[0].message.content
    await client.chat.completions.create(model="tiny-model", max_tokens=50, messages=[
        {"role": "user", "content": "hi"}])
    assert upstream.requests[-1].json["max_tokens"] == 50


async def test_a_prefill_reaches_vllm_as_continue_final_message(frontend: TestServer,
                                                                upstream: ScriptedUpstream) -> None:
    await claude(frontend).messages.create(model="vllm-llama", max_tokens=100, messages=[
        {"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "The colour is"}])
    sent = upstream.requests[-1].json
    assert sent["continue_final_message"] is True and sent["add_generation_prompt"] is False
    assert sent["messages"][-1] == {"role": "assistant", "content": "The colour is"}


async def test_the_openai_profile_keeps_openais_own_forms(frontend: TestServer, upstream: ScriptedUpstream) -> None:
    upstream.push(Script(content="done"))
    await claude(frontend).messages.create(model="oai-gpt", max_tokens=100, messages=[
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}],
        tools=[{"name": "f", "input_schema": {"type": "object"}}])
    sent = upstream.requests[-1].json
    assert sent["max_completion_tokens"] == 100 and "max_tokens" not in sent
    assert sent["messages"][1]["content"] is None


async def test_more_stop_sequences_than_openai_takes_is_darios_own_400_naming_the_field(
        frontend: TestServer, upstream: ScriptedUpstream) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        await claude(frontend).messages.create(model="oai-gpt", max_tokens=100, stop_sequences=list("abcde"),
                                               messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "stop_sequences" in raised.value.body["error"]["message"]
    assert upstream.requests == []


async def test_a_whitespace_stop_from_an_openai_client_is_dropped_toward_anthropic_with_a_warning(
        tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> None:
    with running_services(tmp_path_factory.mktemp("stop") / "home") as started:
        started.add_backend("claude", upstream.base_url, "test-key-anthropic-0123456789", kind="anthropic")
        async with running_frontend(started.config) as server:
            await wait_for_backends(server, 1)
            upstream.clear()
            async with aiohttp.ClientSession() as session, session.post(
                    server.make_url("/v1/chat/completions"), json={
                        "model": "claude-sonnet-4-5", "stop": "\n",
                        "messages": [{"role": "user", "content": "one line"}]}) as answer:
                assert answer.status == 200 and "stop" in answer.headers["x-dario-translation-dropped"]
    assert "stop_sequences" not in upstream.requests[-1].json


async def test_thinking_goes_back_to_deepseek_as_reasoning_content_across_a_tool_loop(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    history = [{"role": "user", "content": "What is f?"},
               {"role": "assistant", "content": [
                   {"type": "thinking", "thinking": "I should call f.", "signature": ""},
                   {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "42"}]}]
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    with ThreadedLlamaCpp(quirks=DEEPSEEK_THINKING) as deepseek, \
            running_services(tmp_path_factory.mktemp("deepseek") / "home") as started:
        started.add_backend("ds", deepseek.base_url, "test-key-deepseek-0123456789", kind="openai")
        for overrides, succeeds in (("", False), ('[compat.ds]\nprofile = "deepseek"\n', True)):
            parsed = parse_config(overrides + '[[routes]]\nmatch = "*"\nbackend = "ds"\nmodel = "deepseek-reasoner"\n')
            config = dataclasses.replace(started.config, compat=parsed.compat, routing=parsed.routing)
            async with running_frontend(config) as server:
                await wait_for_backends(server, 1)
                deepseek.push(Script(content="f is 42."))
                client = claude(server)
                if succeeds:
                    answer = await client.messages.create(model="deepseek-reasoner", max_tokens=100,
                                                          messages=history, tools=tools)
                    assert answer.content[0].text == "f is 42."
                    assert deepseek.requests[-1].json["messages"][1]["reasoning_content"] == "I should call f."
                else:
                    with pytest.raises(anthropic.BadRequestError, match="reasoning_content"):
                        await client.messages.create(model="deepseek-reasoner", max_tokens=100, messages=history,
                                                     tools=tools)
                    deepseek.clear()

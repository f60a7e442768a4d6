"""Servers × clients (docs/compatibility.md's table): a tool loop of three turns from each official SDK, as the
real clients shape it, through dario to the mimic of each OpenAI-compatible server, with no configuration."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator

import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.config.sections import RoutingConfig, Rule
from dario.testing.llamacpp_like import SERVERS, QuirkyServer, ThreadedLlamaCpp
from dario.testing.scripted_upstream import Script
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends

pytestmark = pytest.mark.timeout(120)
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
NAMES = ("get_weather", "get_time")
SLUGS = {name: name.lower().replace(" ", "").replace(".", "") for name in SERVERS}  # llama.cpp → llamacpp
BILLING = "x-anthropic-billing-header: cc_version=2.1.3.abc; cc_entrypoint=cli;"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, QuirkyServer]]:
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(ThreadedLlamaCpp(quirks=quirks)) for name, quirks in SERVERS.items()}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, servers: dict[str, QuirkyServer]) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("matrix") / "home") as started:
        for name, server in servers.items():
            started.add_backend(SLUGS[name], server.base_url, kind="openai")  # added with the CLI, no preset
        yield started


@pytest.fixture(scope="module")
def routing() -> RoutingConfig:
    return RoutingConfig(rules=tuple(Rule(f"{slug}-*", slug, model="local-model") for slug in SLUGS.values()))


@pytest.fixture
async def frontend(services: Services, servers: dict[str, QuirkyServer],
                   routing: RoutingConfig) -> AsyncIterator[TestServer]:
    for upstream in servers.values():
        upstream.clear()
        upstream.refused.clear()
        upstream.push(Script(content="", tools=[(NAMES[0], {"city": "Paris"})]),
                    Script(content="", tools=[(NAMES[1], {"city": "Paris"})]), Script(content="Sunny at noon."))
    async with running_frontend(dataclasses.replace(services.config, routing=routing)) as server:
        await wait_for_backends(server, len(SERVERS))
        yield server


async def claude_code_loop(server: TestServer, model: str) -> list[list[str]]:
    """Claude Code's shape: streamed, the billing block, max_tokens 32000, a system reminder inside messages."""
    client = anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="dario", max_retries=0)
    tools = [{"name": name, "description": name, "input_schema": SCHEMA} for name in NAMES]
    messages: list[dict] = [{"role": "user", "content": "Weather and time in Paris?"},
                            {"role": "system", "content": "<system-reminder>Be brief.</system-reminder>"}]
    calls = []
    for _ in range(3):
        async with client.messages.stream(model=model, max_tokens=32000, messages=messages, tools=tools,
                                          system=[{"type": "text", "text": BILLING},
                                                  {"type": "text", "text": "You are Claude Code."}]) as stream:
            message = await stream.get_final_message()
        uses = [block for block in message.content if block.type == "tool_use"]
        calls.append([block.name for block in uses] or [message.content[0].text])
        messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                          for block in message.content]})
        if uses:
            messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id,
                                                          "content": "ok"} for block in uses]})
    return calls


async def chat_loop(server: TestServer, model: str) -> list[list[str]]:
    """aider's and most agents' shape: whole answers, the assistant turn sent back with `content: None`."""
    client = openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)
    tools = [{"type": "function", "function": {"name": name, "parameters": SCHEMA}} for name in NAMES]
    messages: list[dict] = [{"role": "system", "content": "Be brief."},
                            {"role": "user", "content": "Weather and time in Paris?"}]
    calls = []
    for _ in range(3):
        answer = (await client.chat.completions.create(model=model, messages=messages, tools=tools,
                                                       max_tokens=4000)).choices[0].message
        calls.append([call.function.name for call in answer.tool_calls or []] or [answer.content or ""])
        if answer.tool_calls:
            messages.append({"role": "assistant", "content": None, "tool_calls": [
                call.model_dump() for call in answer.tool_calls]})
            messages += [{"role": "tool", "tool_call_id": call.id, "content": "ok"} for call in answer.tool_calls]
    return calls


async def codex_loop(server: TestServer, model: str) -> list[list[str]]:
    """Codex's shape: the Responses API streamed, stateless (store false), output items sent back whole."""
    client = openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)
    tools = [{"type": "function", "name": name, "parameters": SCHEMA, "strict": False} for name in NAMES]
    items: list[dict] = [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "Weather and time in Paris?"}]}]
    calls = []
    for _ in range(3):
        async with client.responses.stream(model=model, input=items, tools=tools, store=False,
                                           instructions="You are Codex.", max_output_tokens=4000) as stream:
            response = await stream.get_final_response()
        called = [item for item in response.output if item.type == "function_call"]
        calls.append([item.name for item in called] or [response.output_text])
        for item in response.output:
            items.append(item.model_dump(exclude_none=True))
        items += [{"type": "function_call_output", "call_id": item.call_id, "output": "ok"} for item in called]
    return calls


CLIENTS = {"Anthropic SDK (Claude Code's shape)": claude_code_loop, "OpenAI Chat SDK": chat_loop,
           "OpenAI Responses SDK (Codex's shape)": codex_loop}


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("name", list(SERVERS))
async def test_a_three_turn_tool_loop_succeeds_for_every_client_on_every_server(
        frontend: TestServer, servers: dict[str, QuirkyServer], name: str, client: str) -> None:
    calls = await CLIENTS[client](frontend, f"{SLUGS[name]}-model")
    assert calls == [[NAMES[0]], [NAMES[1]], ["Sunny at noon."]]
    server = servers[name]
    assert server.refused == [] and len(server.requests) == 3
    for sent in (json.loads(recorded.body) for recorded in server.requests):
        assert "max_completion_tokens" not in sent and sent["max_tokens"] in (32000, 4000)
        assert [message["role"] for message in sent["messages"]].count("system") == 1
        assert sent["messages"][0]["role"] == "system"

"""Tool loops of three turns from the official SDKs (Anthropic Messages and OpenAI Responses) through dario to a
llama.cpp-like server, with no configuration (issue 16's done-when): the server answers 500 to `content: null`,
refuses fields it does not know and never streams usage."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator

import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.config.sections import RoutingConfig, Rule
from dario.testing.llamacpp_like import LlamaCppLike, ThreadedLlamaCpp
from dario.testing.scripted_upstream import Script
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from frontend.translate.tool_names import VALID

pytestmark = pytest.mark.timeout(120)
MCP_TOOL = "mcp__claude_in_chrome_extension_server__browser_take_screenshot_of_the_page"  # 75 characters
BILLING = "x-anthropic-billing-header: cc_version=2.1.3.abc; cc_entrypoint=cli; cch=00000;"
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
ANTHROPIC_TOOLS = [{"name": name, "description": f"{name} tool", "input_schema": SCHEMA}
                   for name in ("get_weather", MCP_TOOL)]
RESPONSES_TOOLS = [{"type": "function", "name": name, "description": f"{name} tool", "parameters": SCHEMA}
                   for name in ("get_weather", MCP_TOOL)]
MODEL = "gemma-3-4b-it"


@pytest.fixture(scope="module")
def llamacpp() -> Iterator[LlamaCppLike]:
    with ThreadedLlamaCpp() as running:
        yield running


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, llamacpp: LlamaCppLike) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("local-servers") / "home") as started:
        started.add_backend("local", llamacpp.base_url, kind="openai")  # keyless, added with the CLI: no preset
        yield started


@pytest.fixture
async def frontend(services: Services, llamacpp: LlamaCppLike) -> AsyncIterator[TestServer]:
    llamacpp.clear()
    llamacpp.refused.clear()
    everything_local = RoutingConfig(rules=(Rule("*", "local", model=MODEL),))  # Claude Code's models included
    async with running_frontend(dataclasses.replace(services.config, routing=everything_local)) as server:
        await wait_for_backends(server, 1)
        yield server


def short_name_sent(llamacpp: LlamaCppLike) -> str:
    names = [tool["function"]["name"] for tool in llamacpp.requests[0].json["tools"]]
    assert names[0] == "get_weather" and all(VALID.match(name) for name in names)
    return names[1]


def check_sent(llamacpp: LlamaCppLike, limit: int) -> None:
    """What a llama.cpp server can take: no refusals, the limit in max_tokens, tool-call turns with content ""."""
    assert llamacpp.refused == []
    for sent in (recorded.json for recorded in llamacpp.requests):
        assert sent["max_tokens"] == limit and "max_completion_tokens" not in sent
        assert all(message["content"] == "" for message in sent["messages"]
                   if message["role"] == "assistant" and message.get("tool_calls"))
        assert all(BILLING not in str(message["content"]) for message in sent["messages"])


@pytest.mark.parametrize("stream", [True, False])
async def test_an_anthropic_sdk_tool_loop_of_three_turns_succeeds_on_a_llamacpp_server(
        frontend: TestServer, llamacpp: LlamaCppLike, stream: bool) -> None:
    client = anthropic.AsyncAnthropic(base_url=str(frontend.make_url("")), api_key="dario", max_retries=0)
    system = [{"type": "text", "text": BILLING}, {"type": "text", "text": "You are Claude Code."}]
    messages: list[dict] = [{"role": "user", "content": "Weather in Paris, then a screenshot?"}]
    # The server is scripted before the first turn: the MCP tool's short name is known once it has been sent.
    llamacpp.push(Script(content="", tools=[("get_weather", {"city": "Paris"})]))
    answers = []
    limit = 32000 if stream else 8000  # the SDK refuses a non-streamed 32000 (over ten minutes, it reckons)
    for turn in range(3):
        fields = dict(model="claude-sonnet-4-5", max_tokens=limit, system=system, messages=messages,
                      tools=ANTHROPIC_TOOLS)
        if stream:
            async with client.messages.stream(**fields) as events:
                message = await events.get_final_message()
        else:
            message = await client.messages.create(**fields)
        answers.append(message)
        if turn == 0:
            llamacpp.push(Script(content="", tools=[(short_name_sent(llamacpp), {"city": "Paris"})]))
            llamacpp.push(Script(content="Sunny in Paris."))
        messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                          for block in message.content]})
        calls = [block for block in message.content if block.type == "tool_use"]
        if calls:
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "done"} for call in calls]})
    assert [answer.stop_reason for answer in answers] == ["tool_use", "tool_use", "end_turn"]
    assert [block.name for block in answers[1].content if block.type == "tool_use"] == [MCP_TOOL]
    assert answers[2].content[0].text == "Sunny in Paris."
    assert len(llamacpp.requests) == 3
    check_sent(llamacpp, limit)
    assert llamacpp.requests[0].json["messages"][0] == {"role": "system", "content": "You are Claude Code."}


@pytest.mark.parametrize("stream", [True, False])
async def test_a_responses_sdk_tool_loop_of_three_turns_succeeds_on_a_llamacpp_server(
        frontend: TestServer, llamacpp: LlamaCppLike, stream: bool) -> None:
    client = openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0)
    items: list[dict] = [{"role": "user", "content": "Weather in Paris, then a screenshot?"}]
    llamacpp.push(Script(content="", tools=[("get_weather", {"city": "Paris"})]))
    outputs = []
    for turn in range(3):
        fields = dict(model=MODEL, input=items, tools=RESPONSES_TOOLS, max_output_tokens=20, store=False)
        if stream:
            async with client.responses.stream(**fields) as events:
                response = await events.get_final_response()
        else:
            response = await client.responses.create(**fields)
        outputs.append(response)
        if turn == 0:
            llamacpp.push(Script(content="", tools=[(short_name_sent(llamacpp), {"city": "Paris"})]))
            llamacpp.push(Script(content="Sunny in Paris."))
        for item in response.output:
            items.append(item.model_dump(exclude_none=True))
            if item.type == "function_call":
                items.append({"type": "function_call_output", "call_id": item.call_id, "output": "done"})
    calls = [[item.name for item in response.output if item.type == "function_call"] for response in outputs]
    assert calls == [["get_weather"], [MCP_TOOL], []]
    assert outputs[2].output_text == "Sunny in Paris." and outputs[2].status == "completed"
    assert len(llamacpp.requests) == 3
    check_sent(llamacpp, 20)
    assert json.loads(llamacpp.requests[1].json["messages"][1]["tool_calls"][0]["function"]["arguments"]) == {
        "city": "Paris"}

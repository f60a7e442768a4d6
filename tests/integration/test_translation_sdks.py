"""Both official SDKs through dario to a backend of the other format: text, tool calls, streams, round trips."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from frontend.translate.sse import SseParser
from tests.integration.conftest import async_analytics_rows, eventually

pytestmark = pytest.mark.timeout(120)
UNICODE = "héllo wörld ☃ 🚀"
WEATHER = ("get_weather", {"city": "Paris", "unit": "celsius"})
TIME = ("get_time", {"zone": "Europe/Paris"})
TOOLS_OPENAI = [{"type": "function", "function": {"name": name, "description": f"{name} tool", "parameters": {
    "type": "object", "properties": {key: {"type": "string"} for key in arguments}}}}
    for name, arguments in (WEATHER, TIME)]
TOOLS_ANTHROPIC = [{"name": tool["function"]["name"], "description": tool["function"]["description"],
                    "input_schema": tool["function"]["parameters"]} for tool in TOOLS_OPENAI]
CLAUDE, GPT = "claude-opus-5", "gpt-4o-mini"


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("translation") / "home") as started:
        started.add_backend("claude-up", upstream.base_url, "test-key-anthropic-0123456789", kind="anthropic")
        started.add_backend("gpt-up", upstream.base_url, "test-key-openai-0123456789", kind="openai")
        yield started


@pytest.fixture
async def frontend(both: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.scripts.clear()
    async with running_frontend(both.config) as server:
        await wait_for_backends(server, 2)
        yield server


def oai(server: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)


def ant(server: TestServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=str(server.make_url("")), api_key="dario", max_retries=0)


# --- OpenAI client → Anthropic backend -------------------------------------------------------------------------


async def test_openai_text_from_anthropic_backend_streamed_equals_whole(frontend: TestServer,
                                                                       upstream: ScriptedUpstream,
                                                                       both: Services) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    upstream.push(Script(content=UNICODE))
    whole = await oai(frontend).chat.completions.create(model=CLAUDE, messages=messages, stop=["END"])
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["x-api-key"] == "test-key-anthropic-0123456789"
    assert sent.json["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent.json["max_tokens"] == 4096 and sent.json["stop_sequences"] == ["END"]
    assert whole.choices[0].message.content == UNICODE and whole.choices[0].finish_reason == "stop"
    upstream.push(Script(content=UNICODE, split=1))
    stream = await oai(frontend).chat.completions.create(model=CLAUDE, messages=messages, stream=True,
                                                         stream_options={"include_usage": True})
    request_id = stream.response.headers["request-id"]
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == UNICODE
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    row = (await async_analytics_rows(both.home, [request_id]))[request_id]
    assert row["api_format"] == "openai" and row["backend"] == "claude-up" and row["output_tokens"] > 0


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_tool_calls_from_anthropic_backend(frontend: TestServer, upstream: ScriptedUpstream,
                                                        stream: bool) -> None:
    upstream.push(Script(content="Let me check.", tools=[WEATHER, TIME], split=3 if stream else None))
    request = {"model": CLAUDE, "messages": [{"role": "user", "content": "Weather and time in Paris?"}],
               "tools": TOOLS_OPENAI, "tool_choice": "required", "parallel_tool_calls": False}
    if stream:
        async with oai(frontend).chat.completions.stream(**request) as running:
            completion = await running.get_final_completion()
    else:
        completion = await oai(frontend).chat.completions.create(**request)
    sent = upstream.requests[-1].json
    assert sent["tools"][0]["input_schema"] == TOOLS_OPENAI[0]["function"]["parameters"]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Let me check."
    calls = [(call.function.name, json.loads(call.function.arguments)) for call in choice.message.tool_calls]
    assert calls == [WEATHER, TIME]


async def test_openai_tool_result_round_trip_reaches_anthropic_as_one_user_turn(frontend: TestServer,
                                                                               upstream: ScriptedUpstream) -> None:
    messages = [
        {"role": "user", "content": "Weather and time?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call.2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call.2", "content": "noon"},
    ]
    upstream.push(Script(content="Sunny at noon."))
    answer = await oai(frontend).chat.completions.create(model=CLAUDE, messages=messages, tools=TOOLS_OPENAI)
    assert answer.choices[0].message.content == "Sunny at noon."
    turns = upstream.requests[-1].json["messages"]
    assert [turn["role"] for turn in turns] == ["user", "assistant", "user"]
    assert [block["type"] for block in turns[1]["content"]] == ["tool_use", "tool_use"]
    assert turns[1]["content"][1]["input"] == {} and turns[1]["content"][1]["id"] == "call_2"
    assert [(b["tool_use_id"], b["content"]) for b in turns[2]["content"]] == [("call_1", "sunny"), ("call_2", "noon")]


async def test_openai_fields_anthropic_cannot_honour_are_refused_by_name(frontend: TestServer) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await oai(frontend).chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "x"}], n=2)
    assert caught.value.body["param"] == "n"


async def test_anthropic_error_reaches_openai_client_in_its_shape(frontend: TestServer,
                                                                 upstream: ScriptedUpstream) -> None:
    upstream.push(Script(status=429))
    with pytest.raises(openai.RateLimitError) as caught:
        await oai(frontend).chat.completions.create(model=CLAUDE, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["type"] == "rate_limit_error" and caught.value.body["code"] == "rate_limit_exceeded"
    assert caught.value.response.headers["anthropic-ratelimit-requests-limit"] == "4000"


# --- Anthropic client → OpenAI backend -------------------------------------------------------------------------


async def test_anthropic_text_from_openai_backend_streamed_equals_whole(frontend: TestServer,
                                                                       upstream: ScriptedUpstream,
                                                                       both: Services) -> None:
    request = {"model": GPT, "max_tokens": 200, "system": [{"type": "text", "text": "One."},
                                                           {"type": "text", "text": "Two."}],
               "messages": [{"role": "user", "content": "Say hello"}]}
    upstream.push(Script(content=UNICODE))
    whole = await ant(frontend).messages.create(**request)
    sent = upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == "Bearer test-key-openai-0123456789"
    assert sent.json["messages"][0] == {"role": "system", "content": "One.\n\nTwo."}
    upstream.push(Script(content=UNICODE, split=1))
    async with ant(frontend).messages.stream(**request) as stream:
        final = await stream.get_final_message()
        request_id = stream.response.headers["request-id"]
    assert upstream.requests[-1].json["stream_options"] == {"include_usage": True}
    assert final.content[0].text == whole.content[0].text == UNICODE
    assert final.stop_reason == whole.stop_reason == "end_turn"
    assert final.usage.output_tokens == whole.usage.output_tokens > 0
    row = (await async_analytics_rows(both.home, [request_id]))[request_id]
    assert row["api_format"] == "anthropic" and row["backend"] == "gpt-up" and row["output_tokens"] > 0


@pytest.mark.parametrize("tools", [[WEATHER], [WEATHER, TIME]])
async def test_anthropic_tool_use_from_openai_backend_streamed_equals_whole(frontend: TestServer,
                                                                           upstream: ScriptedUpstream,
                                                                           tools: list) -> None:
    request = {"model": GPT, "max_tokens": 200, "tools": TOOLS_ANTHROPIC, "tool_choice": {"type": "any"},
               "messages": [{"role": "user", "content": "Weather?"}]}
    upstream.push(Script(content="", tools=tools))
    whole = await ant(frontend).messages.create(**request)
    assert upstream.requests[-1].json["tool_choice"] == "required"
    upstream.push(Script(content="", tools=tools, seed_split=7))
    async with ant(frontend).messages.stream(**request) as stream:
        final = await stream.get_final_message()
    for message in (whole, final):
        assert message.stop_reason == "tool_use"
        assert [(block.name, block.input) for block in message.content if block.type == "tool_use"] == tools


async def test_anthropic_tool_result_round_trip_reaches_openai_as_tool_messages(frontend: TestServer,
                                                                               upstream: ScriptedUpstream) -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."},
                                          {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "boom",
                                      "is_error": True}, {"type": "text", "text": "Try again?"}]},
    ]
    upstream.push(Script(content="It failed."))
    answer = await ant(frontend).messages.create(model=GPT, max_tokens=50, tools=TOOLS_ANTHROPIC, messages=messages)
    assert answer.content[0].text == "It failed."
    sent = upstream.requests[-1].json["messages"]
    assert [message["role"] for message in sent] == ["user", "assistant", "tool", "user"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert sent[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: boom"}
    assert sent[3] == {"role": "user", "content": "Try again?"}


async def test_openai_error_reaches_anthropic_client_in_its_shape(frontend: TestServer,
                                                                 upstream: ScriptedUpstream) -> None:
    upstream.push(Script(status=429))
    with pytest.raises(anthropic.RateLimitError) as caught:
        await ant(frontend).messages.create(model=GPT, max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert caught.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": caught.value.body[
        "error"]["message"]}}
    assert "Rate limit" in caught.value.body["error"]["message"]


async def test_claude_code_shaped_stream_reaches_an_openai_backend(frontend: TestServer,
                                                                   upstream: ScriptedUpstream) -> None:
    """What Claude Code sends (?beta=true, beta list, cached system blocks, thinking, context_management,
    metadata JSON, tools, streaming) to a model routed to an OpenAI-format backend."""
    upstream.push(Script(content="", tools=[("Bash", {"command": "ls -la"})], seed_split=3))
    async with ant(frontend).messages.stream(
        model=GPT, max_tokens=32000,
        system=[{"type": "text", "text": "You are Claude Code."},
                {"type": "text", "text": "Env: linux", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "list files",
                                                "cache_control": {"type": "ephemeral"}}]}],
        tools=[{"name": "Bash", "description": "Run a command", "input_schema": {
            "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}],
        thinking={"type": "enabled", "budget_tokens": 4000},
        metadata={"user_id": '{"device_id":"d","account_uuid":"a","session_id":"s"}'},
        extra_headers={"anthropic-beta": "claude-code-20250219,context-management-2025-06-27"},
        extra_body={"context_management": {"edits": [{"type": "clear_thinking_20251015"}]}},
        extra_query={"beta": "true"},
    ) as stream:
        final = await stream.get_final_message()
        dropped = stream.response.headers.get("x-dario-translation-dropped", "")
    assert final.stop_reason == "tool_use"
    assert [(block.name, block.input) for block in final.content if block.type == "tool_use"] == [
        ("Bash", {"command": "ls -la"})]
    sent = upstream.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "You are Claude Code.\n\nEnv: linux"}
    assert sent["messages"][1] == {"role": "user", "content": "list files"}
    assert "context_management" not in sent and "thinking" not in sent and "cache_control" not in json.dumps(sent)
    assert len(sent["user"]) == 64 and sent["stream_options"] == {"include_usage": True}
    assert dropped == "thinking"


async def test_client_that_disconnects_from_a_translated_stream_cancels_the_upstream(
    frontend: TestServer, upstream: ScriptedUpstream, both: Services
) -> None:
    upstream.push(Script(content="x" * 4000, split=60, chunk_delay=0.05))
    disconnects_before = upstream.disconnects
    async with aiohttp.ClientSession() as session:
        answer = await session.post(frontend.make_url("/v1/messages"), json={
            "model": GPT, "max_tokens": 10, "stream": True, "messages": [{"role": "user", "content": "go"}]})
        request_id = answer.headers["request-id"]
        assert b"message_start" in await answer.content.readuntil(b"\n\n")
        answer.close()
    row = (await async_analytics_rows(both.home, [request_id]))[request_id]
    assert row["status"] == 499 and row["error_type"] == "client_disconnected"
    # The row is recorded as the client leaves; the upstream sees its connection closed on its next write.
    await eventually(lambda: upstream.disconnects > disconnects_before, "the upstream never saw the cancel")


async def test_a_silent_upstream_gets_the_client_keepalive_pings(frontend: TestServer, upstream: ScriptedUpstream,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("frontend.upstream.translated.PING_SECONDS", 0.2)
    upstream.push(Script(content="late answer", split=400, chunk_delay=0.6))
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/messages"), json={
                "model": GPT, "max_tokens": 10, "stream": True,
                "messages": [{"role": "user", "content": "go"}]}) as answer:
            body = await answer.read()
    assert body.count(b"event: ping") >= 2
    assert body.index(b"message_start") < body.index(b"event: ping") < body.index(b"message_stop")
    events = SseParser().feed(body)
    deltas = [json.loads(event.data)["delta"] for event in events if event.name == "content_block_delta"]
    assert "".join(delta.get("text", "") for delta in deltas) == "late answer"

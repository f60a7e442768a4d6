"""POST /v1/responses with the official openai SDK: translated to Chat Completions and to Anthropic Messages
(streaming and not, a tool call and its result), passed through to a backend that serves /responses, and the
server-side state dario does not keep refused by name."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import aiohttp
import openai
import pytest
from aiohttp.test_utils import TestServer

from dario.json_types import JsonArray
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
WEATHER = ("get_weather", {"city": "Paris"})
# JSON as a client sends it: without "strict", which the SDK's FunctionToolParam requires.
TOOLS: JsonArray = [{"type": "function", "name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
CONFIG = """
[[routes]]
match = "via-chat-*"
backend = "chat"

[[routes]]
match = "via-claude-*"
backend = "claude"
model = "claude-opus-5"

[[routes]]
match = "native-*"
backend = "native"
"""


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("responses") / "home"
    home.mkdir(mode=0o700, parents=True)
    (home / "config.toml").write_text(CONFIG)
    with running_services(home) as started:
        started.add_backend("chat", upstream.base_url, "test-key-chat-0123456789", kind="openai")
        started.add_backend("claude", upstream.base_url, "test-key-claude-0123456789", kind="anthropic")
        started.add_backend("native", upstream.base_url, "test-key-native-0123456789", kind="openai-responses")
        yield started


@pytest.fixture
async def frontend(services: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 3)
        yield server


def client(server: TestServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(server.make_url("/v1")), api_key="dario", max_retries=0)


@pytest.mark.parametrize(("model", "upstream_path"), [("via-chat-gpt", "/v1/chat/completions"),
                                                       ("via-claude-x", "/v1/messages")])
async def test_text_answer_whole_and_streamed(frontend: TestServer, upstream: ScriptedUpstream,
                                              services: Services, model: str, upstream_path: str) -> None:
    upstream.push(Script(content="Bonjour ☃ from the other side"), Script(content="Bonjour ☃ from the other side",
                                                                         split=7))
    sdk = client(frontend)
    raw = await sdk.responses.with_raw_response.create(model=model, instructions="Be brief.", input="Say bonjour")
    whole = raw.parse()
    assert whole.output_text == "Bonjour ☃ from the other side"
    assert whole.status == "completed" and whole.model == model and whole.usage.output_tokens > 0
    sent = upstream.requests[-1]
    assert sent.path == upstream_path
    async with sdk.responses.stream(model=model, instructions="Be brief.", input="Say bonjour") as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_response()
    assert final.output_text == whole.output_text
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    first = upstream.requests[0].json
    system = first["system"] if upstream_path == "/v1/messages" else first["messages"][0]["content"]
    assert "Be brief." in json.dumps(system)
    request_id = raw.headers["request-id"]
    row = (await async_analytics_rows(services.home, [request_id]))[request_id]
    assert row["api_format"] == "responses" and row["status"] == 200
    assert row["output_tokens"] == whole.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["via-chat-gpt", "via-claude-x"])
async def test_a_tool_call_and_its_result_round_trip(frontend: TestServer, upstream: ScriptedUpstream,
                                                     model: str) -> None:
    upstream.push(Script(tools=[WEATHER], split=5), Script(content="It is sunny in Paris."))
    sdk = client(frontend)
    async with sdk.responses.stream(model=model, input="Weather in Paris?", tools=TOOLS) as stream:
        async for _ in stream:
            pass
        first = await stream.get_final_response()
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    follow_up = [{"role": "user", "content": "Weather in Paris?"},
                 {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
                 {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21°C"}]
    answer = await sdk.responses.create(model=model, input=follow_up, tools=TOOLS)
    assert answer.output_text == "It is sunny in Paris."
    sent = upstream.requests[-1].json
    text = json.dumps(sent, ensure_ascii=False)
    assert call.call_id in text and "sunny, 21°C" in text


async def test_server_side_state_is_refused_by_name(frontend: TestServer) -> None:
    sdk = client(frontend)
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(model="via-chat-gpt", input="hi", previous_response_id="resp_123")
    assert raised.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(model="via-claude-x", input="hi", store=True)
    assert raised.value.body["param"] == "store"
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(model="via-chat-gpt", input="hi", tools=[{"type": "web_search"}],
                                   tool_choice={"type": "web_search"})
    assert raised.value.body["param"] == "tool_choice"  # forced to use a tool that runs on OpenAI's servers


async def test_a_built_in_tool_is_dropped_and_said_so(frontend: TestServer) -> None:
    raw = await client(frontend).responses.with_raw_response.create(
        model="via-claude-x", input="hi", tools=[{"type": "web_search"}, TOOLS[0]])
    assert raw.parse().status == "completed"
    assert "tools[0] (web_search)" in raw.headers["x-dario-translation-dropped"]


async def test_an_openai_responses_backend_gets_the_request_unchanged(frontend: TestServer,
                                                                      upstream: ScriptedUpstream) -> None:
    body = {"model": "native-model", "input": [{"role": "user", "content": "hi"}], "store": True,
            "previous_response_id": "resp_abc", "tools": [{"type": "web_search"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(frontend.make_url("/v1/responses"), json=body) as answer:
            status, document = answer.status, await answer.json()
    sent = upstream.requests[-1]
    assert sent.path == "/v1/responses" and sent.json == body  # state and built-in tools are the backend's
    assert sent.headers["Authorization"] == "Bearer test-key-native-0123456789"
    assert status == 200 and document["object"] == "response"  # the backend's own answer, as it came
    assert document["output"][0]["content"][0]["text"].startswith("Hello from scripted upstream")

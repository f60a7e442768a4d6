"""The Responses API's local_shell tool through the real frontend to translated backends, with the official openai
SDK: the model's shell call reaches the client as a local_shell_call item (streamed and whole), the client sends
it back with its output, and the upstream saw a local_shell function and then the call and its tool result."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
from aiohttp.test_utils import TestServer
from openai.types.responses import Response

from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends

pytestmark = pytest.mark.timeout(120)
ACTION = {"command": ["bash", "-lc", "ls -la ☃"], "timeout_ms": 10000, "working_directory": "/work"}
CONFIG = """
[[routes]]
match = "via-chat-*"
backend = "chat"

[[routes]]
match = "via-claude-*"
backend = "claude"
model = "claude-opus-5"
"""


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Services]:
    home = tmp_path_factory.mktemp("local_shell") / "home"
    home.mkdir(mode=0o700, parents=True)
    (home / "config.toml").write_text(CONFIG)
    with running_services(home) as started:
        started.add_backend("chat", upstream.base_url, "test-key-chat-0123456789", kind="openai")
        started.add_backend("claude", upstream.base_url, "test-key-claude-0123456789", kind="anthropic")
        yield started


@pytest.fixture
async def frontend(services: Services, upstream: ScriptedUpstream) -> AsyncIterator[TestServer]:
    upstream.clear()
    async with running_frontend(services.config) as server:
        await wait_for_backends(server, 2)
        yield server


async def answer_to(sdk: openai.AsyncOpenAI, model: str, history: str | list,
                    stream: bool) -> tuple[Response, list[str]]:
    """The answer to a request declaring the local_shell tool, and its stream's event kinds (none when whole)."""
    if not stream:
        return await sdk.responses.create(model=model, input=history, tools=[{"type": "local_shell"}]), []
    async with sdk.responses.stream(model=model, input=history, tools=[{"type": "local_shell"}]) as events:
        kinds: list[str] = [event.type async for event in events]
        return await events.get_final_response(), kinds


@pytest.mark.parametrize(("model", "upstream_path"), [("via-chat-gpt", "/v1/chat/completions"),
                                                       ("via-claude-x", "/v1/messages")])
@pytest.mark.parametrize("stream", [True, False])
async def test_a_shell_call_and_its_output_round_trip(frontend: TestServer, upstream: ScriptedUpstream,
                                                      model: str, upstream_path: str, stream: bool) -> None:
    upstream.push(Script(content="Listing them.", tools=[("local_shell", ACTION)], split=9),
                  Script(content="You have one file, a.txt.", split=5))
    async with openai.AsyncOpenAI(base_url=str(frontend.make_url("/v1")), api_key="dario", max_retries=0) as sdk:
        first, kinds = await answer_to(sdk, model, "List my files.", stream)
        assert [item.type for item in first.output] == ["message", "local_shell_call"]
        call = first.output[1]
        assert call.type == "local_shell_call" and call.status == "completed" and call.call_id
        assert call.action.model_dump(exclude_none=True) == {"type": "exec", "env": {}, **ACTION}
        if stream:
            assert kinds.count("response.output_item.added") == kinds.count("response.output_item.done") == 2
            assert "response.function_call_arguments.delta" not in kinds and kinds[-1] == "response.completed"
        # The client runs the command and sends the call back with its output (named by call_id as OpenAI's guide
        # does, or by id as the SDK's type does).
        output = {"type": "local_shell_call_output", "output": '{"output": "a.txt\\n", "exit_code": 0}',
                  ("call_id" if stream else "id"): call.call_id}
        history = [{"role": "user", "content": "List my files."}, call.model_dump(exclude_none=True), output]
        answer, _ = await answer_to(sdk, model, history, stream)
    assert answer.output_text == "You have one file, a.txt." and answer.status == "completed"

    asked, answered = (recorded.json for recorded in upstream.requests[-2:])
    assert [recorded.path for recorded in upstream.requests[-2:]] == [upstream_path, upstream_path]
    if upstream_path == "/v1/chat/completions":
        [tool] = asked["tools"]
        assert tool["type"] == "function" and tool["function"]["name"] == "local_shell"
        assert tool["function"]["parameters"]["required"] == ["command"]
        assistant, result = answered["messages"][1:]
        [sent_call] = assistant["tool_calls"]
        assert sent_call["id"] == call.call_id and sent_call["function"]["name"] == "local_shell"
        assert json.loads(sent_call["function"]["arguments"]) == ACTION
        assert result == {"role": "tool", "tool_call_id": call.call_id, "content": output["output"]}
    else:
        [tool] = asked["tools"]
        assert tool["name"] == "local_shell" and tool["input_schema"]["required"] == ["command"]
        [use] = [block for block in answered["messages"][1]["content"] if block["type"] == "tool_use"]
        assert (use["name"], use["input"]) == ("local_shell", ACTION)
        [result] = [block for block in answered["messages"][2]["content"] if block["type"] == "tool_result"]
        content = result["content"]
        text = content if isinstance(content, str) else "".join(block.get("text", "") for block in content)
        assert result["tool_use_id"] == use["id"] and text == output["output"]

"""Thinking through dario from an OpenAI-compatible upstream that reasons (issue 16 item 6): an Anthropic client
gets thinking blocks only when it enabled thinking, the same streamed and whole."""

from __future__ import annotations

import anthropic
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import chat_quirks
from dario.testing.scripted_upstream import Script, ScriptedUpstream

pytestmark = pytest.mark.timeout(120)
MODEL = "gpt-4o-mini"  # served by the openai backend "gpt" of both_kinds
REASONING, ANSWER = "Greeting requested; answer briefly.", "Hello!"
QUESTION = [{"role": "user", "content": "Say hello."}]


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}, {"type": "enabled", "budget_tokens": 1024}])
async def test_thinking_blocks_follow_the_clients_setting_streamed_and_whole(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream, thinking: dict | None) -> None:
    client = anthropic.AsyncAnthropic(base_url=str(both_kinds_frontend.make_url("")), api_key="d", max_retries=0)
    request = {"model": MODEL, "max_tokens": 2048, "messages": QUESTION, **({"thinking": thinking} if thinking else {})}
    upstream.push(Script(content=ANSWER, rewrite=chat_quirks.with_reasoning(REASONING)),
                  Script(content=ANSWER, rewrite=chat_quirks.with_reasoning(REASONING), split=1))
    whole = await client.messages.create(**request)
    async with client.messages.stream(**request) as stream:
        streamed = await stream.get_final_message()
    assert [block.model_dump() for block in whole.content] == [block.model_dump() for block in streamed.content]
    kinds = [block.type for block in whole.content]
    if thinking and thinking["type"] == "enabled":
        assert kinds == ["thinking", "text"] and whole.content[0].thinking == REASONING
        assert whole.content[0].signature  # never empty: the client sends it back as is
    else:
        assert kinds == ["text"]


async def test_thinking_from_an_openai_backend_is_not_sent_to_an_anthropic_one(
        both_kinds_frontend: TestServer, upstream: ScriptedUpstream) -> None:
    """A conversation whose first turn an OpenAI-compatible backend served (its thinking carries dario's signature)
    goes on with a Claude model: the block Anthropic could not verify stays out (item 8)."""
    client = anthropic.AsyncAnthropic(base_url=str(both_kinds_frontend.make_url("")), api_key="d", max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    upstream.push(Script(content=ANSWER, rewrite=chat_quirks.with_reasoning(REASONING)))
    first = await client.messages.create(model=MODEL, max_tokens=2048, messages=QUESTION, thinking=thinking)
    history = [*QUESTION, {"role": "assistant", "content": [block.model_dump() for block in first.content]},
               {"role": "user", "content": "And again?"}]
    raw = await client.messages.with_raw_response.create(model="claude-sonnet-4-5", max_tokens=2048,
                                                         messages=history, thinking=thinking)
    sent = upstream.requests[-1]
    assert sent.path == "/v1/messages" and raw.headers["x-dario-translation-dropped"] == "thinking_blocks"
    assert [block["type"] for block in sent.json["messages"][1]["content"]] == ["text"]
    assert sent.json["thinking"] == thinking  # the last turn calls no tool: thinking stays on

"""Thinking blocks signed for another model or account (issue 16): Claude Code switched model, or the pool failed
over to another account, and Anthropic refuses the whole request with a 400 ("Invalid `signature` in `thinking`
block"). dario sends it once more, to the same credential, without the thinking blocks (and without `thinking`
when the last assistant turn would then start with its tool_use), and says so in x-dario-thinking-dropped; a
request whose blocks the upstream made goes once, untouched, and another 400 is passed back as it came.

The upstream here signs as Anthropic does, for itself only: a block it did not make is refused with Anthropic's
own error body, and so is a tool turn that lost its thinking while thinking is enabled."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing import anthropic_wire, raw_quirks
from dario.testing.raw_quirks import RawRequest, RawUpstream
from dario.testing.stack import Services, running_frontend, running_services, wait_for_backends
from dario.testing.threaded import Threaded
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)
MODEL = "claude-sonnet-4-5-20250929"
KEY = "sk-ant-test-thinking-0123456789abcdef"
THINKING = {"type": "enabled", "budget_tokens": 1024}


def signature(thinking: str, account: str = "this-account") -> str:
    return "Eo" + hashlib.sha256(f"{account}|{thinking}".encode()).hexdigest()


def anthropic_error(status: int, message: str) -> bytes:
    return raw_quirks.json_answer(status, {"type": "error", "error": {"type": "invalid_request_error",
                                                                      "message": message},
                                           "request_id": "req_011CUdL49e3Fu9bCKbWF6cXD"})


def refusal(document: dict[str, Any]) -> bytes | None:
    """Anthropic's 400s this upstream gives: a thinking block it did not sign, a tool turn without its thinking."""
    messages = document["messages"]
    for number, message in enumerate(messages):
        if message["role"] != "assistant" or not isinstance(message["content"], list):
            continue
        for index, block in enumerate(message["content"]):
            if block["type"] == "thinking" and block.get("signature") != signature(block["thinking"]) or \
                    block["type"] == "redacted_thinking" and block.get("data") != signature("redacted"):
                return anthropic_error(400, f"messages.{number}.content.{index}: Invalid `signature` in "
                                            f"`{block['type']}` block")
    thinking = document.get("thinking") or {}
    if thinking.get("type") == "enabled":
        if document["max_tokens"] <= thinking["budget_tokens"]:
            return anthropic_error(400, "`max_tokens` must be greater than `thinking.budget_tokens`. Please "
                                        "consult our documentation at https://docs.claude.com/")
        last = [number for number, message in enumerate(messages) if message["role"] == "assistant"]
        content = messages[last[-1]]["content"] if last else []
        if last and isinstance(content, list) and any(block["type"] == "tool_use" for block in content) and \
                content[0]["type"] not in ("thinking", "redacted_thinking"):
            return anthropic_error(400, f"messages.{last[-1]}.content.0.type: Expected `thinking` or "
                                        f"`redacted_thinking`, but found `{content[0]['type']}`. When `thinking` "
                                        "is enabled, a final `assistant` message must start with a thinking block")
    return None


def answer(request: RawRequest) -> bytes:
    if request.path != "/v1/messages":
        return anthropic_error(404, "Not found")
    document = request.json
    refused = refusal(document)
    if refused is not None:
        return refused
    if document.get("stream"):
        return raw_quirks.whole_stream("anthropic")
    message = anthropic_wire.message(document["model"], "Done.", anthropic_wire.usage(5, 2))
    if document.get("thinking"):
        reasoning = f"Thinking about turn {len(document['messages'])}."
        message["content"] = [{"type": "thinking", "thinking": reasoning, "signature": signature(reasoning)},
                              *message["content"]]
    return raw_quirks.json_answer(200, message)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, RawUpstream]]:
    with Threaded(RawUpstream(answer), name="raw-thinking") as raw, \
            running_services(tmp_path_factory.mktemp("thinking-switch") / "home") as services:
        services.add_backend("claude", raw.base_url, KEY, kind="anthropic")
        yield services, raw


@pytest.fixture
async def frontend(stack: tuple[Services, RawUpstream]) -> AsyncIterator[TestServer]:
    stack[1].requests.clear()
    async with running_frontend(stack[0].config) as server:
        await wait_for_backends(server, 1)
        yield server


CLAUDE_CODE_HEADERS = {"anthropic-version": "2023-06-01", "user-agent": "claude-cli/2.0.29 (external, cli)",
                       "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
                       "content-type": "application/json", "x-app": "cli"}
TOOL_USE = {"type": "tool_use", "id": "toolu_01A", "name": "Read", "input": {"file_path": "README.md"}}


def claude_code_request(*assistant: dict[str, Any]) -> dict[str, Any]:
    """A tool loop as Claude Code sends it: streamed, thinking on, its tools, the assistant turn that called one."""
    return {"model": MODEL, "max_tokens": 32000, "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 31999},
            "system": [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude.",
                        "cache_control": {"type": "ephemeral"}}],
            "tools": [{"name": "Read", "description": "Reads a file from the local filesystem.",
                       "input_schema": {"type": "object", "properties": {"file_path": {"type": "string"}},
                                        "required": ["file_path"]}}],
            "metadata": {"user_id": "user_0123_account__session_4d1c3b1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What does README.md say?"}]},
                         {"role": "assistant", "content": list(assistant)},
                         {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01A",
                                                       "content": "# dario\nA local LLM router."}]}]}


async def post(server: TestServer, body: bytes, query: str = "") -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/v1/messages" + query), data=body,
                                headers=CLAUDE_CODE_HEADERS) as reply:
            return reply.status, await reply.read(), dict(reply.headers)


def blocks(document: dict[str, Any]) -> list[list[str]]:
    return [[block["type"] for block in message["content"]] for message in document["messages"]
            if message["role"] == "assistant"]


async def test_a_claude_code_tool_loop_with_another_models_signature_is_sent_again_without_it(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    services, raw = stack
    foreign = {"type": "thinking", "thinking": "Read the file first.", "signature": signature("x", "other-model")}
    request = claude_code_request(foreign, TOOL_USE)
    status, body, headers = await post(frontend, json.dumps(request).encode(), "?beta=true")
    assert status == 200, body
    assert b"message_stop" in body and b"Invalid" not in body
    assert headers["x-dario-thinking-dropped"] == "1"
    assert headers["x-dario-translation-dropped"] == "thinking"  # the tool turn lost its thinking: thinking off
    first, second = raw.requests
    assert first.json == request and first.query == second.query == "beta=true"
    assert blocks(second.json) == [["tool_use"]] and "thinking" not in second.json
    assert {name: value for name, value in second.json.items() if name not in ("messages", "thinking")} == \
        {name: value for name, value in request.items() if name not in ("messages", "thinking")}
    assert second.headers["x-api-key"] == KEY and second.headers["anthropic-beta"] == CLAUDE_CODE_HEADERS[
        "anthropic-beta"]
    row = (await async_analytics_rows(services.home, [headers["request-id"]]))[headers["request-id"]]
    assert (row["status"], row["attempts"], row["credential"]) == (200, 2, "default")
    assert row["failover"] == "default:thinking_signature"


async def test_a_whole_answer_keeps_thinking_when_the_last_turn_calls_no_tool(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    raw = stack[1]
    foreign = {"type": "thinking", "thinking": "Hm.", "signature": signature("Hm.", "other-account")}
    redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"}
    request = {"model": MODEL, "max_tokens": 2048, "thinking": THINKING, "messages": [
        {"role": "user", "content": "Hello"}, {"role": "assistant", "content": [foreign, redacted, {
            "type": "text", "text": "Hi."}]}, {"role": "user", "content": "And now?"}]}
    status, body, headers = await post(frontend, json.dumps(request).encode())
    assert status == 200, body
    assert headers["x-dario-thinking-dropped"] == "2" and "x-dario-translation-dropped" not in headers
    assert [block["type"] for block in json.loads(body)["content"]] == ["thinking", "text"]
    assert len(raw.requests) == 2
    assert blocks(raw.requests[1].json) == [["text"]] and raw.requests[1].json["thinking"] == THINKING


async def test_blocks_the_upstream_signed_go_once_untouched(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    raw = stack[1]
    question = [{"role": "user", "content": "Hello"}]
    status, body, _ = await post(frontend, json.dumps({"model": MODEL, "max_tokens": 2048, "thinking": THINKING,
                                                       "messages": question}).encode())
    assert status == 200, body
    turn = {"role": "assistant", "content": json.loads(body)["content"]}
    assert turn["content"][0]["type"] == "thinking"
    again = json.dumps({"model": MODEL, "max_tokens": 2048, "thinking": THINKING,
                        "messages": [*question, turn, {"role": "user", "content": "More?"}]}).encode()
    raw.requests.clear()
    status, body, headers = await post(frontend, again)
    assert status == 200, body
    assert [request.body for request in raw.requests] == [again]  # once, byte for byte
    assert "x-dario-thinking-dropped" not in headers


async def test_another_400_of_a_request_with_thinking_blocks_is_passed_back_as_it_came(
        frontend: TestServer, stack: tuple[Services, RawUpstream]) -> None:
    raw = stack[1]
    request = claude_code_request({"type": "thinking", "thinking": "ok", "signature": signature("ok")}, TOOL_USE)
    request["max_tokens"] = 1000  # not above the budget: Anthropic's 400 of another kind
    status, body, headers = await post(frontend, json.dumps(request).encode())
    assert status == 400
    error = json.loads(body)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"].startswith("`max_tokens` must be greater than `thinking.budget_tokens`")
    assert len(raw.requests) == 1 and "x-dario-thinking-dropped" not in headers

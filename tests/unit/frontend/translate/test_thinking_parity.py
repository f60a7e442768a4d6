"""Thinking as the client asked for it, the same streamed and whole (issue 16 item 6): an Anthropic client gets
thinking blocks (with dario's signature) only when it enabled thinking; a Chat client gets reasoning_content only
when it asked with reasoning_effort; the same upstream content gives the same blocks either way."""

from __future__ import annotations

import json

import pytest

from dario.testing import anthropic_wire, openai_wire
from frontend.translate.anthropic_answer_to_chat import to_chat_completion
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.chat_answer_to_anthropic import SYNTHETIC_SIGNATURE, to_anthropic_message
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.sse import SseParser
from tests.unit.frontend.translate.stream_checks import run

REASONING, ANSWER = "The user wants a greeting; keep it short.", "Hello there!"


def chat_stream(reasoning: str, content: str) -> bytes:
    chunks = [{"role": "assistant", "content": ""}]
    chunks += [{"reasoning_content": reasoning[start:start + 5]} for start in range(0, len(reasoning), 5)]
    chunks += [{"content": content[start:start + 3]} for start in range(0, len(content), 3)]
    body = b"".join(openai_wire.sse({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "r1",
                                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                    for delta in chunks)
    body += openai_wire.sse({"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "r1",
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return body + b"data: [DONE]\n\n"


def chat_completion(reasoning: str, content: str) -> dict:
    completion = openai_wire.completion("r1", content, openai_wire.usage(10, 20))
    completion["choices"][0]["message"]["reasoning_content"] = reasoning
    return completion


def anthropic_blocks(output: bytes) -> list[dict]:
    """An Anthropic client stream accumulated into the message's content blocks."""
    blocks: list[dict] = []
    for event in SseParser().feed(output):
        data = json.loads(event.data)
        if event.name == "content_block_start":
            blocks.append(dict(data["content_block"]))
        elif event.name == "content_block_delta":
            delta, block = data["delta"], blocks[data["index"]]
            for kind, field in (("text_delta", "text"), ("thinking_delta", "thinking"),
                                ("signature_delta", "signature")):
                if delta["type"] == kind:
                    block[field] = block.get(field, "") + delta[field]
    return blocks


@pytest.mark.parametrize("thinking", [True, False])
def test_a_chat_upstream_reasoning_gives_the_same_blocks_streamed_and_whole(thinking: bool) -> None:
    streamed = anthropic_blocks(run(ChatToAnthropicStream("m", thinking=thinking), [chat_stream(REASONING, ANSWER)]))
    whole = to_anthropic_message(chat_completion(REASONING, ANSWER), "m", thinking=thinking)["content"]
    assert streamed == whole
    if thinking:
        assert whole[0] == {"type": "thinking", "thinking": REASONING, "signature": SYNTHETIC_SIGNATURE}
    else:  # no thinking block at all, never one with an empty signature
        assert [block["type"] for block in whole] == ["text"]


def anthropic_thinking_stream() -> bytes:
    text = anthropic_wire.stream_events("claude", ANSWER, anthropic_wire.usage(10, 20))
    thinking = b"".join([
        anthropic_wire.event("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "thinking", "thinking": "", "signature": ""}}),
        anthropic_wire.event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "thinking_delta", "thinking": REASONING}}),
        anthropic_wire.event("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {
            "type": "signature_delta", "signature": "sig"}}),
        anthropic_wire.event("content_block_stop", {"type": "content_block_stop", "index": 0})])
    start = text.index(b"event: content_block_start")
    return text[:start] + thinking + text[start:].replace(b'"index": 0', b'"index": 1')


def chat_message(output: bytes) -> dict:
    message: dict = {}
    for event in SseParser().feed(output):
        if event.data == "[DONE]":
            continue
        for choice in json.loads(event.data)["choices"]:
            for field in ("content", "reasoning_content"):
                if choice["delta"].get(field):
                    message[field] = message.get(field, "") + choice["delta"][field]
    return message


@pytest.mark.parametrize("asked", [True, False])
def test_an_anthropic_upstream_thinking_reaches_chat_clients_only_when_asked(asked: bool) -> None:
    streamed = chat_message(run(AnthropicToChatStream("m", False, include_reasoning=asked),
                                [anthropic_thinking_stream()]))
    message = anthropic_wire.message("claude", ANSWER, anthropic_wire.usage(10, 20))
    message["content"].insert(0, {"type": "thinking", "thinking": REASONING, "signature": "sig"})
    whole = to_chat_completion(message, "m", include_reasoning=asked)["choices"][0]["message"]
    assert streamed["content"] == whole["content"] == ANSWER
    assert streamed.get("reasoning_content") == whole.get("reasoning_content") == (REASONING if asked else None)

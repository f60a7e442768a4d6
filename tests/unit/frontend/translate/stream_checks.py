"""What the stream machine tests share: a text with multi-byte characters, tool calls, and each client API's
stream accumulated the way its SDK does, with the grammar checked."""

from __future__ import annotations

import json

from dario.json_types import JsonObject
from frontend.translate.sse import SseParser
from frontend.upstream.relay import StreamMachine

TEXT = "héllo wörld ☃ 🚀 " * 3
TOOLS: list[tuple[str, JsonObject]] = [("get_weather", {"city": "Paris", "note": "ünïcode ☃"}), ("get_time", {}),
                                       ("noop", {"deep": {"a": [1, 2]}})]


def run(machine: StreamMachine, pieces: list[bytes]) -> bytes:
    return b"".join(machine.feed(piece) for piece in pieces) + machine.finish()


def openai_result(output: bytes) -> tuple[str, list, str | None, dict | None, bool]:
    """Accumulates an OpenAI client stream the way the SDK does; checks its invariants."""
    calls: dict[int, dict[str, str]] = {}
    text, finish, usage, done = "", None, None, False
    for event in SseParser().feed(output):
        if event.data == "[DONE]":
            done = True
            continue
        chunk = json.loads(event.data)
        assert chunk["object"] == "chat.completion.chunk"
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                entry = calls.setdefault(call["index"], {"name": "", "arguments": ""})
                if "id" in call:
                    assert "id" not in entry, "a tool call id was sent twice"
                    entry["id"] = call["id"]
                entry["name"] += call.get("function", {}).get("name", "")
                entry["arguments"] += call.get("function", {}).get("arguments", "")
            finish = choice.get("finish_reason") or finish
    ordered = [calls[index] for index in sorted(calls)]
    assert sorted(calls) == list(range(len(calls))), "tool indexes must run 0..k-1"
    return text, [(c["name"], json.loads(c["arguments"])) for c in ordered], finish, usage, done


def anthropic_result(output: bytes) -> tuple[str, list, str | None, dict]:
    """Accumulates an Anthropic client stream the way the SDK does; checks the event grammar."""
    events = SseParser().feed(output)
    names = [event.name for event in events]
    assert names[0] == "message_start" and names[-1] == "message_stop"
    assert names.count("message_start") == names.count("message_stop") == 1
    blocks: list[dict] = []
    open_index, stop, usage = None, None, {}
    for event in events:
        data = json.loads(event.data)
        assert data["type"] == event.name, "every event carries its name on an event: line"
        if event.name == "content_block_start":
            assert open_index is None and data["index"] == len(blocks), "one block at a time, indexes 0..n-1"
            open_index = data["index"]
            blocks.append(dict(data["content_block"], partial=""))
        elif event.name == "content_block_delta":
            assert data["index"] == open_index
            delta = data["delta"]
            block = blocks[open_index]
            block["text" if delta["type"] == "text_delta" else "partial"] = (
                block.get("text", "") + delta["text"] if delta["type"] == "text_delta"
                else block["partial"] + delta.get("partial_json", ""))
        elif event.name == "content_block_stop":
            assert data["index"] == open_index
            open_index = None
        elif event.name == "message_delta":
            stop, usage = data["delta"]["stop_reason"], data["usage"]
    assert open_index is None
    text = "".join(block.get("text", "") for block in blocks if block["type"] == "text")
    tools = [(block["name"], json.loads(block["partial"] or "{}")) for block in blocks if block["type"] == "tool_use"]
    return text, tools, stop, usage

"""Anthropic upstream stream → OpenAI client stream, one state machine per request (TRANSLATION.md §7.2).

Fed upstream bytes split anywhere; returns client bytes. `finish()` at end of input closes the stream properly,
or with an in-band error if the upstream never sent message_stop.
"""

from __future__ import annotations

import json
import time

from frontend.translate.responses import OPENAI_ERRORS, finish_reason, openai_usage
from frontend.translate.sse import Event, SseParser

DONE = b"data: [DONE]\n\n"


def _sse(document: dict) -> bytes:
    return b"data: " + json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class ToOpenAIStream:
    def __init__(self, model: str, include_usage: bool, include_reasoning: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.include_reasoning = include_reasoning
        self.parser = SseParser()
        self.id = "chatcmpl-dario"
        self.created = int(time.time())
        self.blocks: dict[int, list] = {}  # anthropic index → [kind, openai tool index, arguments emitted]
        self.tool_count = 0
        self.usage: dict = {}
        self.stop_reason: str | None = None
        self.started = False
        self.finished = False

    def feed(self, chunk: bytes) -> bytes:
        return b"".join(self._event(event) for event in self.parser.feed(chunk) if not self.finished)

    def finish(self) -> bytes:
        out = b"".join(self._event(event) for event in self.parser.finish() if not self.finished)
        if not self.finished:
            out += self._error("server_error", "upstream stream ended prematurely", None)
        return out

    def _chunk(self, delta: dict, finish: str | None = None) -> bytes:
        document = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if self.include_usage:
            document["usage"] = None
        return _sse(document)

    def _error(self, error_type: str, message: str, code: str | None) -> bytes:
        self.finished = True
        return _sse({"error": {"message": message, "type": error_type, "param": None, "code": code}})

    def _event(self, event: Event) -> bytes:
        try:
            data = json.loads(event.data)
        except ValueError:
            return self._error("server_error", "upstream sent an event that is not JSON", None)
        kind = data.get("type") if isinstance(data, dict) else None
        handler = getattr(self, f"_on_{kind}", None)
        return handler(data) if handler is not None else b""  # unknown events are ignored, as the docs ask

    def _on_message_start(self, data: dict) -> bytes:
        message = data.get("message") or {}
        self.id = "chatcmpl-" + str(message.get("id", "dario"))
        self.usage = dict(message.get("usage") or {})
        self.started = True
        return self._chunk({"role": "assistant", "content": ""})

    def _on_ping(self, data: dict) -> bytes:
        return b": ping\n\n"

    def _on_content_block_start(self, data: dict) -> bytes:
        block = data.get("content_block") or {}
        index = data.get("index", len(self.blocks))
        if block.get("type") != "tool_use":
            self.blocks[index] = [block.get("type"), -1, False]
            return b""
        self.blocks[index] = ["tool_use", self.tool_count, False]
        self.tool_count += 1
        call = {"index": self.tool_count - 1, "id": block.get("id", ""), "type": "function",
                "function": {"name": block.get("name", ""), "arguments": ""}}
        return self._chunk({"tool_calls": [call]})

    def _on_content_block_delta(self, data: dict) -> bytes:
        delta = data.get("delta") or {}
        block = self.blocks.get(data.get("index"), [None, -1, False])
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return self._chunk({"content": delta["text"]})
        if kind == "input_json_delta" and delta.get("partial_json") and block[0] == "tool_use":
            block[2] = True
            return self._chunk({"tool_calls": [{"index": block[1], "function": {"arguments": delta["partial_json"]}}]})
        if kind == "thinking_delta" and self.include_reasoning and delta.get("thinking"):
            return self._chunk({"reasoning_content": delta["thinking"]})
        return b""

    def _on_content_block_stop(self, data: dict) -> bytes:
        block = self.blocks.get(data.get("index"))
        if block and block[0] == "tool_use" and not block[2]:
            block[2] = True  # a tool without arguments reaches OpenAI clients as "{}", never ""
            return self._chunk({"tool_calls": [{"index": block[1], "function": {"arguments": "{}"}}]})
        return b""

    def _on_message_delta(self, data: dict) -> bytes:
        self.stop_reason = (data.get("delta") or {}).get("stop_reason") or self.stop_reason
        for key, value in (data.get("usage") or {}).items():
            if value is not None:
                self.usage[key] = value  # cumulative totals overwrite the start's counts
        return b""

    def _on_message_stop(self, data: dict) -> bytes:
        self.finished = True
        out = self._chunk({}, finish_reason(self.stop_reason, self.tool_count > 0))
        if self.include_usage:
            out += _sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                         "model": self.model, "choices": [], "usage": openai_usage(self.usage)})
        return out + DONE

    def _on_error(self, data: dict) -> bytes:
        error = data.get("error") or {}
        error_type, code = OPENAI_ERRORS.get(error.get("type") or "api_error", ("server_error", None))
        return self._error(error_type, error.get("message") or "upstream error", code)

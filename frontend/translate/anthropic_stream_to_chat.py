"""Anthropic upstream stream → Chat Completions client stream, one state machine per request (translation.md §6.2).

Fed upstream bytes split anywhere; returns client bytes. `finish()` at end of input closes the stream properly,
or with an in-band error if the upstream never sent message_stop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dario.json_types import JsonObject
from frontend import json_codec
from frontend.errors import anthropic_status
from frontend.translate import lenient_object, lenient_text
from frontend.translate.anthropic_answer_to_chat import chat_usage, finish_reason
from frontend.translate.sse import Event, SseParser, StreamTooLarge
from frontend.translate.streams import CUT_OFF, NOT_JSON, TOO_LARGE, ParsedStream
from frontend.translate.upstream_errors import openai_error_of
from frontend.usage import NO_USAGE, Usage, usage_from_anthropic

DONE = b"data: [DONE]\n\n"


def _sse(document: JsonObject) -> bytes:
    # A lone surrogate (the upstream's \ud800 escape) has no UTF-8: json_codec keeps it escaped.
    return b"data: " + json_codec.dumps(document) + b"\n\n"



@dataclass
class _Block:
    """An Anthropic content block of the stream: its type, the Chat tool call it became, and whether any
    arguments went out for it."""

    kind: object  # content_block.type as the upstream sent it
    tool_index: int = -1  # its index among the Chat tool calls (tool_use blocks only)
    arguments_sent: bool = False

class AnthropicToChatStream(ParsedStream):
    def __init__(self, model: str, include_usage: bool, include_reasoning: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.include_reasoning = include_reasoning
        self.parser = SseParser()
        self.id = "chatcmpl-dario"
        self.created = int(time.time())
        self.blocks: dict[int, _Block] = {}  # by Anthropic content block index
        self.tool_count = 0
        self.usage: JsonObject = {}
        self.served_model: object = None  # message_start's model
        self.stop_reason: str | None = None
        self.started = False
        self.finished = False

    def upstream_usage(self) -> Usage:
        """message_start's usage with the cumulative counts of the last message_delta, as analytics records it."""
        if not self.usage:
            return NO_USAGE
        return usage_from_anthropic({"usage": self.usage, "model": self.served_model}) or NO_USAGE

    def fail(self, message: str, code: str) -> bytes:
        """Ends the stream with an in-band error on a failure of the relay (without message_stop, it is not whole)."""
        return b"" if self.finished else self._error("server_error", message, code)

    def feed(self, chunk: bytes) -> bytes:
        try:
            events = self.parser.feed(chunk)
        except StreamTooLarge as error:
            return b"" if self.finished else self._error("server_error", f"upstream stream refused: {error}", None,
                                                         TOO_LARGE)
        return b"".join(self._event(event) for event in events if not self.finished)

    def finish(self) -> bytes:
        out = b"".join(self._event(event) for event in self.parser.finish() if not self.finished)
        if not self.finished:
            out += self._error("server_error", "the upstream's stream ended without message_stop: the answer is cut "
                                               "off", None, CUT_OFF)
        return out

    def _chunk(self, delta: JsonObject, finish: str | None = None) -> bytes:
        document = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if self.include_usage:
            document["usage"] = None
        return _sse(document)

    def _error(self, error_type: str, message: str, code: str | None, failure: tuple[int, str] | None = None) -> bytes:
        """The terminal in-band error; `failure` is what the record says (the relay records its own failures)."""
        self.finished = True
        self.failure = failure
        return _sse({"error": {"message": message, "type": error_type, "param": None, "code": code}})

    def _event(self, event: Event) -> bytes:
        try:
            data = json_codec.loads(event.data)
        except (ValueError, RecursionError):
            return self._error("server_error", "upstream sent an event that is not JSON", None, NOT_JSON)
        kind = data.get("type") if isinstance(data, dict) else None
        handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
        return handler(data) if handler is not None else b""  # unknown events are ignored, as the docs ask

    def _on_message_start(self, data: JsonObject) -> bytes:
        message = lenient_object(data.get("message"))
        self.id = "chatcmpl-" + (lenient_text(message.get("id")) or "dario")
        self.usage = dict(lenient_object(message.get("usage")))
        self.served_model = message.get("model")
        self.started = True
        return self._chunk({"role": "assistant", "content": ""})

    def _on_ping(self, data: JsonObject) -> bytes:
        return b": ping\n\n"

    def _on_content_block_start(self, data: JsonObject) -> bytes:
        block = lenient_object(data.get("content_block"))
        index = data["index"] if isinstance(data.get("index"), int) else len(self.blocks)
        if block.get("type") != "tool_use":
            self.blocks[index] = _Block(block.get("type"))
            return b""
        self.blocks[index] = _Block("tool_use", self.tool_count)
        self.tool_count += 1
        call = {"index": self.tool_count - 1, "id": lenient_text(block.get("id")), "type": "function",
                "function": {"name": lenient_text(block.get("name")), "arguments": ""}}
        return self._chunk({"tool_calls": [call]})

    def _on_content_block_delta(self, data: JsonObject) -> bytes:
        delta = lenient_object(data.get("delta"))
        block = self._block(data) or _Block(None)
        kind = delta.get("type")
        if kind == "text_delta" and lenient_text(delta.get("text")):
            return self._chunk({"content": delta["text"]})
        if kind == "input_json_delta" and lenient_text(delta.get("partial_json")) and block.kind == "tool_use":
            block.arguments_sent = True
            return self._chunk({"tool_calls": [{"index": block.tool_index,
                                                "function": {"arguments": delta["partial_json"]}}]})
        if kind == "thinking_delta" and self.include_reasoning and lenient_text(delta.get("thinking")):
            return self._chunk({"reasoning_content": delta["thinking"]})
        return b""

    def _block(self, data: JsonObject) -> _Block | None:
        index = data.get("index")
        return self.blocks.get(index) if isinstance(index, int) else None

    def _on_content_block_stop(self, data: JsonObject) -> bytes:
        block = self._block(data)
        if block and block.kind == "tool_use" and not block.arguments_sent:
            block.arguments_sent = True  # a tool without arguments reaches OpenAI clients as "{}", never ""
            return self._chunk({"tool_calls": [{"index": block.tool_index, "function": {"arguments": "{}"}}]})
        return b""

    def _on_message_delta(self, data: JsonObject) -> bytes:
        self.stop_reason = lenient_text(lenient_object(data.get("delta")).get("stop_reason")) or self.stop_reason
        for key, value in lenient_object(data.get("usage")).items():
            if value is not None:
                self.usage[key] = value  # cumulative totals overwrite the start's counts
        return b""

    def _on_message_stop(self, data: JsonObject) -> bytes:
        self.finished = True
        out = self._chunk({}, finish_reason(self.stop_reason, self.tool_count > 0))
        if self.include_usage:
            out += _sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                         "model": self.model, "choices": [], "usage": chat_usage(self.usage)})
        return out + DONE

    def _on_error(self, data: JsonObject) -> bytes:
        error = lenient_object(data.get("error"))
        anthropic_type = lenient_text(error.get("type")) or "api_error"
        error_type, code = openai_error_of(anthropic_type)
        return self._error(error_type, lenient_text(error.get("message")) or "upstream error", code,
                           (anthropic_status(anthropic_type), "upstream_error"))

"""Chat Completions upstream stream → Anthropic client stream, one state machine per request (translation.md §6.1).

Anthropic event order exactly: message_start, per block start/delta/stop (one block open at a time, indexes
0..n-1), message_delta with stop reason and usage, message_stop. Parallel tool calls stay apart by key; a tool
whose fragments arrive while another tool block is open is buffered and emitted at the end, whole.
"""

from __future__ import annotations

import uuid

from dario.json_types import JsonObject
from frontend import json_codec
from frontend.translate import lenient_object, lenient_text
from frontend.translate.chat_answer_to_anthropic import SYNTHETIC_SIGNATURE, anthropic_usage, stop_reason
from frontend.translate.chat_to_anthropic import tool_id
from frontend.translate.sse import Event, SseParser, StreamTooLarge
from frontend.translate.streams import (
    CUT_OFF,
    CUT_OFF_MESSAGE,
    MAX_ARGUMENT_BYTES,
    NOT_JSON,
    TOO_LARGE,
    FromChatStream,
    chat_tool_call_key,
)
from frontend.translate.upstream_errors import anthropic_error_of


def _event(name: str, document: JsonObject) -> bytes:
    # A lone surrogate (the upstream's \ud800 escape) has no UTF-8: json_codec keeps it escaped.
    return b"event: " + name.encode() + b"\ndata: " + json_codec.dumps(dict(document, type=name)) + b"\n\n"


class _Tool:
    def __init__(self, identifier: str, name: str) -> None:
        self.id = identifier
        self.name = name
        self.pending: list[str] = []
        self.started = False
        self.size = 0


class ChatToAnthropicStream(FromChatStream):
    def __init__(self, model: str, request: JsonObject | None = None, thinking: bool = True) -> None:
        """`request`: the Chat request the upstream got (its input tokens are estimated when it reports none);
        `thinking`: the client enabled thinking (else the upstream's reasoning is counted, not sent)."""
        self.model = model
        self.thinking = thinking
        self.start_counting(request)
        self.parser = SseParser()
        self.started = False
        self.finished = False
        self.open: tuple[str, object] | None = None  # ("text" | "thinking" | "tool", tool key)
        self.next_index = 0
        self.tools: dict[object, _Tool] = {}
        self.finish_reason: str | None = None
        self.usage: JsonObject | None = None
        self.message_id = "msg_" + uuid.uuid4().hex[:24]

    def feed(self, chunk: bytes) -> bytes:
        try:
            events = self.parser.feed(chunk)
        except StreamTooLarge as error:
            return b"" if self.finished else self._error("api_error", f"upstream stream refused: {error}", TOO_LARGE)
        return b"".join(self._handle(event) for event in events if not self.finished)

    def finish(self) -> bytes:
        out = b"".join(self._handle(event) for event in self.parser.finish() if not self.finished)
        if self.finished:
            return out
        if self.finish_reason is not None:
            return out + self._complete()  # a missing [DONE] after a finish_reason is not an error
        return out + self._error("api_error", CUT_OFF_MESSAGE, CUT_OFF)

    def _failed(self, message: str, code: str) -> bytes:
        return self._error("api_error", message)

    def _error(self, error_type: str, message: str, failure: tuple[int, str] | None = None) -> bytes:
        """The terminal `error` event; `failure` is what the record says (the relay records its own failures)."""
        self.finished = True
        self.failure = failure
        return _event("error", {"error": {"type": error_type, "message": message}})

    def _handle(self, event: Event) -> bytes:
        if event.data.strip() == "[DONE]":
            if self.finish_reason is None:  # a cut, not an answer: the client must not take it for a whole one
                return self._error("api_error", CUT_OFF_MESSAGE, CUT_OFF)
            return self._complete()
        try:
            chunk = json_codec.loads(event.data)
        except (ValueError, RecursionError):
            return self._error("api_error", "upstream sent an event that is not JSON", NOT_JSON)
        if not isinstance(chunk, dict):
            return b""
        if chunk.get("error"):
            error = chunk["error"] if isinstance(chunk["error"], dict) else {"message": lenient_text(chunk["error"])}
            status, error_type, message = anthropic_error_of(error)
            return self._error(error_type, message, (status, "upstream_error"))
        out = self._start(chunk)
        self.keep_usage(chunk)
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return out
        delta = lenient_object(choices[0].get("delta"))
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            self.count_output(reasoning)
            if self.thinking:
                out += self._text_like("thinking", reasoning)
        if isinstance(delta.get("content"), str) and delta["content"]:
            self.count_output(delta["content"])
            out += self._text_like("text", delta["content"])
        calls = delta.get("tool_calls")
        for position, call in enumerate(calls if isinstance(calls, list) else []):
            if isinstance(call, dict):
                out += self._tool_fragment(position, call)
        if lenient_text(choices[0].get("finish_reason")):
            self.finish_reason = choices[0]["finish_reason"]
        return out

    def _start(self, chunk: JsonObject) -> bytes:
        if self.started:
            return b""
        self.started = True
        if chunk.get("id"):
            self.message_id = "msg_" + tool_id(str(chunk["id"]))
        message: JsonObject = {"id": self.message_id, "type": "message", "role": "assistant", "content": [],
                               "model": self.model, "stop_reason": None, "stop_sequence": None,
                               "usage": anthropic_usage(None)}
        return _event("message_start", {"message": message})

    def _open_block(self, kind: str, block: JsonObject, key: object = None) -> bytes:
        out = self._close()
        self.open = (kind, key)
        out += _event("content_block_start", {"index": self.next_index, "content_block": block})
        return out

    def _close(self) -> bytes:
        if self.open is None:
            return b""
        kind, key = self.open
        out = b""
        if kind == "thinking":
            out += _event("content_block_delta", {"index": self.next_index, "delta": {
                "type": "signature_delta", "signature": SYNTHETIC_SIGNATURE}})
        out += _event("content_block_stop", {"index": self.next_index})
        self.open = None
        self.next_index += 1
        return out

    def _text_like(self, kind: str, text: str) -> bytes:
        out = b""
        if self.open is None or self.open[0] != kind:
            block = {"type": "text", "text": ""} if kind == "text" else {"type": "thinking", "thinking": "",
                                                                         "signature": ""}
            out += self._open_block(kind, block)
        delta = {"type": "text_delta", "text": text} if kind == "text" else {"type": "thinking_delta",
                                                                              "thinking": text}
        return out + _event("content_block_delta", {"index": self.next_index, "delta": delta})

    def _tool_fragment(self, position: int, call: JsonObject) -> bytes:
        key = chat_tool_call_key(position, call, self.tools, lambda tool: tool.id)
        function = lenient_object(call.get("function"))
        tool = self.tools.get(key)
        if tool is None:
            tool = _Tool(tool_id(lenient_text(call.get("id")) or "toolu_" + uuid.uuid4().hex[:24]), "")
            self.tools[key] = tool
        if lenient_text(function.get("name")) and not tool.name:
            tool.name = function["name"]  # empty names (LM Studio) do not count; a name is never sent twice
            self.count_output(tool.name)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            self.count_output(arguments)
            tool.size += len(arguments)
            if tool.size > MAX_ARGUMENT_BYTES:
                return self._error("api_error", "a tool call's arguments exceeded the size dario relays", TOO_LARGE)
            if self.open == ("tool", key):
                return _event("content_block_delta", {"index": self.next_index, "delta": {
                    "type": "input_json_delta", "partial_json": arguments}})
            tool.pending.append(arguments)
        if not tool.started and tool.name and (self.open is None or self.open[0] != "tool"):
            return self._start_tool(key)
        return b""

    def _start_tool(self, key: object) -> bytes:
        tool = self.tools[key]
        tool.started = True
        out = self._open_block("tool", {"type": "tool_use", "id": tool.id, "name": tool.name, "input": {}}, key)
        if tool.pending:
            out += _event("content_block_delta", {"index": self.next_index, "delta": {
                "type": "input_json_delta", "partial_json": "".join(tool.pending)}})
            tool.pending = []
        return out

    def _complete(self) -> bytes:
        out = self._start({}) + self._close()
        for key, tool in list(self.tools.items()):
            if not tool.started:  # calls buffered behind another tool block, in the order they began
                tool.name = tool.name or "unknown_tool"
                out += self._start_tool(key) + self._close()
        saw_tool = bool(self.tools)
        usage = anthropic_usage(self.client_usage())
        out += _event("message_delta", {"delta": {"stop_reason": stop_reason(self.finish_reason, saw_tool),
                                                  "stop_sequence": None}, "usage": usage})
        out += _event("message_stop", {})
        self.finished = True
        return out

"""Chat Completions upstream stream → OpenAI Responses client stream, one machine per request (an Anthropic
upstream comes through AnthropicToChatStream first: responses.anthropic_stream).

Events in the API's order: response.created, response.in_progress; per output item output_item.added, its content
events, output_item.done; then response.completed or response.incomplete, or `error` + response.failed. One item is
open at a time: a tool call that begins while another is open is sent whole at the end, and content that follows
the first tool call is sent after the calls, so no fragment is ever lost or reordered within an item.
Calls to flattened namespace or custom tools go back as the client declared them: a function_call with its
`namespace`, or a custom_tool_call whose input (unwrapped from `{"input": …}`) is sent whole when the call ends.
A call of the local_shell function is announced only once its arguments are whole, as OpenAI sends the item: a
local_shell_call added in progress and done completed, with no argument events; arguments that make no exec
action go out as the function_call they are.
"""

from __future__ import annotations

import json
import re
import time

import orjson

from dario.json_types import JsonObject
from frontend import json_codec
from frontend.translate import lenient_object, lenient_objects, lenient_text
from frontend.translate.responses.answer import (
    call_item,
    custom_input,
    incomplete_details,
    message_item,
    new_id,
    reasoning_item,
    response_object,
    responses_usage,
    text_part,
)
from frontend.translate.responses.tools import LOCAL_SHELL, tool_origins
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
from frontend.translate.upstream_errors import anthropic_error_of, openai_error_code

CUSTOM = "custom_tool_call"
SHELL = "local_shell_call"
CALLS = ("function_call", CUSTOM, SHELL)
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# content kind → (its part, the delta event, the done event, the part's text field)
PARTS = {
    "output_text": (text_part, "response.output_text.delta", "response.output_text.done", "text"),
    "refusal": (lambda text: {"type": "refusal", "refusal": text}, "response.refusal.delta", "response.refusal.done",
                "refusal"),
    "reasoning_text": (lambda text: {"type": "reasoning_text", "text": text}, "response.reasoning_text.delta",
                       "response.reasoning_text.done", "text"),
}


class _Tool:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.name = ""
        self.pending: list[str] = []
        self.size = 0
        self.item: JsonObject | None = None  # set once its output item is added


class ChatToResponsesStream(FromChatStream):
    def __init__(self, requested_model: str, request_document: JsonObject, request: JsonObject | None = None) -> None:
        """`request_document`: the client's Responses request (echoed); `request`: the Chat request the upstream
        got (its input tokens are estimated when it reports none)."""
        self.model = requested_model
        self.start_counting(request)
        self.document = request_document
        self.parser = SseParser()
        self.id = new_id("resp")
        self.created_at = int(time.time())
        self.sequence = 0
        self.started = False
        self.finished = False
        self.output: list[JsonObject] = []  # items done, in output order
        self.current: JsonObject | None = None  # the one open item
        self.tools: dict[object, _Tool] = {}
        self.origins = tool_origins(request_document)
        self.current_tool: _Tool | None = None  # the tool of the open call item
        self.trailing: list[tuple[str, str]] = []  # content after the first tool call, sent after the calls
        self.deferring = True
        self.finish_reason: str | None = None
        self.usage: JsonObject | None = None

    def _failed(self, message: str, code: str) -> bytes:
        return self._fail("server_error", message, code)

    def feed(self, chunk: bytes) -> bytes:
        if self.finished:
            return b""
        try:
            events = self.parser.feed(chunk)
        except StreamTooLarge as error:
            return self._fail("server_error", str(error), failure=TOO_LARGE)
        return b"".join(self._handle(event) for event in events if not self.finished)

    def finish(self) -> bytes:
        if self.finished:
            return b""
        out = b"".join(self._handle(event) for event in self.parser.finish() if not self.finished)
        if self.finished:
            return out
        if self.finish_reason is not None:
            return out + self._complete()  # a missing [DONE] after a finish_reason is not an error
        return out + self._fail("server_error", CUT_OFF_MESSAGE, failure=CUT_OFF)

    def _emit(self, name: str, fields: JsonObject) -> bytes:
        document = {"type": name, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        try:
            data = orjson.dumps(document)  # refuses a lone surrogate, which has no UTF-8
        except TypeError:
            text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            # A lone surrogate (an upstream's "\ud800" escape) is no text: strict parsers (Codex's serde) drop the
            # event.
            data = LONE_SURROGATE.sub("\ufffd", text).encode()
        return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"

    def _response(self, status: str, **extra: JsonObject | None) -> JsonObject:
        return response_object(self.id, self.model, self.document, status, list(self.output),
                               created_at=self.created_at, **extra)

    def _start(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        snapshot = {"response": self._response("in_progress")}
        return self._emit("response.created", snapshot) + self._emit("response.in_progress", snapshot)

    def _handle(self, event: Event) -> bytes:
        if event.data.strip() == "[DONE]":
            if self.finish_reason is None:  # a cut, not an answer: the client must not take it for a whole one
                return self._fail("server_error", CUT_OFF_MESSAGE, failure=CUT_OFF)
            return self._complete()
        try:
            chunk = json_codec.loads(event.data)
        except (ValueError, RecursionError):
            return self._fail("server_error", "upstream sent an event that is not JSON", failure=NOT_JSON)
        if not isinstance(chunk, dict):
            return b""
        out = self._start()
        if chunk.get("error"):
            return out + self._upstream_error(chunk["error"])
        self.keep_usage(chunk)
        choices = lenient_objects(chunk.get("choices"))
        if not choices:
            return out
        delta = lenient_object(choices[0].get("delta"))
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        for kind, text in (("reasoning_text", reasoning), ("output_text", delta.get("content")),
                           ("refusal", delta.get("refusal"))):
            if isinstance(text, str) and text:
                self.count_output(text)
                out += self._content(kind, text)
        for position, call in enumerate(lenient_objects(delta.get("tool_calls"))):
            out += self._tool_fragment(position, call)
        self.finish_reason = lenient_text(choices[0].get("finish_reason")) or self.finish_reason
        return out

    def _open(self, item: JsonObject) -> bytes:
        out = self._close()
        self.current = item
        return out + self._emit("response.output_item.added", {"output_index": len(self.output), "item": item})

    @property
    def _item(self) -> JsonObject:
        """The open output item: what follows runs only while one is."""
        if self.current is None:
            raise RuntimeError("no output item is open")
        return self.current

    def _where(self) -> JsonObject:
        return {"item_id": self._item["id"], "output_index": len(self.output)}

    def _close_part(self) -> bytes:
        if self.current is None or self.current["type"] in CALLS or not self.current["content"]:
            return b""
        content = self.current["content"]
        part, index = content[-1], len(content) - 1
        _, _, done_event, field = PARTS[part["type"]]
        done = {**self._where(), "content_index": index, field: part[field]}
        if part["type"] == "output_text":
            done["logprobs"] = []
        return (self._emit(done_event, done) +
                self._emit("response.content_part.done", {**self._where(), "content_index": index, "part": part}))

    def _close(self, status: str = "completed") -> bytes:
        if self.current is None:
            return b""
        out = self._announce_shell() if self._shell_pending() else b""
        item = self._item
        if item["type"] == "custom_tool_call":
            out += self._custom_input()
        elif item["type"] == "function_call":
            if not item["arguments"]:  # a tool without arguments reaches clients as "{}", never ""
                out += self._arguments_delta("{}")
            out += self._emit("response.function_call_arguments.done", {**self._where(),
                                                                        "arguments": item["arguments"]})
        else:
            out += self._close_part()
        if "status" in item:  # custom_tool_call items have none
            item["status"] = status
        out += self._emit("response.output_item.done", {"output_index": len(self.output), "item": item})
        self.output.append(item)
        self.current, self.current_tool = None, None
        return out

    def _custom_input(self) -> bytes:
        """A custom tool's input, unwrapped once its JSON arguments are whole: one delta, then done."""
        tool, out = self.current_tool, b""
        arguments = "".join(tool.pending) if tool is not None else ""
        if tool is not None:
            tool.pending = []
        self._item["input"] = custom_input(arguments) if arguments else ""
        if self._item["input"]:
            out += self._emit("response.custom_tool_call_input.delta", {**self._where(),
                                                                        "delta": self._item["input"]})
        return out + self._emit("response.custom_tool_call_input.done", {**self._where(),
                                                                         "input": self._item["input"]})

    def _content(self, kind: str, text: str) -> bytes:
        if self.tools and self.deferring:  # the calls have begun: this content is sent after them
            self.trailing.append((kind, text))
            return b""
        out = b""
        item_type = "reasoning" if kind == "reasoning_text" else "message"
        if self.current is None or self.current["type"] != item_type:
            item = (reasoning_item(new_id("rs"), [], "in_progress") if item_type == "reasoning"
                    else message_item(new_id("msg"), [], "in_progress"))
            out += self._open(item)
        content = self._item["content"]
        make_part, delta_event, _, field = PARTS[kind]
        if not content or content[-1]["type"] != kind:
            out += self._close_part()
            content.append(make_part(""))
            out += self._emit("response.content_part.added", {**self._where(), "content_index": len(content) - 1,
                                                              "part": make_part("")})
        content[-1][field] += text
        delta = {**self._where(), "content_index": len(content) - 1, "delta": text}
        if kind == "output_text":
            delta["logprobs"] = []
        return out + self._emit(delta_event, delta)

    def _tool_fragment(self, position: int, call: JsonObject) -> bytes:
        key = chat_tool_call_key(position, call, self.tools, lambda tool: tool.call_id)
        function = lenient_object(call.get("function"))
        name, arguments = lenient_text(function.get("name")), lenient_text(function.get("arguments"))
        tool = self.tools.get(key)
        if tool is None:
            if not (lenient_text(call.get("id")) or name or arguments):
                return b""  # an empty fragment announces nothing
            tool = self.tools[key] = _Tool(lenient_text(call.get("id")) or new_id("call"))
        if name and not tool.name:
            tool.name = name  # empty names (LM Studio) do not count; a name is never sent twice
            self.count_output(name)
        if arguments:
            self.count_output(arguments)
            tool.size += len(arguments)
            if tool.size > MAX_ARGUMENT_BYTES:
                return self._fail("server_error", "a tool call's arguments exceeded the size dario relays",
                                  failure=TOO_LARGE)
            tool.pending.append(arguments)
        tool_open = self.current is not None and self.current["type"] in CALLS
        if tool.item is None and tool.name and not tool_open:
            return self._start_tool(tool)
        streaming = tool.item is not None and tool.item is self.current and tool.item["type"] == "function_call"
        if streaming and tool.pending:
            return self._flush_arguments(tool)
        return b""

    def _start_tool(self, tool: _Tool) -> bytes:
        origin = self.origins.get(tool.name)
        if origin is not None and origin.local_shell:  # held until its arguments are whole (_announce_shell)
            out = self._close()
            tool.item = self.current = {"id": new_id("lsh"), "type": SHELL, "call_id": tool.call_id,
                                        "status": "in_progress"}
            self.current_tool = tool
            return out
        tool.item = call_item(self.origins, tool.call_id, tool.name or "unknown_tool", "", "in_progress")
        out = self._open(tool.item)
        self.current_tool = tool
        if tool.item["type"] == CUSTOM:
            return out  # its input is unwrapped from the whole arguments when the call ends
        return out + self._flush_arguments(tool)

    def _shell_pending(self) -> bool:
        """Whether the open item is a local_shell call not yet announced (it has no action until then)."""
        return self.current is not None and self.current["type"] == SHELL and "action" not in self.current

    def _shell_call(self, status: str) -> JsonObject:
        """The item the pending local_shell call makes: a local_shell_call, or a function_call with its arguments."""
        tool = self.current_tool
        arguments = "".join(tool.pending) if tool is not None else ""
        return call_item(self.origins, self._item["call_id"], LOCAL_SHELL, arguments, status)

    def _announce_shell(self) -> bytes:
        """The pending local_shell call, its arguments whole, added as the item it makes; a function_call fallback
        then gets its arguments as one delta (_close sends the rest)."""
        tool, item = self.current_tool, self._shell_call("in_progress")
        if item["type"] == "function_call":
            item["arguments"] = ""  # sent as a delta next, as any function_call's
        self.current = item
        if tool is not None:
            tool.item = item
        out = self._emit("response.output_item.added", {"output_index": len(self.output), "item": item})
        if item["type"] == "function_call" and tool is not None:
            out += self._flush_arguments(tool)
        return out

    def _flush_arguments(self, tool: _Tool) -> bytes:
        if not tool.pending:
            return b""
        delta, tool.pending = "".join(tool.pending), []
        return self._arguments_delta(delta)

    def _arguments_delta(self, delta: str) -> bytes:
        self._item["arguments"] += delta
        return self._emit("response.function_call_arguments.delta", {**self._where(), "delta": delta})

    def _complete(self) -> bytes:
        out = self._start()
        details = incomplete_details(self.finish_reason)
        waiting = [tool for tool in self.tools.values() if tool.item is None]

        def status(last: bool) -> str:  # a cut-off answer leaves its last item incomplete
            return "incomplete" if details and last else "completed"

        out += self._close(status(not waiting and not self.trailing))
        for position, tool in enumerate(waiting):
            out += self._start_tool(tool) + self._close(status(position == len(waiting) - 1 and not self.trailing))
        self.deferring = False
        for kind, text in self.trailing:
            out += self._content(kind, text)
        out += self._close(status(True))
        usage = responses_usage(self.client_usage())
        self.finished = True
        if details:
            return out + self._emit("response.incomplete", {"response": self._response(
                "incomplete", usage=usage, incomplete_details=details)})
        return out + self._emit("response.completed", {"response": self._response("completed", usage=usage)})

    def _upstream_error(self, error: object) -> bytes:
        """An in-band error: its own code in `error` and in response.failed (Codex acts on context_length_exceeded,
        rate_limit_exceeded, insufficient_quota), else server_error; recorded with the status its type stands for."""
        error = error if isinstance(error, dict) else {"message": lenient_text(error)}
        status, _, _ = anthropic_error_of(error)
        code = openai_error_code(error) or ("invalid_prompt" if 400 <= status < 500 else "server_error")
        message = lenient_text(error.get("message")) or "upstream error"
        return self._fail(code, message, failure=(status, "upstream_error"),
                          error_type=lenient_text(error.get("type")) or None)

    def _fail(self, code: str, message: str, event_code: str | None = None,
              failure: tuple[int, str] | None = None, error_type: str | None = None) -> bytes:
        """`error`, then the terminal response.failed carrying what was produced so far (Codex waits for it);
        `failure` is what the record says (the relay records its own failures)."""
        self.failure = failure
        out = self._start()
        output = list(self.output)
        if self.current is not None:
            output.append(dict(self._shell_call("incomplete") if self._shell_pending() else self.current,
                               status="incomplete"))
        out += self._emit("error", {"code": event_code or code, "message": message, "param": None})
        error = {"code": code, "message": message, **({"type": error_type} if error_type else {})}
        failed = response_object(self.id, self.model, self.document, "failed", output, created_at=self.created_at,
                                 usage=responses_usage(self.client_usage()), error=error)
        self.finished = True
        return out + self._emit("response.failed", {"response": failed})

"""Scripted OpenAI-compatible servers with the quirks of real ones: llama-cpp-python's and llama.cpp's (what dario
was seen failing against, issue 16: 500 to an assistant turn with `content: null` and to a system message whose
content is a list, fields it does not know refused, no usage in streams whatever the client asks), a system
message after the first refused (Gemma's and Qwen's templates), Ollama's `finish_reason: "stop"` after tool calls.
SERVERS names the mimic of each server docs/compatibility.md lists.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from aiohttp import web

from dario.json_types import JsonObject
from dario.testing import openai_wire
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.threaded import Threaded

# The fields of llama-cpp-python's CreateChatCompletionRequest (with stream_options): no max_completion_tokens.
REQUEST_FIELDS = frozenset({
    "model", "messages", "functions", "function_call", "tools", "tool_choice", "max_tokens", "min_tokens",
    "logprobs", "top_logprobs", "temperature", "top_p", "min_p", "stop", "stream", "stream_options",
    "presence_penalty", "frequency_penalty", "logit_bias", "seed", "response_format", "n", "user", "top_k",
    "repeat_penalty", "grammar", "parallel_tool_calls"})
MESSAGE_FIELDS = {"system": {"role", "content", "name"}, "user": {"role", "content", "name"},
                  "assistant": {"role", "content", "name", "tool_calls", "function_call"},
                  "tool": {"role", "content", "tool_call_id"}}


@dataclass(frozen=True)
class Quirks:
    strict: bool = False  # fields outside REQUEST_FIELDS (and unknown message keys) refused with a 400
    null_content_500: bool = False  # an assistant `content: null` (and a list as system content) answered 500
    system_first_only: bool = False  # a system message after the first answered 500 (the chat template's error)
    stream_usage: bool = True  # a usage chunk when the client asks with stream_options.include_usage
    tool_finish_reason: str = "tool_calls"  # what finish_reason says after tool calls (Ollama: "stop")
    reasoning_replay: bool = False  # an assistant tool-call turn without reasoning_content refused (DeepSeek)
    names_in_every_delta: str = ""  # "repeat": the function's name again in every fragment; "empty": `"name": ""`


# The mimic of each server (docs/compatibility.md): what each was seen or documented doing.
SERVERS = {
    "llama.cpp": Quirks(strict=True, null_content_500=True, system_first_only=True, stream_usage=False,
                        names_in_every_delta="repeat"),
    "vLLM": Quirks(system_first_only=True),
    "Ollama": Quirks(stream_usage=False, tool_finish_reason="stop"),
    "LM Studio": Quirks(names_in_every_delta="empty"),
    "LiteLLM": Quirks(),
    "OpenRouter": Quirks(),
}
DEEPSEEK_THINKING = Quirks(reasoning_replay=True)  # DeepSeek's thinking mode (not in the matrix: it needs a profile)


def problem_of(document: JsonObject, quirks: Quirks) -> tuple[int, str] | None:
    """(status, message) this server would answer instead of a completion, or None."""
    strict, system_first_only = quirks.strict, quirks.system_first_only
    extra = sorted(set(document) - REQUEST_FIELDS)
    if strict and extra:
        return 400, f"Extra inputs are not permitted: {', '.join(extra)}"
    for index, message in enumerate(document.get("messages") or []):
        role = message.get("role")
        unknown = sorted(set(message) - MESSAGE_FIELDS.get(role, set()))
        if strict and unknown:
            return 400, f"messages.{index}: Extra inputs are not permitted: {', '.join(unknown)}"
        if quirks.reasoning_replay and role == "assistant" and message.get("tool_calls") and \
                not str(message.get("reasoning_content") or "").strip():
            return 400, "The reasoning_content in the thinking mode must be passed back to the API."
        if quirks.null_content_500 and role == "assistant" and "content" in message and message["content"] is None:
            return 500, "Internal Server Error"  # llama-cpp-python's request models take only a string
        if quirks.null_content_500 and role == "system" and not isinstance(message.get("content"), str):
            return 500, "Internal Server Error"
        if role == "system" and index > 0 and system_first_only:
            return 500, "System message must be at the beginning."  # what Gemma's and Qwen's templates raise
    return None


class QuirkyServer(ScriptedUpstream):
    """ScriptedUpstream's scripts and records, answered with one server's quirks (llama.cpp's by default)."""

    def __init__(self, quirks: Quirks = SERVERS["llama.cpp"], **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.quirks = quirks
        self.refused: list[tuple[int, str]] = []  # (status, message) of every request it refused

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, script = await self._receive(request)
        headers = {"x-request-id": "req_" + uuid.uuid4().hex, **script.headers}
        document = json.loads(body)
        found = problem_of(document, self.quirks)
        if found is not None:
            self.refused.append(found)
            status, message = found
            if status == 500:
                return web.Response(status=500, text=message, headers=headers)  # a plain-text 500, as uvicorn's
            return web.json_response({"error": {"message": message, "type": "invalid_request_error",
                                                "code": 400}}, status=status, headers=headers)
        if script.status != 200:
            return await self._error(request, script, headers)
        _, model, content = self._question(body, script)
        if document.get("stream"):
            asked = bool((document.get("stream_options") or {}).get("include_usage")) and self.quirks.stream_usage
            usage = openai_wire.usage(max(1, len(body) // 4), max(1, len(content.split())))
            payload = openai_wire.stream_events(model, content, usage, include_usage=asked, piece=script.piece,
                                                tools=script.tools)
            if script.tools and self.quirks.names_in_every_delta:
                payload = _names_in_every_delta(payload, self.quirks.names_in_every_delta)
            if script.tools and self.quirks.tool_finish_reason != "tool_calls":
                payload = payload.replace(b'"finish_reason": "tool_calls"',
                                          f'"finish_reason": "{self.quirks.tool_finish_reason}"'.encode())
            content_type = "text/event-stream"
        else:
            usage = openai_wire.usage(max(1, len(body) // 4), max(1, len(content.split())))
            payload = json.dumps(openai_wire.completion(model, content, usage, tools=script.tools)).encode()
            content_type = "application/json"
        self.served += 1
        return await self._send(request, script, 200, headers, content_type, payload)


def _names_in_every_delta(payload: bytes, how: str) -> bytes:
    """A stream whose tool-call fragments all carry a name: the call's own again ("repeat"), or "" ("empty")."""
    names: dict[int, str] = {}
    events = []
    for event in payload.decode().split("\n\n"):
        if not event.startswith("data: {"):
            events.append(event)
            continue
        chunk = json.loads(event[len("data: "):])
        for choice in chunk.get("choices") or []:
            for call in choice.get("delta", {}).get("tool_calls") or []:
                function = call.setdefault("function", {})
                if function.get("name"):
                    names[call["index"]] = function["name"]
                else:
                    function["name"] = names.get(call["index"], "") if how == "repeat" else ""
        events.append("data: " + json.dumps(chunk))
    return "\n\n".join(events).encode()


LlamaCppLike = QuirkyServer  # its default quirks are llama.cpp's


def ThreadedLlamaCpp(**options: object) -> Threaded[QuirkyServer]:  # noqa: N802 - reads like a class
    """`with ThreadedLlamaCpp() as upstream:` a llama.cpp-like server on its own loop in a background thread (give
    quirks=SERVERS[name] for another server's)."""
    return Threaded(QuirkyServer(**options), name="quirky-server")  # type: ignore[arg-type]

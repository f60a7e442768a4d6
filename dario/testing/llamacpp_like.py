"""A scripted OpenAI-compatible server with the quirks of llama-cpp-python's server and llama.cpp's (what dario was
seen failing against, issue 16): 500 to an assistant turn with `content: null`, 500 to a system message whose
content is a list, fields it does not know refused (strict) or ignored, a system message after the first refused
(Gemma's and Qwen's templates), and no usage in streams whatever the client asks. docs/compatibility.md lists
which quirk stands for which server.
"""

from __future__ import annotations

import json
import uuid

from aiohttp import web

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


def problem_of(document: dict, strict: bool = True, system_first_only: bool = True) -> tuple[int, str] | None:
    """(status, message) this server would answer instead of a completion, or None."""
    extra = sorted(set(document) - REQUEST_FIELDS)
    if strict and extra:
        return 400, f"Extra inputs are not permitted: {', '.join(extra)}"
    for index, message in enumerate(document.get("messages") or []):
        role = message.get("role")
        unknown = sorted(set(message) - MESSAGE_FIELDS.get(role, set()))
        if strict and unknown:
            return 400, f"messages.{index}: Extra inputs are not permitted: {', '.join(unknown)}"
        if role == "assistant" and "content" in message and message["content"] is None:
            return 500, "Internal Server Error"  # llama-cpp-python's request models take only a string
        if role == "system" and not isinstance(message.get("content"), str):
            return 500, "Internal Server Error"
        if role == "system" and index > 0 and system_first_only:
            return 500, "System message must be at the beginning."  # what Gemma's and Qwen's templates raise
    return None


class LlamaCppLike(ScriptedUpstream):
    """ScriptedUpstream's scripts and records, answered as llama.cpp-family servers answer."""

    def __init__(self, strict: bool = True, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.strict = strict
        self.refused: list[tuple[int, str]] = []  # (status, message) of every request it refused

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, script = await self._receive(request)
        headers = {"x-request-id": "req_" + uuid.uuid4().hex, **script.headers}
        document = json.loads(body)
        found = problem_of(document, self.strict)
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
            payload = openai_wire.stream_events(model, content, None, include_usage=False, piece=script.piece,
                                                tools=script.tools)  # never a usage chunk
            content_type = "text/event-stream"
        else:
            usage = openai_wire.usage(max(1, len(body) // 4), max(1, len(content.split())))
            payload = json.dumps(openai_wire.completion(model, content, usage, tools=script.tools)).encode()
            content_type = "application/json"
        self.served += 1
        return await self._send(request, script, 200, headers, content_type, payload)


def ThreadedLlamaCpp(**options: object) -> Threaded[LlamaCppLike]:  # noqa: N802 - reads like a class
    """`with ThreadedLlamaCpp() as upstream:` a LlamaCppLike on its own loop in a background thread."""
    return Threaded(LlamaCppLike(**options), name="llamacpp-like")  # type: ignore[arg-type]

"""Quirks of real OpenAI-compatible servers, as rewrites of a scripted upstream's Chat Completions body
(`Script(rewrite=...)`): what llama.cpp, Ollama, vLLM and proxies send that OpenAI does not."""

from __future__ import annotations

import json
from collections.abc import Callable

from dario.testing import openai_wire


def _is_stream(body: bytes) -> bool:
    return body.startswith(b"data: ")


def _events(body: bytes) -> list[str]:
    return [line[len("data: "):] for line in body.decode().split("\n") if line.startswith("data: ")]


def _written(payloads: list[str]) -> bytes:
    return b"".join(f"data: {payload}\n\n".encode() for payload in payloads)


def without_finish_reason(body: bytes) -> bytes:
    """Every finish_reason null, [DONE] kept: what a server whose generation was cut sends (or a proxy that lost
    the last chunk)."""
    if not _is_stream(body):
        return body
    payloads = []
    for payload in _events(body):
        if payload != "[DONE]":
            chunk = json.loads(payload)
            for choice in chunk.get("choices") or []:
                choice["finish_reason"] = None
            payload = json.dumps(chunk)
        payloads.append(payload)
    return _written(payloads)


def error_after(events: int, error: dict[str, object]) -> Callable[[bytes], bytes]:
    """The stream's first `events` data events, then an in-band error event, then nothing (as OpenAI-compatible
    servers report a failure once the 200 is sent, e.g. a context overflow found mid-way)."""

    def rewrite(body: bytes) -> bytes:
        if not _is_stream(body):
            return body
        return _written(_events(body)[:events]) + openai_wire.sse({"error": error})
    return rewrite


def function_name_in_every_delta(body: bytes) -> bytes:
    """Each tool-call delta repeats the function's name (and id), as some servers do: a client that concatenates
    names gets "get_weatherget_weather…"."""
    names: dict[int, tuple[str, str]] = {}
    payloads = []
    for payload in _events(body):
        if payload != "[DONE]":
            chunk = json.loads(payload)
            for choice in chunk.get("choices") or []:
                for call in (choice.get("delta") or {}).get("tool_calls") or []:
                    function = call.setdefault("function", {})
                    if function.get("name"):
                        names[call["index"]] = (call.get("id", ""), function["name"])
                    elif call["index"] in names:
                        call["id"], function["name"] = names[call["index"]]
            payload = json.dumps(chunk)
        payloads.append(payload)
    return _written(payloads)


def with_reasoning(reasoning: str) -> Callable[[bytes], bytes]:
    """The answer preceded by the model's reasoning in `reasoning_content` (DeepSeek, vLLM and llama.cpp's reasoning
    parsers), streamed (in deltas before the content) or whole (in the message)."""

    def rewrite(body: bytes) -> bytes:
        if not _is_stream(body):
            completion = json.loads(body)
            completion["choices"][0]["message"]["reasoning_content"] = reasoning
            return json.dumps(completion).encode()
        payloads = _events(body)
        first = json.loads(payloads[0])
        deltas = [dict(first, choices=[{"index": 0, "delta": {"reasoning_content": reasoning[start:start + 4]},
                                        "finish_reason": None}]) for start in range(0, len(reasoning), 4)]
        return _written(payloads[:1] + [json.dumps(delta) for delta in deltas] + payloads[1:])
    return rewrite

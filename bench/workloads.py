"""What the bench sends: realistic request bodies in each client API, and the paths (client API → backend API).

The Claude Code-shaped request is about 30 KB: a long system prompt, 20 tool definitions with JSON schemas and a
short history with a tool call and its result, built the same way in the three client APIs (Anthropic Messages,
Chat Completions, Responses) so a translated path and its direct run carry the same content. Requests carrying
tools get the realistic answer from the bench upstream (a 2 KB text in about 40 events, then one tool call).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CHAT_MODEL = "gpt-4o-mini"  # routed to the OpenAI-kind backend with one credential
CLAUDE_MODEL = "claude-sonnet-4-5"  # routed to the Anthropic-kind backend
POOL_MODEL = "pool-gpt-4o-mini"  # routed to the OpenAI-kind backend with three credentials
LONG_STREAM_SUFFIX = "-10k"  # a model name ending so: the upstream streams 10,000 events

WORDS = (
    "the repository holds a python service with tests and a command line tool which reads configuration files "
    "and writes results to a database when asked so always read the file before editing and keep changes small "
).split()


def filler(size: int, seed: int = 0) -> str:
    """Deterministic prose of `size` characters (English words, so tokenisers and JSON escaping behave as usual)."""
    words, length, index = [], 0, seed
    while length < size:
        word = WORDS[index % len(WORDS)]
        words.append(word)
        length += len(word) + 1
        index += 7
    return " ".join(words)[:size]


TOOL_NAMES = (
    "Task", "Bash", "Glob", "Grep", "LS", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write", "NotebookRead",
    "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell", "SlashCommand", "Search",
    "Diagnostics",
)


def tool_definitions() -> list[dict[str, Any]]:
    """20 tools as Claude Code declares them: a paragraph of description and a JSON schema of 3 properties."""
    tools = []
    for index, name in enumerate(TOOL_NAMES):
        tools.append({
            "name": name,
            "description": filler(420, index),
            "input_schema": {
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": filler(90, index + 1)},
                    "pattern": {"type": "string", "description": filler(70, index + 2)},
                    "limit": {"type": "number", "description": filler(50, index + 3)},
                },
                "required": ["path"],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
        })
    return tools


SYSTEM_SIZE = 6_000
RESULT_SIZE = 4_000
LARGE_RESULT = 1_000_000  # the tool result of the 1 MB request


def anthropic_request(model: str, stream: bool, result_size: int = RESULT_SIZE) -> dict[str, Any]:
    """A Claude Code turn: system blocks with cache_control, 20 tools, a user ask, a tool_use and its result."""
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": filler(SYSTEM_SIZE, 3), "cache_control": {"type": "ephemeral"}},
        ],
        "tools": tool_definitions(),
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Find where the configuration is parsed and "
                                                                  "explain the error handling."}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "I'll look for the parser first."},
                {"type": "tool_use", "id": "toolu_01bench", "name": "Grep",
                 "input": {"path": "src", "pattern": "def parse"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01bench", "content": filler(result_size, 5)},
                {"type": "text", "text": "Go on.", "cache_control": {"type": "ephemeral"}},
            ]},
        ],
        "metadata": {"user_id": "user_bench_account__session_0000"},
    }


def chat_request(model: str, stream: bool, result_size: int = RESULT_SIZE) -> dict[str, Any]:
    """The same turn in Chat Completions: a system message, function tools, tool_calls and a tool message."""
    tools = [{"type": "function", "function": {"name": tool["name"], "description": tool["description"],
                                                "parameters": tool["input_schema"]}} for tool in tool_definitions()]
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 32000,
        "stream": stream,
        "tools": tools,
        "messages": [
            {"role": "system", "content": "You are Claude Code, Anthropic's official CLI for Claude.\n\n"
                                          + filler(SYSTEM_SIZE, 3)},
            {"role": "user", "content": "Find where the configuration is parsed and explain the error handling."},
            {"role": "assistant", "content": "I'll look for the parser first.", "tool_calls": [
                {"id": "call_01bench", "type": "function",
                 "function": {"name": "Grep", "arguments": json.dumps({"path": "src", "pattern": "def parse"})}},
            ]},
            {"role": "tool", "tool_call_id": "call_01bench", "content": filler(result_size, 5)},
            {"role": "user", "content": "Go on."},
        ],
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def responses_request(model: str, stream: bool) -> dict[str, Any]:
    """The same turn as Codex sends it to /v1/responses: instructions, input items and flat function tools."""
    tools = [{"type": "function", "name": tool["name"], "description": tool["description"],
              "parameters": tool["input_schema"], "strict": False} for tool in tool_definitions()]
    return {
        "model": model,
        "stream": stream,
        "instructions": "You are Codex, a coding agent.\n\n" + filler(SYSTEM_SIZE, 3),
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "store": False,
        "input": [
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Find where the configuration is parsed and explain the error "
                                               "handling."}]},
            {"type": "function_call", "call_id": "call_01bench", "name": "Grep",
             "arguments": json.dumps({"path": "src", "pattern": "def parse"})},
            {"type": "function_call_output", "call_id": "call_01bench", "output": filler(RESULT_SIZE, 5)},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Go on."}]},
        ],
    }


def small_chat_request(model: str, stream: bool) -> dict[str, Any]:
    """The old bench's request: one short user message, no tools (the short answer)."""
    return {"model": model, "messages": [{"role": "user", "content": "Say hello to the benchmark"}], "stream": stream}


def encoded(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Request:
    """One request as a target receives it: the endpoint under its /v1, the body, whether it streams."""

    endpoint: str  # "/chat/completions", "/messages", "/responses"
    body: bytes
    stream: bool

    @property
    def done_mark(self) -> bytes:
        """What a good answer holds (the bench's probe checks it before a load)."""
        return DONE_MARKS[(self.endpoint, self.stream)]


DONE_MARKS = {
    ("/chat/completions", True): b"[DONE]",
    ("/chat/completions", False): b'"choices"',
    ("/messages", True): b"message_stop",
    ("/messages", False): b'"content"',
    ("/responses", True): b"response.completed",
    ("/responses", False): b'"output"',
}

Builder = Callable[..., dict[str, Any]]


def build(endpoint: str, builder: Builder, model: str, stream: bool, **options: int) -> Request:
    return Request(endpoint, encoded(builder(model, stream, **options)), stream)


@dataclass(frozen=True)
class Path:
    """A path through dario: the client's request, the equivalent direct request to the upstream, the loads."""

    name: str
    label: str
    client: Callable[[bool], Request]  # what dario and the peers receive, plain or streaming
    direct: Callable[[bool], Request]  # what the client would send the upstream itself
    plain_concurrency: tuple[int, ...] = ()  # non-streaming loads
    stream_concurrency: tuple[int, ...] = ()  # streaming loads
    size_row: bool = False  # an O(size) row: few requests, c=1 only
    model: str = CHAT_MODEL  # the model the client asks for (peers are configured with it)


def chat(model: str, large: bool = True, **options: int) -> Callable[[bool], Request]:
    builder: Builder = chat_request if large else small_chat_request
    return lambda stream: build("/chat/completions", builder, model, stream, **options)


def anthropic(model: str, **options: int) -> Callable[[bool], Request]:
    return lambda stream: build("/messages", anthropic_request, model, stream, **options)


def responses(model: str) -> Callable[[bool], Request]:
    return lambda stream: build("/responses", responses_request, model, stream)


def paths(quick: bool = False) -> list[Path]:
    """Every path the bench measures, in report order."""
    few = (1,) if quick else (1, 64)
    plain_chat = (1, 4) if quick else (1, 16, 64)
    long_model = CLAUDE_MODEL + LONG_STREAM_SUFFIX
    return [
        Path("chat", "Chat → Chat (pass-through), small request", chat(CHAT_MODEL, large=False),
             chat(CHAT_MODEL, large=False), plain_concurrency=plain_chat, stream_concurrency=few),
        Path("pool3", "Chat → Chat, pool of three credentials, small request", chat(POOL_MODEL, large=False),
             chat(CHAT_MODEL, large=False), plain_concurrency=few, model=POOL_MODEL),
        Path("chat-large", "Chat → Chat (pass-through)", chat(CHAT_MODEL), chat(CHAT_MODEL),
             stream_concurrency=few),
        Path("anthropic", "Anthropic → Anthropic (pass-through)", anthropic(CLAUDE_MODEL), anthropic(CLAUDE_MODEL),
             stream_concurrency=few, model=CLAUDE_MODEL),
        Path("anthropic-to-chat", "Anthropic → Chat (translated)", anthropic(CHAT_MODEL), chat(CHAT_MODEL),
             stream_concurrency=few),
        Path("chat-to-anthropic", "Chat → Anthropic (translated)", chat(CLAUDE_MODEL), anthropic(CLAUDE_MODEL),
             stream_concurrency=few, model=CLAUDE_MODEL),
        Path("responses-to-chat", "Responses → Chat (translated)", responses(CHAT_MODEL), chat(CHAT_MODEL),
             stream_concurrency=few),
        Path("anthropic-to-chat-1mb", "Anthropic → Chat (translated), 1 MB request",
             anthropic(CHAT_MODEL, result_size=LARGE_RESULT), chat(CHAT_MODEL, result_size=LARGE_RESULT),
             stream_concurrency=(1,), size_row=True),
        Path("chat-to-anthropic-10k", "Chat → Anthropic (translated), 10k-event answer", chat(long_model),
             anthropic(long_model), stream_concurrency=(1,), size_row=True, model=long_model),
    ]

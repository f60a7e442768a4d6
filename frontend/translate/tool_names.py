"""Tool names a backend refuses (translation.md §4.1): OpenAI takes at most 64 of `[a-zA-Z0-9_-]`, Anthropic 128,
so a longer name (Claude Code's MCP tools) or one with other characters is shortened deterministically (a prefix
and a hash), and the backend's calls come back under the client's own names, in whole answers and in streams."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from dario.json_types import JsonObject
from frontend.translate.sse import SseParser
from frontend.usage import Usage

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
VALID_ANTHROPIC = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
DIGEST_CHARACTERS = 10


def short_name(name: str, taken: set[str]) -> str:
    """The same valid name for the same input, unlike any name in `taken` (a longer hash when they collide)."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    for length in range(DIGEST_CHARACTERS, len(digest) + 1):
        candidate = f"{_UNSAFE.sub('_', name)[: 63 - length]}_{digest[:length]}"
        if candidate not in taken:
            return candidate
    raise ValueError("no unique short name")  # 64 hex digits of SHA-256 collided: not in this universe


def _named(body: JsonObject) -> list[JsonObject]:
    """Every object of a Chat request holding a tool name: functions, tool_choice, and calls in the history."""
    found = [tool["function"] for tool in body.get("tools") or []
             if isinstance(tool, dict) and isinstance(tool.get("function"), dict)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        found.append(choice["function"])
    for message in body.get("messages") or []:
        for call in (message.get("tool_calls") or []) if isinstance(message, dict) else []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                found.append(call["function"])
    return found


def _named_anthropic(body: JsonObject) -> list[JsonObject]:
    """Every object of an Anthropic request holding a tool name: tools, tool_choice, tool_use blocks."""
    found = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        found.append(choice)
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        found += [block for block in content if isinstance(block, dict) and block.get("type") == "tool_use"] \
            if isinstance(content, list) else []
    return found


def shorten_tool_names(body: JsonObject, anthropic: bool = False) -> dict[str, str]:
    """Renames the invalid tool names of a Chat (or Anthropic) request in place; returns {name sent: the client's
    name}."""
    named = _named_anthropic(body) if anthropic else _named(body)
    valid = VALID_ANTHROPIC if anthropic else VALID
    names = {entry.get("name") for entry in named if isinstance(entry.get("name"), str)}
    taken = {name for name in names if isinstance(name, str) and valid.match(name)}
    renamed: dict[str, str] = {}
    for original in sorted(name for name in names if isinstance(name, str) and name not in taken):
        short = short_name(original, taken)
        taken.add(short)
        renamed[original] = short
    for entry in named:
        if entry.get("name") in renamed:
            entry["name"] = renamed[entry["name"]]
    return {short: original for original, short in renamed.items()}


_NINE = re.compile(r"^[a-zA-Z0-9]{9}$")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def nine_character_id(identifier: str) -> str:
    """Mistral's tool-call id form (9 letters and digits): kept when it has it, else derived from a hash, so a
    call and its result keep matching."""
    if _NINE.match(identifier):
        return identifier
    number = int.from_bytes(hashlib.sha256(identifier.encode("utf-8", "surrogatepass")).digest()[:8], "big")
    return "".join(_ALPHABET[(number >> (6 * position)) % len(_ALPHABET)] for position in range(9))


def nine_character_ids(body: JsonObject) -> None:
    """Every tool-call id of a Chat request's history in Mistral's form, in place."""
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        if isinstance(message.get("tool_call_id"), str):
            message["tool_call_id"] = nine_character_id(message["tool_call_id"])
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("id"), str):
                call["id"] = nine_character_id(call["id"])


def restore_in_completion(completion: JsonObject, names: dict[str, str]) -> JsonObject:
    """A Chat completion or stream chunk, or an Anthropic message or stream event, with the backend's tool names
    told as the client declared them."""
    content = completion.get("content")
    blocks: list[Any] = content if isinstance(content, list) else []
    block = completion.get("content_block")
    for item in [*blocks, block] if isinstance(block, dict) else blocks:
        if isinstance(item, dict) and item.get("type") == "tool_use" and item.get("name") in names:
            item["name"] = names[item["name"]]
    for choice in completion.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        for part in ("message", "delta"):
            message = choice.get(part)
            calls = message.get("tool_calls") if isinstance(message, dict) else None
            for call in calls if isinstance(calls, list) else []:
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and function.get("name") in names:
                    function["name"] = names[function["name"]]
    return completion


class RestoredNames:
    """A stream machine in front of another, for a Chat Completions upstream: each event's tool names are put back
    before the inner machine translates it (only used when names were shortened, so other streams pay nothing)."""

    def __init__(self, inner: object, names: dict[str, str]) -> None:
        self.inner, self.names = inner, names
        self.parser = SseParser()

    def __getattr__(self, name: str) -> object:  # started, finished, delivered, progress, … as the inner machine's
        return getattr(self.inner, name)

    def _events(self, events: list[Any]) -> bytes:
        out = []
        for event in events:
            data = event.data
            if data.strip() != "[DONE]":
                try:
                    chunk = json.loads(data)
                except (ValueError, RecursionError):
                    chunk = None
                if isinstance(chunk, dict):
                    data = json.dumps(restore_in_completion(chunk, self.names))
            name = f"event: {event.name}\n" if event.name else ""
            lines = "".join(f"data: {line}\n" for line in data.split("\n"))
            out.append(f"{name}{lines}\n".encode())
        return b"".join(out)

    def feed(self, chunk: bytes) -> bytes:
        return self.inner.feed(self._events(self.parser.feed(chunk)))  # type: ignore[attr-defined, no-any-return]

    def finish(self) -> bytes:
        rest = self.inner.feed(self._events(self.parser.finish()))  # type: ignore[attr-defined]
        return rest + self.inner.finish()  # type: ignore[attr-defined, no-any-return]

    def fail(self, message: str, code: str) -> bytes:
        return self.inner.fail(message, code)  # type: ignore[attr-defined, no-any-return]

    def upstream_usage(self) -> Usage:
        return self.inner.upstream_usage()  # type: ignore[attr-defined, no-any-return]

"""Pure helpers for relaying upstream bodies: SSE event boundaries, and usage read from what went by.

Pass-through bodies are never re-encoded; only a bounded tail of a stream is parsed, once, at its end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

TAIL_BYTES = 64 * 1024
MAX_HELD_BYTES = 1024 * 1024
_BOUNDARIES = (b"\n\n", b"\r\n\r\n", b"\r\r")


@dataclass(frozen=True)
class Usage:
    """Token counts as the upstream reported them; -1 where it reported nothing."""

    input_tokens: int = -1
    output_tokens: int = -1
    cache_read_tokens: int = -1
    reasoning_tokens: int = -1
    served_model: str = ""


NO_USAGE = Usage()


class EventFramer:
    """Passes on SSE bytes only up to the last complete event, so a broken stream never ends mid-event."""

    def __init__(self) -> None:
        self.held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self.held + chunk if self.held else chunk
        end = _last_boundary_end(data)
        if end == 0 and len(data) < MAX_HELD_BYTES:
            self.held = data
            return b""
        if end == 0:
            end = len(data)  # an event past the cap is passed on rather than held without bound
        self.held = data[end:]
        return data[:end]

    def rest(self) -> bytes:
        """What is left at a clean end of stream (an upstream may omit the final blank line)."""
        held, self.held = self.held, b""
        return held


def _last_boundary_end(data: bytes) -> int:
    """Offset just past the last blank line (under any of the three line-ending styles), or 0."""
    end = 0
    for boundary in _BOUNDARIES:
        position = data.rfind(boundary)
        if position >= 0:
            end = max(end, position + len(boundary))
    return end


class Tail:
    """Keeps the last TAIL_BYTES of a body, where the usage chunk of a stream sits."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.parts.append(chunk)
        self.size += len(chunk)
        while self.size - len(self.parts[0]) >= TAIL_BYTES and len(self.parts) > 1:
            self.size -= len(self.parts.pop(0))

    def value(self) -> bytes:
        return b"".join(self.parts)[-TAIL_BYTES:]


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else -1


def usage_from_openai(document: object) -> Usage | None:
    """Usage from a chat.completion or chat.completion.chunk object, or None when it carries none."""
    if not isinstance(document, dict):
        return None
    usage = document.get("usage")
    if not isinstance(usage, dict):
        return None
    prompt_details = usage.get("prompt_tokens_details")
    completion_details = usage.get("completion_tokens_details")
    model = document.get("model")
    return Usage(
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        cache_read_tokens=_count(prompt_details.get("cached_tokens")) if isinstance(prompt_details, dict) else -1,
        reasoning_tokens=(
            _count(completion_details.get("reasoning_tokens")) if isinstance(completion_details, dict) else -1
        ),
        served_model=model if isinstance(model, str) else "",
    )


def usage_from_json_body(body: bytes) -> Usage:
    try:
        return usage_from_openai(json.loads(body)) or NO_USAGE
    except (ValueError, UnicodeDecodeError):
        return NO_USAGE


def usage_from_sse_tail(tail: bytes) -> Usage:
    """The last usage in the complete `data:` lines of a stream's tail."""
    text = tail.decode("utf-8", errors="replace")
    for line in reversed(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if '"usage"' not in payload:
            continue
        try:
            usage = usage_from_openai(json.loads(payload))
        except ValueError:
            continue
        if usage is not None:
            return usage
    return NO_USAGE

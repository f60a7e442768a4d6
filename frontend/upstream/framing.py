"""Pure helpers for relaying upstream bodies unchanged: SSE event boundaries, keep-alives, and a bounded sample.

Pass-through bodies are never re-encoded; only the sample (head and tail) is parsed, once, at the end.
"""

from __future__ import annotations

import re

TAIL_BYTES = 64 * 1024
HEAD_BYTES = 16 * 1024
MAX_HELD_BYTES = 1024 * 1024
_BOUNDARIES = (b"\n\n", b"\r\n\r\n", b"\r\r")
# SSE comments (`: ping`, `: keepalive`, OpenRouter's `: OPENROUTER PROCESSING`) and Anthropic's ping event.
_KEEPALIVES = re.compile(rb'(?:(?::[^\r\n]*|event: ?ping|data: ?\{ ?"type": ?"ping" ?\})?(?:\r\n|\r|\n))*')
_KEEPALIVE_MAX_BYTES = 256  # keep-alives come alone, and small: anything longer is an answer's event


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


def only_keepalives(events: bytes) -> bool:
    """Whether whole SSE events are keep-alives only (no progress of the answer)."""
    return len(events) <= _KEEPALIVE_MAX_BYTES and _KEEPALIVES.fullmatch(events) is not None


class Tail:
    """Keeps the first HEAD_BYTES and the last TAIL_BYTES of a body: where streams report their usage."""

    def __init__(self) -> None:
        self.head = b""
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.parts.append(chunk)
        self.size += len(chunk)
        while self.size - len(self.parts[0]) >= TAIL_BYTES and len(self.parts) > 1:
            self.size -= len(self.parts.pop(0))

    def value(self) -> bytes:
        return b"".join(self.parts)[-TAIL_BYTES:]

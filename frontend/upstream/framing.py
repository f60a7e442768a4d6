"""Pure helpers for relaying upstream bodies unchanged: SSE event boundaries, keep-alives, and a bounded sample.

Pass-through bodies are never re-encoded; only the sample (head and tail) is parsed, once, at the end.
"""

from __future__ import annotations

import collections
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
    if data.endswith(_BOUNDARIES):  # nearly every read of a stream ends on an event's end: its last boundary
        return len(data)
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
    """Keeps the first HEAD_BYTES and the last TAIL_BYTES of a body: where streams report their usage. Both kept
    as pieces and joined when read (appending to one bytes object copied the head again for every small chunk of
    a stream: 4 µs a chunk)."""

    def __init__(self) -> None:
        self._head: list[bytes] = []
        self._head_size = 0
        self.parts: collections.deque[bytes] = collections.deque()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        if self._head_size < HEAD_BYTES:
            piece = chunk[: HEAD_BYTES - self._head_size]
            self._head.append(piece)
            self._head_size += len(piece)
        self.parts.append(chunk)
        self.size += len(chunk)
        while self.size - len(self.parts[0]) >= TAIL_BYTES and len(self.parts) > 1:
            self.size -= len(self.parts.popleft())

    @property
    def head(self) -> bytes:
        if len(self._head) > 1:
            self._head = [b"".join(self._head)]
        return self._head[0] if self._head else b""

    def value(self) -> bytes:
        return b"".join(self.parts)[-TAIL_BYTES:]

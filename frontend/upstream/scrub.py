"""Keeps the frontend's secrets out of what upstreams send back: a provider, or a proxy in front of it, may echo
the key it received in an error body, a header or a stream.

Only the exact secrets held (each lease's token) are replaced, never token-shaped text: an answer may quote
anything, and it goes to the client unchanged but for them.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable

MASK = "[REDACTED]"
MIN_SECRET_LENGTH = 8  # shorter values would match ordinary words; real keys and tokens are far longer


def token_of(header_value: str) -> str:
    """The secret in an auth header's value: the raw token of `Bearer …`, else the whole value."""
    scheme, _, token = header_value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else header_value


class Scrubber:
    """Replaces each known secret with [REDACTED] in bytes and text passed back to a client."""

    def __init__(self, header_values: Iterable[str]) -> None:
        tokens = {token_of(value) for value in header_values}
        self.texts = tuple(sorted((token for token in tokens if len(token) >= MIN_SECRET_LENGTH), key=len,
                                  reverse=True))  # longest first: a secret containing another goes whole
        self.secrets = tuple(text.encode() for text in self.texts)
        self.window = max((len(secret) for secret in self.secrets), default=1) - 1

    def bytes(self, data: bytes) -> bytes:
        for secret in self.secrets:
            if secret in data:
                data = data.replace(secret, MASK.encode())
        return data

    def error_body(self, body: builtins.bytes) -> builtins.bytes:  # `bytes` is the method above, here
        """An error body, scrubbed also of secrets its JSON spells with escapes (`\\u0073k-…`): error bodies are
        small, and the one place a proxy in front of a provider quotes what it received."""
        body = self.bytes(body)
        if not self.secrets or b"\\" not in body:
            return body
        try:
            decoded = json.dumps(json.loads(body), ensure_ascii=False)
        except (ValueError, RecursionError):
            return body
        scrubbed = self.text(decoded)
        return scrubbed.encode("utf-8", "backslashreplace") if scrubbed != decoded else body

    def text(self, value: str) -> str:
        for secret in self.texts:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def stream(self, whole_events: bool) -> StreamScrubber:
        """A scrubber for a body passed on in pieces. Pieces that are whole SSE events are scrubbed as they are
        (an event is never cut inside a secret); other pieces keep back a window of bytes until the next one,
        so that a secret cut in two by the network is still found."""
        return StreamScrubber(self, 0 if whole_events else self.window)


_SCRUBBERS: dict[frozenset[str], Scrubber] = {}
_SCRUBBERS_KEPT = 64  # sets of leases: they change when a token is refreshed or a credential added


def scrubber_for(header_values: Iterable[str]) -> Scrubber:
    """The Scrubber of these secrets, built once per set of them: every request scrubs with every lease the
    frontend holds, and building one (parse, sort, encode each) cost ~40 µs a request."""
    key = frozenset(header_values)
    scrubber = _SCRUBBERS.get(key)
    if scrubber is None:
        if len(_SCRUBBERS) >= _SCRUBBERS_KEPT:
            _SCRUBBERS.clear()
        scrubber = _SCRUBBERS[key] = Scrubber(key)
    return scrubber


class StreamScrubber:
    def __init__(self, scrubber: Scrubber, window: int) -> None:
        self.scrubber = scrubber
        self.window = window if scrubber.secrets else 0
        self.held = b""

    def feed(self, data: bytes) -> bytes:
        if not self.window:
            return self.scrubber.bytes(data) if self.scrubber.secrets else data
        data = self.scrubber.bytes(self.held + data if self.held else data)
        self.held = data[-self.window:]
        return data[: -self.window]

    def flush(self) -> bytes:
        held, self.held = self.held, b""
        return held

"""What every stream machine shares: the relay loop's view of a machine that parses its upstream with an SseParser,
and the reading of a Chat Completions upstream stream (its usage, its tool-call fragments, its finish_reason)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from dario.json_types import JsonObject
from frontend.translate import lenient_text
from frontend.translate.sse import SseParser
from frontend.usage import NO_USAGE, Usage, usage_from_openai

Call = TypeVar("Call")  # a machine's record of one tool call
MAX_ARGUMENT_BYTES = 2 * 1024 * 1024  # of one tool call's arguments, relayed in pieces: past this the stream fails


def chat_tool_call_key(position: int, call: JsonObject, known: Mapping[object, Call],
                       id_of: Callable[[Call], str]) -> object:
    """Which tool call a Chat Completions stream fragment belongs to: its `index` (its position when it has
    none), or its id when a server reuses index 0 for calls with distinct ids. `known` maps the keys seen so
    far to their calls; `id_of` reads a known call's id."""
    index = call.get("index") if isinstance(call.get("index"), int) else position
    identifier = lenient_text(call.get("id"))
    seen = known.get(index)
    if seen is not None and identifier and identifier != id_of(seen):
        return identifier
    if identifier and identifier in known:
        return identifier
    return index


class ParsedStream:
    """What the relay loop reads of a translating stream machine (the protocol of frontend.upstream.relay.StreamMachine)
    that parses its upstream with an SseParser."""

    parser: SseParser
    finished: bool

    @property
    def progress(self) -> int:
        """Upstream events taken in so far (keep-alives not counted)."""
        return self.parser.events

    @property
    def delivered(self) -> bool:
        return self.finished


class FromChatStream(ParsedStream):
    """A machine reading a Chat Completions stream: its usage is the last chunk's that carried one, and once a
    finish_reason has come, a failure of the relay (a missing [DONE]) still completes the answer."""

    usage: JsonObject | None = None
    usage_model: object = None  # the model named by the chunk carrying the usage
    finish_reason: str | None = None

    def keep_usage(self, chunk: JsonObject) -> None:
        if isinstance(chunk.get("usage"), dict):
            self.usage, self.usage_model = chunk["usage"], chunk.get("model")

    def upstream_usage(self) -> Usage:
        """The usage the upstream reported, as analytics records it."""
        return usage_from_openai({"usage": self.usage, "model": self.usage_model}) or NO_USAGE

    def fail(self, message: str, code: str) -> bytes:
        if self.finished:
            return b""
        if self.finish_reason is not None:
            return self._complete()
        return self._failed(message, code)

    def _complete(self) -> bytes:
        raise NotImplementedError

    def _failed(self, message: str, code: str) -> bytes:
        raise NotImplementedError

"""What every stream machine shares: the relay loop's view of a machine that parses its upstream with an SseParser,
and the reading of a Chat Completions upstream stream (its usage, its tool-call fragments, its finish_reason)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TypeVar

from dario.json_types import JsonObject
from frontend.token_estimate import TokenCounter, request_tokens
from frontend.translate import lenient_count, lenient_object, lenient_text
from frontend.translate.sse import SseParser
from frontend.usage import NO_USAGE, Usage, usage_from_openai

# What a translated stream that failed after the client's 200 is recorded as (status, error type), as the native
# path records a broken stream; an upstream's in-band error keeps the status its type stands for.
CUT_OFF = (502, "upstream_stream_broken")
NOT_JSON = (502, "upstream_invalid_json")
TOO_LARGE = (502, "upstream_body_too_large")
# What a client is told when a stream ends without saying why (a [DONE], or the end of the body, and no
# finish_reason): an answer cut off, not a whole one (translation.md §6.4).
CUT_OFF_MESSAGE = "the upstream's stream ended without a finish_reason: the answer is cut off"

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
    failure: tuple[int, str] | None = None  # (status, error type) to record when the stream ended in an error

    @property
    def progress(self) -> int:
        """Upstream events taken in so far (keep-alives not counted)."""
        return self.parser.events

    @property
    def delivered(self) -> bool:
        return self.finished and self.failure is None


class FromChatStream(ParsedStream):
    """A machine reading a Chat Completions stream: its usage is the last chunk's that carried one (else estimated
    from the request it answers and the output counted as it went by: translation.md §5.4), its served model the
    first one a chunk named; once a finish_reason has come, a failure of the relay (a missing [DONE]) still
    completes the answer."""

    usage: JsonObject | None = None
    usage_model: object = None  # the model named by the chunk carrying the usage
    served_model: str = ""  # the first model a chunk named
    finish_reason: str | None = None
    request: JsonObject | None = None  # the body the upstream got, for the input estimate
    produced: TokenCounter  # the output so far, for the estimate
    estimated = False
    _input_estimate = -1

    def start_counting(self, request: JsonObject | None) -> None:
        self.request, self.produced = request, TokenCounter()

    def keep_usage(self, chunk: JsonObject) -> None:
        if not self.served_model:
            self.served_model = lenient_text(chunk.get("model"))
        if isinstance(chunk.get("usage"), dict):
            self.usage, self.usage_model = chunk["usage"], chunk.get("model")

    def count_output(self, text: str) -> None:
        """Output text, reasoning, tool names and arguments as they go by, for the estimate."""
        self.produced.feed(text)

    def client_usage(self) -> JsonObject | None:
        """The usage to tell the client, in Chat's shape: the upstream's, with what it left out (or zero while
        there was something to count) estimated; None when there is nothing to report."""
        usage = lenient_object(self.usage)
        prompt, completion = lenient_count(usage.get("prompt_tokens")), lenient_count(usage.get("completion_tokens"))
        if prompt and completion:  # the upstream's own count: the output's is never read (nor made)
            return self.usage
        produced = self.produced.tokens
        if prompt and (completion or not produced):
            return self.usage
        if self.request is None and not produced:
            return self.usage
        self.estimated = True
        if not prompt:
            if self._input_estimate < 0:
                self._input_estimate = request_tokens(self.request or {})
            prompt = self._input_estimate
        completion = completion or produced
        return {**usage, "prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}

    def upstream_usage(self) -> Usage:
        """The usage as analytics records it: the upstream's, else the estimate (marked so)."""
        model = self.usage_model if isinstance(self.usage_model, str) and self.usage_model else self.served_model
        usage = usage_from_openai({"usage": self.client_usage(), "model": model})
        if usage is None:
            return Usage(served_model=self.served_model) if self.served_model else NO_USAGE
        return replace(usage, estimated=self.estimated)

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

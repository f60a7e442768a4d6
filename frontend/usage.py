"""Token usage read from upstream bodies as they went by, in either API format (pure; never raises)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from dario.json_types import JsonObject
from frontend import json_codec


@dataclass(frozen=True)
class Usage:
    """Token counts as the upstream reported them; -1 where it reported nothing. `estimated`: dario counted them
    itself (frontend.token_estimate) because the upstream reported none."""

    input_tokens: int = -1
    output_tokens: int = -1
    cache_read_tokens: int = -1
    reasoning_tokens: int = -1
    served_model: str = ""
    cache_write_tokens: int = -1
    estimated: bool = False


NO_USAGE = Usage()


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else -1


def _field(document: object, *path: str) -> object:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _model(document: JsonObject) -> str:
    model = document.get("model")
    return model if isinstance(model, str) else ""


def usage_from_openai(document: object) -> Usage | None:
    """Usage from a chat.completion or chat.completion.chunk object, or None when it carries none."""
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    usage = document["usage"]
    return Usage(
        input_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),
        cache_read_tokens=_count(_field(usage, "prompt_tokens_details", "cached_tokens")),
        reasoning_tokens=_count(_field(usage, "completion_tokens_details", "reasoning_tokens")),
        served_model=_model(document),
    )


def usage_from_anthropic(document: object) -> Usage | None:
    """Usage from an Anthropic Message (input_tokens excludes cache reads, as the API reports it)."""
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    usage = document["usage"]
    return Usage(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        cache_read_tokens=_count(usage.get("cache_read_input_tokens")),
        reasoning_tokens=_count(_field(usage, "output_tokens_details", "thinking_tokens")),
        served_model=_model(document),
        cache_write_tokens=_count(usage.get("cache_creation_input_tokens")),
    )


def _parse(body: bytes) -> object:
    try:
        return json_codec.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: nested too deeply
        return None


def _body_model(document: object) -> str:
    return _model(document) if isinstance(document, dict) else ""


def openai_usage_from_body(body: bytes) -> Usage:
    """The usage of a whole body; without one, its served model (as a stream's first chunk names it)."""
    document = _parse(body)
    return usage_from_openai(document) or _named(NO_USAGE, _body_model(document))


def anthropic_usage_from_body(body: bytes) -> Usage:
    document = _parse(body)
    return usage_from_anthropic(document) or _named(NO_USAGE, _body_model(document))


def _data_lines(sample: bytes, needle: bytes, newest_first: bool) -> Iterator[bytes]:
    """The payloads of the `data:` lines of an SSE sample that hold `needle`, found with bytes.find/rfind (in C)
    instead of splitting the whole sample into lines: a stream's tail is up to 64 KB, its usage in one line."""
    size = len(sample)
    position = sample.rfind(needle) if newest_first else sample.find(needle)
    while position >= 0:
        start = max(sample.rfind(b"\n", 0, position), sample.rfind(b"\r", 0, position)) + 1
        ends = [end for end in (sample.find(b"\n", position), sample.find(b"\r", position)) if end >= 0]
        stop = min(ends) if ends else size
        line = sample[start:stop]
        if line.startswith(b"data:"):
            yield line[5:].strip()
        position = sample.rfind(needle, 0, start) if newest_first else sample.find(needle, stop)


def _parse_line(payload: bytes) -> object:
    """A data line's JSON; bytes that are not UTF-8 read as U+FFFD (as the line's text would have)."""
    document = _parse(payload)
    return document if document is not None else _parse(payload.decode("utf-8", "replace").encode())


def _only_null_usage(text: bytes) -> bool:
    """Whether every `"usage"` in the text is `"usage":null`: OpenAI-compatible streams send it in every chunk
    but the last (in JSON text it is always the key itself: a quote inside a string is escaped)."""
    return text.count(b'"usage"') == text.count(b'"usage":null') + text.count(b'"usage": null')


def _data_payloads(sample: bytes, newest_first: bool) -> Iterator[object]:
    if _only_null_usage(sample):  # a stream that reports no usage: no line to look at
        return
    for payload in _data_lines(sample, b'"usage"', newest_first):
        if _only_null_usage(payload):
            continue
        document = _parse_line(payload)
        if document is not None:
            yield document


def _first_model(sample: bytes, *path: str) -> str:
    """The model the first event of a stream's head names (at `path`), for a stream that reports no usage."""
    for payload in _data_lines(sample, b'"model"', newest_first=False):
        model = _field(_parse_line(payload), *path, "model")
        if isinstance(model, str) and model:
            return model
    return ""


def _named(usage: Usage, served_model: str) -> Usage:
    return usage if usage.served_model or not served_model else replace(usage, served_model=served_model)


def openai_usage_from_stream(head: bytes, tail: bytes) -> Usage:
    """The last usage chunk in the complete `data:` lines of a stream's tail; without one, the served model of the
    first chunk (as a whole body names it)."""
    for document in _data_payloads(tail, newest_first=True):
        usage = usage_from_openai(document)
        if usage is not None:
            return usage
    return _named(NO_USAGE, _first_model(head))


def anthropic_usage_from_stream(head: bytes, tail: bytes) -> Usage:
    """message_start's usage (in the head) overwritten by the last message_delta's cumulative usage (in the tail)."""
    usage = NO_USAGE
    for document in _data_payloads(head, newest_first=False):
        if _field(document, "type") == "message_start":
            usage = usage_from_anthropic(_field(document, "message")) or NO_USAGE
            break
    for document in _data_payloads(tail, newest_first=True):
        if _field(document, "type") == "message_delta" and isinstance(_field(document, "usage"), dict):
            delta = usage_from_anthropic(document) or NO_USAGE
            return replace(
                _named(usage, _first_model(head, "message")),
                output_tokens=delta.output_tokens,
                input_tokens=delta.input_tokens if delta.input_tokens >= 0 else usage.input_tokens,
                cache_read_tokens=delta.cache_read_tokens if delta.cache_read_tokens >= 0 else usage.cache_read_tokens,
                cache_write_tokens=(delta.cache_write_tokens if delta.cache_write_tokens >= 0
                                    else usage.cache_write_tokens),
            )
    return _named(usage, _first_model(head, "message"))


def usage_from_responses(document: object) -> Usage | None:
    """Usage from an OpenAI Response object (input_tokens include cached ones, as in Chat Completions)."""
    if not isinstance(document, dict) or not isinstance(document.get("usage"), dict):
        return None
    usage = document["usage"]
    return Usage(
        input_tokens=_count(usage.get("input_tokens")),
        output_tokens=_count(usage.get("output_tokens")),
        cache_read_tokens=_count(_field(usage, "input_tokens_details", "cached_tokens")),
        reasoning_tokens=_count(_field(usage, "output_tokens_details", "reasoning_tokens")),
        served_model=_model(document),
    )


def responses_usage_from_body(body: bytes) -> Usage:
    document = _parse(body)
    return usage_from_responses(document) or _named(NO_USAGE, _body_model(document))


def responses_usage_from_stream(head: bytes, tail: bytes) -> Usage:
    """The usage of the response in the stream's last response.completed (or .incomplete) event."""
    for line in reversed(tail.decode("utf-8", errors="replace").replace("\r", "\n").split("\n")):
        if line.startswith("data:") and ('"response.completed"' in line or '"response.incomplete"' in line):
            response = _field(_parse(line[5:].strip().encode()), "response")
            if isinstance(response, dict):
                return usage_from_responses(response) or _named(NO_USAGE, _model(response))
    return NO_USAGE

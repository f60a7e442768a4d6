"""What differs between the two client APIs when a request passes natively to a backend of its own kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from frontend.errors import anthropic_stream_error_event, openai_stream_error_event, responses_stream_error_event
from frontend.request_parsing import (
    ParsedRequest,
    parse_chat_request,
    parse_count_tokens_request,
    parse_embeddings_request,
    parse_messages_request,
    parse_responses_request,
)
from frontend.usage import (
    Usage,
    anthropic_usage_from_body,
    anthropic_usage_from_stream,
    openai_usage_from_body,
    openai_usage_from_stream,
    responses_usage_from_body,
    responses_usage_from_stream,
    usage_from_anthropic,
    usage_from_openai,
    usage_from_responses,
)

ANTHROPIC_VERSION = "2023-06-01"


@dataclass(frozen=True)
class Dialect:
    api_format: str  # the API the client speaks: "openai" or "anthropic"
    native_kind: str  # the backend kind that speaks it natively
    upstream_path: str  # appended to the backend's base URL
    parse: Callable[[bytes], ParsedRequest]
    usage_from_body: Callable[[bytes], Usage]
    usage_of: Callable[[object], Usage | None]  # of a parsed whole body
    usage_from_stream: Callable[[bytes, bytes], Usage]
    stream_error: Callable[[str, str | None], bytes]
    end_marker: bytes  # the event after which the client has the whole answer
    passed_headers: tuple[str, ...] = ("accept",)  # client headers sent on upstream
    default_headers: dict[str, str] = field(default_factory=dict)  # sent when the client sent none


OPENAI_CHAT = Dialect(
    api_format="openai",
    native_kind="openai",
    upstream_path="/chat/completions",
    parse=parse_chat_request,
    usage_from_body=openai_usage_from_body,
    usage_of=usage_from_openai,
    usage_from_stream=openai_usage_from_stream,
    stream_error=openai_stream_error_event,
    end_marker=b"data: [DONE]",
)

ANTHROPIC_MESSAGES = Dialect(
    api_format="anthropic",
    native_kind="anthropic",
    upstream_path="/messages",
    parse=parse_messages_request,
    usage_from_body=anthropic_usage_from_body,
    usage_of=usage_from_anthropic,
    usage_from_stream=anthropic_usage_from_stream,
    stream_error=anthropic_stream_error_event,
    end_marker=b'"message_stop"',
    passed_headers=("accept", "anthropic-version", "anthropic-beta"),
    default_headers={"anthropic-version": ANTHROPIC_VERSION},
)

ANTHROPIC_COUNT_TOKENS = Dialect(
    api_format="anthropic",
    native_kind="anthropic",
    upstream_path="/messages/count_tokens",
    parse=parse_count_tokens_request,
    usage_from_body=lambda body: Usage(),
    usage_of=lambda document: None,
    usage_from_stream=lambda head, tail: Usage(),
    stream_error=anthropic_stream_error_event,
    end_marker=b"",
    passed_headers=("accept", "anthropic-version", "anthropic-beta"),
    default_headers={"anthropic-version": ANTHROPIC_VERSION},
)


OPENAI_RESPONSES = Dialect(
    api_format="responses",
    native_kind="responses",  # served natively by openai-responses backends (dario.presets.speaks)
    upstream_path="/responses",
    parse=parse_responses_request,
    usage_from_body=responses_usage_from_body,
    usage_of=usage_from_responses,
    usage_from_stream=responses_usage_from_stream,
    stream_error=responses_stream_error_event,
    end_marker=b'"response.completed"',
)


# Embeddings pass through to OpenAI-compatible backends only: the Anthropic API has none to translate to.
OPENAI_EMBEDDINGS = Dialect(
    api_format="embeddings",
    native_kind="openai",
    upstream_path="/embeddings",
    parse=parse_embeddings_request,
    usage_from_body=openai_usage_from_body,
    usage_of=usage_from_openai,
    usage_from_stream=openai_usage_from_stream,
    stream_error=openai_stream_error_event,
    end_marker=b"",
)


def api_format_of(path: str) -> str:
    """Which API's error shape a path answers in."""
    return "anthropic" if path.startswith("/v1/messages") else "openai"

"""Which translators serve one request whose backend speaks another API: the target API, the translated body, the
stream machine, and the answer and error translators, per direction (Chat ⇄ Anthropic, Responses → Chat or
Anthropic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dario.compat import Profile
from dario.json_types import JsonObject
from frontend.dialects import ANTHROPIC_MESSAGES, OPENAI_CHAT, Dialect
from frontend.error_mapping import from_translation_error
from frontend.errors import ApiError
from frontend.request_parsing import ParsedRequest
from frontend.translate import TranslationError
from frontend.translate.anthropic_answer_to_chat import to_chat_completion
from frontend.translate.anthropic_stream_to_chat import AnthropicToChatStream
from frontend.translate.anthropic_to_chat import to_chat_request
from frontend.translate.chat_answer_to_anthropic import to_anthropic_message
from frontend.translate.chat_stream_to_anthropic import ChatToAnthropicStream
from frontend.translate.chat_to_anthropic import to_anthropic_request
from frontend.translate.limits import CLAMPED_HEADER, clamp_output
from frontend.translate.responses.answer import anthropic_to_response, chat_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
from frontend.translate.schemas import gemini_tool_schemas
from frontend.translate.tool_names import (
    RestoredNames,
    nine_character_ids,
    restore_in_completion,
    shorten_tool_names,
)
from frontend.translate.upstream_errors import error_to_anthropic, error_to_openai, error_to_responses
from frontend.upstream.relay import StreamMachine


@dataclass
class Plan:
    """Everything that depends on the direction of one translated request."""

    target: Dialect
    body: JsonObject
    warnings: list[str]
    machine: StreamMachine
    answer: Callable[[JsonObject], JsonObject]
    error: Callable[[int, bytes], JsonObject]
    headers: dict[str, str] = field(default_factory=dict)  # dario's notes to the client (a clamped limit)


def plan(dialect: Dialect, parsed: ParsedRequest, upstream_model: str, default_max_tokens: int,
         backend_kind: str = "", profile: Profile | None = None) -> Plan:
    """How to translate one request for the backend's profile; the client keeps seeing the model it asked for."""
    chosen = _plan(dialect, parsed, upstream_model, default_max_tokens, backend_kind, profile)
    if profile is None:
        return chosen
    clamped = clamp_output(chosen.body, chosen.target.api_format, profile)
    if clamped:
        chosen.headers[CLAMPED_HEADER] = clamped
    if profile.compat.tool_names == "openai":
        _restore_names(chosen, shorten_tool_names(chosen.body, anthropic=chosen.target is ANTHROPIC_MESSAGES))
    if chosen.target is OPENAI_CHAT and profile.compat.tool_ids == "mistral9":
        nine_character_ids(chosen.body)
    if chosen.target is OPENAI_CHAT and profile.compat.tool_schemas == "gemini":
        gemini_tool_schemas(chosen.body)
    return chosen


def _restore_names(chosen: Plan, names: dict[str, str]) -> None:
    """The backend's calls of shortened tools come back under the client's names (answers and streams)."""
    if not names:
        return
    answer = chosen.answer
    chosen.answer = lambda completion: answer(restore_in_completion(completion, names))
    chosen.machine = RestoredNames(chosen.machine, names)  # type: ignore[assignment]


def _plan(dialect: Dialect, parsed: ParsedRequest, upstream_model: str, default_max_tokens: int,
          backend_kind: str, profile: Profile | None) -> Plan:
    document, model = parsed.document, parsed.model
    try:
        if dialect.api_format == "embeddings":
            raise ApiError(400, f"model {model!r} routes to a backend of the Anthropic Messages API, which has no "
                                "embeddings: route it to an OpenAI-compatible backend", param="model",
                           code="unsupported_endpoint")
        if dialect.api_format == "responses":
            return _responses_plan(document, model, upstream_model, default_max_tokens, backend_kind, profile)
        if dialect.api_format == "openai":
            body, warnings = to_anthropic_request(document, upstream_model, default_max_tokens, profile)
            include_usage = bool((document.get("stream_options") or {}).get("include_usage"))
            reasoning = bool(document.get("reasoning_effort"))
            machine = AnthropicToChatStream(model, include_usage, include_reasoning=reasoning)
            return Plan(ANTHROPIC_MESSAGES, body, warnings, machine,
                        lambda message: to_chat_completion(message, model, include_reasoning=reasoning),
                        error_to_openai)
        body, warnings = to_chat_request(document, upstream_model, profile)
        thinking = thinking_enabled(document)
        return Plan(OPENAI_CHAT, body, warnings, ChatToAnthropicStream(model, request=body, thinking=thinking),
                    lambda completion: to_anthropic_message(completion, model, thinking=thinking), error_to_anthropic)
    except TranslationError as error:
        raise from_translation_error(error) from None


def thinking_enabled(document: JsonObject) -> bool:
    """Whether an Anthropic request enabled thinking (`enabled` with a budget, or `adaptive`): only then does the
    answer carry thinking blocks, streamed or not (translation.md §5.3)."""
    thinking = document.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _responses_plan(document: JsonObject, model: str, upstream_model: str, default_max_tokens: int,
                    backend_kind: str, profile: Profile | None) -> Plan:
    """A Responses client on a backend without /responses: Chat Completions, or Anthropic Messages."""
    if backend_kind == "anthropic":
        body, warnings = responses_to_anthropic(document, upstream_model, default_max_tokens, profile)
        return Plan(ANTHROPIC_MESSAGES, body, warnings, AnthropicToResponsesStream(model, document),
                    lambda message: anthropic_to_response(message, model, document), error_to_responses)
    body, warnings = responses_to_chat(document, upstream_model, profile)
    return Plan(OPENAI_CHAT, body, warnings, ChatToResponsesStream(model, document, request=body),
                lambda completion: chat_to_response(completion, model, document), error_to_responses)

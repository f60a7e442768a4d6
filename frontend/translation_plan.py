"""Which translators serve one request whose backend speaks another API: the target API, the translated body, the
stream machine, and the answer and error translators, per direction (Chat ⇄ Anthropic, Responses → Chat or
Anthropic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
from frontend.translate.responses.answer import anthropic_to_response, chat_to_response
from frontend.translate.responses.anthropic_stream import AnthropicToResponsesStream
from frontend.translate.responses.chat_stream import ChatToResponsesStream
from frontend.translate.responses.request_to_anthropic import responses_to_anthropic
from frontend.translate.responses.request_to_chat import responses_to_chat
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


def plan(dialect: Dialect, parsed: ParsedRequest, upstream_model: str, default_max_tokens: int,
         backend_kind: str = "") -> Plan:
    """How to translate one request; the client keeps seeing the model it asked for."""
    document, model = parsed.document, parsed.model
    try:
        if dialect.api_format == "embeddings":
            raise ApiError(400, f"model {model!r} routes to a backend of the Anthropic Messages API, which has no "
                                "embeddings: route it to an OpenAI-compatible backend", param="model",
                           code="unsupported_endpoint")
        if dialect.api_format == "responses":
            return _responses_plan(document, model, upstream_model, default_max_tokens, backend_kind)
        if dialect.api_format == "openai":
            body, warnings = to_anthropic_request(document, upstream_model, default_max_tokens)
            include_usage = bool((document.get("stream_options") or {}).get("include_usage"))
            reasoning = bool(document.get("reasoning_effort"))
            machine = AnthropicToChatStream(model, include_usage, include_reasoning=reasoning)
            return Plan(ANTHROPIC_MESSAGES, body, warnings, machine,
                        lambda message: to_chat_completion(message, model), error_to_openai)
        body, warnings = to_chat_request(document, upstream_model)
        return Plan(OPENAI_CHAT, body, warnings, ChatToAnthropicStream(model),
                    lambda completion: to_anthropic_message(completion, model), error_to_anthropic)
    except TranslationError as error:
        raise from_translation_error(error) from None


def _responses_plan(document: JsonObject, model: str, upstream_model: str, default_max_tokens: int,
                    backend_kind: str) -> Plan:
    """A Responses client on a backend without /responses: Chat Completions, or Anthropic Messages."""
    if backend_kind == "anthropic":
        body, warnings = responses_to_anthropic(document, upstream_model, default_max_tokens)
        return Plan(ANTHROPIC_MESSAGES, body, warnings, AnthropicToResponsesStream(model, document),
                    lambda message: anthropic_to_response(message, model, document), error_to_responses)
    body, warnings = responses_to_chat(document, upstream_model)
    return Plan(OPENAI_CHAT, body, warnings, ChatToResponsesStream(model, document),
                lambda completion: chat_to_response(completion, model, document), error_to_responses)

"""An OpenAI Responses request → an Anthropic Messages request, through the Chat request it translates to
(responses.request_to_chat, then chat_to_anthropic); errors and warnings name the fields as the client sent them."""

from __future__ import annotations

import re

from dario.compat import Profile
from dario.json_types import JsonObject
from frontend.translate import TranslationError
from frontend.translate.chat_to_anthropic import to_anthropic_request
from frontend.translate.responses.request_to_chat import chat_request

# Chat field names a translation error or warning can carry, as the Responses client knows them.
RESPONSES_NAMES = {"max_completion_tokens": "max_output_tokens", "max_tokens": "max_output_tokens",
                   "reasoning_effort": "reasoning.effort", "response_format": "text.format",
                   "response_format.json_schema.schema": "text.format.schema", "verbosity": "text.verbosity",
                   "logprobs": "include"}
_MESSAGE_PARAM = re.compile(r"^messages\[(\d+)\]")


def _responses_param(param: str, origins: list[str]) -> str:
    match = _MESSAGE_PARAM.match(param)
    if match and int(match[1]) < len(origins):
        return origins[int(match[1])]
    return RESPONSES_NAMES.get(param, param)


def responses_to_anthropic(document: JsonObject, upstream_model: str, default_max_tokens: int,
                           profile: Profile | None = None) -> tuple[JsonObject, list[str]]:
    """A Responses request → an Anthropic Messages request (through Chat), errors named as the client sent them."""
    chat, warnings, origins = chat_request(document, upstream_model, reasoning_capable=True)
    try:
        body, more = to_anthropic_request(chat, upstream_model, default_max_tokens, profile)
    except TranslationError as error:
        raise TranslationError(_responses_param(error.param, origins), str(error).partition(": ")[2]) from None
    return body, warnings + [_responses_param(field, origins) for field in more]

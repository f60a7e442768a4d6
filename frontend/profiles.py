"""The compatibility profile of one request's target (dario.compat): the backend's preset (declared in config.toml,
else the preset its URL is on) with config.toml's overrides, and the capabilities of the model sent upstream; and
what a native request needs of it (a clamped output limit, Claude Code's billing header off Anthropic's API)."""

from __future__ import annotations

import dataclasses
from typing import Any

from dario.catalog import Backend
from dario.compat import Profile, compat_for, preset_of
from dario.config import Config
from frontend.memo import per_config
from frontend.translate.anthropic_to_chat import without_billing_header
from frontend.translate.limits import CLAMPED_HEADER, clamp_output
from frontend.translate.thinking_history import without_unverifiable_thinking

JsonObject = dict[str, Any]  # a JSON object as json.loads gives it


def profile_for(config: Config, backend: Backend, model: str, route_cap: int = 0) -> Profile:
    """The profile of a request to model on backend; a route's cap (its rule's max_output_tokens) lowers the
    backend's."""
    profile = _backend_profile(config, backend, model)
    if route_cap and not 0 < profile.compat.max_output_tokens <= route_cap:
        return dataclasses.replace(profile, compat=dataclasses.replace(profile.compat, max_output_tokens=route_cap))
    return profile


@per_config  # the same until config.toml or the backend changes (issue 13: 3% of a request's CPU)
def _backend_profile(config: Config, backend: Backend, model: str) -> Profile:
    declared = next((item.preset for item in config.backends if item.name == backend.name and item.preset), "")
    compat = compat_for(declared or preset_of(backend.base_url, backend.kind), config.compat.get(backend.name, {}))
    return Profile(compat, config.models.capabilities(model))


def adjust_native(document: JsonObject, api_format: str, profile: Profile) -> tuple[JsonObject | None, dict[str, str]]:
    """(the body to send instead, or None when the client's goes unchanged; dario's headers for the client)."""
    changed, headers = dict(document), {}  # a shallow copy: the client's document is never modified
    clamped = clamp_output(changed, api_format, profile)
    if clamped:
        headers[CLAMPED_HEADER] = clamped
    dropped = False
    if api_format == "anthropic" and not profile.compat.billing_header and changed.get("system"):
        system = without_billing_header(changed["system"])
        if system != changed["system"]:
            dropped = True
            changed["system"] = system
            if not system:
                del changed["system"]
    if api_format == "openai" and _limit_field(changed, profile):
        dropped = True
    if api_format == "anthropic":  # thinking blocks no Anthropic backend can verify (answers16, issue 16 item 8)
        cleaned, notes = without_unverifiable_thinking(changed)
        if cleaned is not None:
            changed, dropped = cleaned, True
            headers["x-dario-translation-dropped"] = ",".join(notes)
    if api_format == "openai" and isinstance(changed.get("messages"), list):
        messages = chat_messages_for(changed["messages"], profile)
        if messages is not None:
            changed["messages"], dropped = messages, True
    return (changed if clamped or dropped else None), headers


def _limit_field(document: JsonObject, profile: Profile) -> bool:
    """A Chat client's output limit moved to the field the backend reads, in place: max_completion_tokens to a
    server that knows only max_tokens (llama.cpp ignores it and runs to its context), max_tokens to a model that
    refuses it (OpenAI's reasoning models). OpenAI's own models that take either keep the client's."""
    wanted = profile.model.max_tokens_field or ("max_tokens" if profile.compat.max_tokens_field == "max_tokens"
                                                else "")
    other = "max_completion_tokens" if wanted == "max_tokens" else "max_tokens"
    if not wanted or other not in document or wanted in document:
        return False
    document[wanted] = document.pop(other)
    return True


def chat_messages_for(messages: list[Any], profile: Profile) -> list[Any] | None:
    """A Chat client's own messages as the backend takes them (None when they already are): `content: null` of
    tool-call turns told as "" where the profile says so (llama-cpp-python answers 500 to null), and system
    messages after the first merged into a leading one where it accepts none there (Gemma's, Qwen's templates)."""
    changed = False
    result = []
    for message in messages:
        if (profile.tool_call_content == "" and isinstance(message, dict) and message.get("role") == "assistant"
                and message.get("tool_calls") and message.get("content", "") is None):
            message, changed = {**message, "content": ""}, True
        result.append(message)
    if not profile.compat.system_inline:
        late = [index for index, message in enumerate(result) if isinstance(message, dict) and index and
                message.get("role") == "system" and isinstance(message.get("content"), str) and
                any(isinstance(earlier, dict) and earlier.get("role") != "system" for earlier in result[:index])]
        if late:
            texts = [result[index]["content"] for index in late]
            rest = [message for index, message in enumerate(result) if index not in late]
            if rest and isinstance(rest[0], dict) and rest[0].get("role") == "system" and \
                    isinstance(rest[0].get("content"), str):
                rest[0] = {**rest[0], "content": "\n\n".join([rest[0]["content"], *texts])}
            else:
                rest.insert(0, {"role": "system", "content": "\n\n".join(texts)})
            result, changed = rest, True
    return result if changed else None

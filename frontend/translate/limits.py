"""The client's output limit clamped to the backend's or the model's cap (Claude Code asks for 32000–128000
tokens, more than many models can give: backends refuse it, or a local server runs past its context), told to the
client in a response header (translation.md §1)."""

from __future__ import annotations

import json

from dario.compat import Profile
from dario.json_types import JsonObject

CLAMPED_HEADER = "x-dario-max-tokens-clamped"
# Where each API carries the output limit (Chat: either, max_completion_tokens first, as OpenAI reads them).
LIMIT_FIELDS = {"anthropic": ("max_tokens",), "openai": ("max_completion_tokens", "max_tokens"),
                "responses": ("max_output_tokens",)}
CHARACTERS_PER_TOKEN = 4  # a rough prompt size against the model's context (English text and JSON)


def output_cap(body: JsonObject, profile: Profile) -> int:
    """The most output tokens this request may ask for (0: no cap): the output cap, and what the prompt leaves of
    the context (estimated; a prompt that fills the context is left to the backend's own error)."""
    caps = [profile.output_cap] if profile.output_cap else []
    if profile.context_tokens:
        prompt = len(json.dumps(body, ensure_ascii=False)) // CHARACTERS_PER_TOKEN
        if profile.context_tokens > prompt:
            caps.append(profile.context_tokens - prompt)
    return min(caps) if caps else 0


def clamp_output(body: JsonObject, api_format: str, profile: Profile) -> str:
    """Lowers the body's output limit to the cap in place; "32000->8192" when it did, else ""."""
    cap = output_cap(body, profile)
    if not cap:
        return ""
    for field in LIMIT_FIELDS.get(api_format, ()):
        asked = body.get(field)
        if isinstance(asked, int) and not isinstance(asked, bool) and asked > cap:
            body[field] = cap
            return f"{asked}->{cap}"
    return ""

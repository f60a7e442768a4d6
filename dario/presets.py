"""Presets: the kind and base URL of well-known providers, so `dario backend add NAME --preset P` just works."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    kind: str
    base_url: str
    needs_key: bool = True


PRESETS: dict[str, Preset] = {
    "openai": Preset("openai-responses", "https://api.openai.com/v1"),
    "anthropic": Preset("anthropic", "https://api.anthropic.com/v1"),
    "openrouter": Preset("openai", "https://openrouter.ai/api/v1"),
    "groq": Preset("openai", "https://api.groq.com/openai/v1"),
    "together": Preset("openai", "https://api.together.xyz/v1"),
    "deepseek": Preset("openai", "https://api.deepseek.com/v1"),
    "mistral": Preset("openai", "https://api.mistral.ai/v1"),
    "ollama": Preset("openai", "http://127.0.0.1:11434/v1", needs_key=False),
    "vllm": Preset("openai", "http://127.0.0.1:8000/v1", needs_key=False),
    "lmstudio": Preset("openai", "http://127.0.0.1:1234/v1", needs_key=False),
    "litellm": Preset("openai", "http://127.0.0.1:4000/v1"),
}

# "openai-responses": an OpenAI-compatible backend that also serves the Responses API (POST /responses)
# natively, so Responses clients pass through to it untranslated; for Chat Completions it is an openai backend.
KINDS = ("openai", "anthropic", "openai-responses")


def speaks(kind: str, api: str) -> bool:
    """Whether a backend of this kind serves an API ("openai" chat, "anthropic", "responses") natively."""
    return kind == api or (kind == "openai-responses" and api in ("openai", "responses"))

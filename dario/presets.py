"""Presets: the kind and base URL of well-known providers, so `dario backend add NAME --preset P` just works.

Each base URL is the one the provider documents for its SDK users (README lists which were checked against the
provider's own page). Anthropic-kind URLs are in the SDK form without /v1 (dario adds it: dario.catalog.api_root).
"""

from __future__ import annotations

from dataclasses import dataclass

RESOURCE = "{resource}"  # a placeholder the user fills with --resource (Azure's resource name)


@dataclass(frozen=True)
class Preset:
    kind: str
    base_url: str
    needs_key: bool = True
    key_env: str = ""  # the variable the provider's own docs and SDKs read the key from

    @property
    def needs_resource(self) -> bool:
        return RESOURCE in self.base_url


PRESETS: dict[str, Preset] = {
    "openai": Preset("openai-responses", "https://api.openai.com/v1", key_env="OPENAI_API_KEY"),
    "anthropic": Preset("anthropic", "https://api.anthropic.com", key_env="ANTHROPIC_API_KEY"),
    "openrouter": Preset("openai", "https://openrouter.ai/api/v1", key_env="OPENROUTER_API_KEY"),
    "groq": Preset("openai", "https://api.groq.com/openai/v1", key_env="GROQ_API_KEY"),
    "together": Preset("openai", "https://api.together.xyz/v1", key_env="TOGETHER_API_KEY"),
    "deepseek": Preset("openai", "https://api.deepseek.com/v1", key_env="DEEPSEEK_API_KEY"),
    "mistral": Preset("openai", "https://api.mistral.ai/v1", key_env="MISTRAL_API_KEY"),
    "gemini": Preset("openai", "https://generativelanguage.googleapis.com/v1beta/openai", key_env="GEMINI_API_KEY"),
    "xai": Preset("openai", "https://api.x.ai/v1", key_env="XAI_API_KEY"),
    "fireworks": Preset("openai", "https://api.fireworks.ai/inference/v1", key_env="FIREWORKS_API_KEY"),
    "cerebras": Preset("openai", "https://api.cerebras.ai/v1", key_env="CEREBRAS_API_KEY"),
    "deepinfra": Preset("openai", "https://api.deepinfra.com/v1/openai", key_env="DEEPINFRA_API_KEY"),
    "perplexity": Preset("openai", "https://api.perplexity.ai", key_env="PERPLEXITY_API_KEY"),
    # Azure OpenAI's v1 API takes the key as `Authorization: Bearer` (Microsoft's own example passes it as the
    # OpenAI client's api_key), so it needs no api-key header: dario sends what the OpenAI SDK sends.
    "azure": Preset("openai", f"https://{RESOURCE}.openai.azure.com/openai/v1", key_env="AZURE_OPENAI_API_KEY"),
    # Anthropic-compatible endpoints (Claude Code's ANTHROPIC_BASE_URL for these providers).
    "deepseek-anthropic": Preset("anthropic", "https://api.deepseek.com/anthropic", key_env="DEEPSEEK_API_KEY"),
    "moonshot-anthropic": Preset("anthropic", "https://api.moonshot.ai/anthropic", key_env="MOONSHOT_API_KEY"),
    "zai-anthropic": Preset("anthropic", "https://api.z.ai/api/anthropic", key_env="ZAI_API_KEY"),
    "minimax-anthropic": Preset("anthropic", "https://api.minimax.io/anthropic", key_env="MINIMAX_API_KEY"),
    "ollama": Preset("openai", "http://127.0.0.1:11434/v1", needs_key=False),
    "vllm": Preset("openai", "http://127.0.0.1:8000/v1", needs_key=False),
    "lmstudio": Preset("openai", "http://127.0.0.1:1234/v1", needs_key=False),
    "llamacpp": Preset("openai", "http://127.0.0.1:8080/v1", needs_key=False),  # llama-server, llama-cpp-python
    "litellm": Preset("openai", "http://127.0.0.1:4000/v1", key_env="LITELLM_API_KEY"),
}

# "openai-responses": an OpenAI-compatible backend that also serves the Responses API (POST /responses)
# natively, so Responses clients pass through to it untranslated; for Chat Completions it is an openai backend.
KINDS = ("openai", "anthropic", "openai-responses")


def speaks(kind: str, api: str) -> bool:
    """Whether a backend of this kind serves an API ("openai" chat, "anthropic", "responses") natively."""
    return kind == api or (kind == "openai-responses" and api in ("openai", "responses"))


def preset_base_url(name: str, preset: Preset, resource: str = "") -> str:
    """The preset's URL with its placeholder filled; ValueError saying what to pass when it cannot be."""
    if not preset.needs_resource:
        return preset.base_url
    if not resource:
        raise ValueError(f"preset {name!r} needs your resource name: add --resource NAME "
                         f"(the NAME of {preset.base_url.replace(RESOURCE, 'NAME')}) or give --base-url")
    if not all(character.isalnum() or character == "-" for character in resource):
        raise ValueError(f"--resource {resource!r} must be letters, digits and '-' (an Azure resource name)")
    return preset.base_url.replace(RESOURCE, resource)

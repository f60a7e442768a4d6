"""Backend compatibility profiles and model capabilities, as data: how a backend wants its requests (the output
limit's field, the `content` of tool-call turns, usage in streams, …) and what a model accepts (thinking, sampling,
reasoning_effort, its output cap). Presets ship defaults; config.toml overrides them (docs/compatibility.md).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit

from dario.presets import PRESETS

MODELS_FILE = "models.toml"  # the capabilities dario ships (dario/models.toml)
CHOICES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "max_tokens_field": ("max_tokens", "max_completion_tokens"),
    "tool_call_content": ("", "null"),
    "tool_names": ("openai", "any"),
    "tool_ids": ("any", "mistral9"),
    "tool_schemas": ("any", "gemini"),
    "prefill": ("keep", "continue", "reject"),
    "thinking": ("adaptive", "budget", "none"),
})


@dataclass(frozen=True)
class Compat:
    """What one backend accepts. The defaults suit OpenAI-compatible servers (vLLM, llama.cpp, Ollama, LM Studio,
    LiteLLM, OpenRouter): the `openai` and `azure` presets differ where OpenAI's own API does."""

    max_tokens_field: str = "max_tokens"  # how the output limit is sent to an OpenAI-kind backend
    tool_call_content: str = ""  # `content` of an assistant turn that only calls tools: "" or "null"
    stream_usage: bool = True  # ask for a usage chunk (stream_options.include_usage) in streams
    system_inline: bool = False  # system messages after the first stay where they are (else merged into the first)
    tool_names: str = "openai"  # "openai": at most 64 of [a-zA-Z0-9_-], longer or other names shortened; "any"
    stop_max: int = 0  # most stop sequences accepted (0: no limit)
    tools_max: int = 0  # most tools accepted (0: no limit)
    top_k: bool = False  # Anthropic's top_k sent as is (vLLM, llama.cpp, Ollama, LM Studio, OpenRouter take it)
    tool_ids: str = "any"  # "mistral9": tool-call ids told as 9 letters and digits (Mistral refuses others)
    tool_schemas: str = "any"  # "gemini": keywords Gemini's OpenAI-compatible API refuses left out of tool schemas
    prefill: str = "keep"  # a trailing assistant turn: kept, "continue" (vLLM's continue_final_message), "reject"
    reasoning_replay: bool = False  # thinking of earlier turns sent back as `reasoning_content` (DeepSeek)
    # Claude Code's `x-anthropic-billing-header:` system block kept on the native path (never sent to Chat backends)
    billing_header: bool = True
    max_output_tokens: int = 0  # the client's output limit is clamped to this (0: no cap)
    context_tokens: int = 0  # the model's context: the output limit is clamped to what the prompt leaves of it


@dataclass(frozen=True)
class Capabilities:
    """What one model accepts; empty or zero fields leave the backend's profile or today's behaviour in force."""

    thinking: str = "budget"  # Anthropic models: adaptive thinking + effort, budget_tokens, or none
    sampling: bool = True  # temperature / top_p accepted (the newest Claude models refuse them)
    prefill: bool = True  # a final assistant turn is continued (false: refused with a 400 naming messages)
    reasoning_effort: bool = False  # OpenAI-kind models that take reasoning_effort (others answer 400)
    max_tokens_field: str = ""  # overrides the backend's (OpenAI's reasoning models need max_completion_tokens)
    max_output_tokens: int = 0
    context_tokens: int = 0


# The profile of each preset that differs from Compat's defaults; every other preset (and a backend with no
# preset) gets the defaults.
PRESET_COMPAT: Mapping[str, Mapping[str, object]] = MappingProxyType({
    # OpenAI: max_tokens is deprecated and refused by its reasoning models; null content is its own documented
    # form; more than 4 stop sequences and 128 tools are refused; system messages are taken anywhere.
    "openai": {"max_tokens_field": "max_completion_tokens", "tool_call_content": "null", "stop_max": 4,
               "tools_max": 128, "system_inline": True},
    "azure": {"max_tokens_field": "max_completion_tokens", "tool_call_content": "null", "stop_max": 4,
              "tools_max": 128, "system_inline": True},
    # Anthropic-compatible endpoints of other providers: Claude Code's billing block is only prompt text there.
    "deepseek-anthropic": {"billing_header": False},
    "moonshot-anthropic": {"billing_header": False},
    "zai-anthropic": {"billing_header": False},
    "minimax-anthropic": {"billing_header": False},
    "vllm": {"prefill": "continue", "top_k": True},  # continue_final_message + add_generation_prompt: false
    "llamacpp": {"top_k": True},
    "ollama": {"top_k": True},
    "lmstudio": {"top_k": True},
    "openrouter": {"top_k": True},
    "mistral": {"tool_ids": "mistral9"},
    "gemini": {"tool_schemas": "gemini"},
    "deepseek": {"reasoning_replay": True},  # thinking mode wants its reasoning_content back across a tool loop
})


def _fields(cls: type) -> dict[str, object]:
    return {item.name: item.default for item in dataclasses.fields(cls)}


COMPAT_FIELDS = _fields(Compat)
CAPABILITY_FIELDS = _fields(Capabilities)


def check_fields(table: Mapping[str, object], fields: Mapping[str, object], where: str) -> dict[str, object]:
    """The table's entries, each of its field's type (and choices); ValueError naming the first wrong one."""
    checked: dict[str, object] = {}
    for key, value in table.items():
        if key not in fields:
            raise ValueError(f"{where}.{key} is not a setting; use {', '.join(sorted(fields))}")
        default = fields[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}.{key} must be true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{where}.{key} must be a whole number ≥ 0, got {value!r}")
        elif not isinstance(value, str) or (key in CHOICES and value not in CHOICES[key] and value != default):
            choices = ", ".join(repr(choice) for choice in CHOICES.get(key, ()))
            raise ValueError(f"{where}.{key} must be one of {choices}, got {value!r}")
        checked[key] = value
    return checked


@functools.lru_cache(maxsize=256)  # asked per request, of a handful of backends
def preset_of(base_url: str, kind: str = "") -> str:
    """The preset of the backend's kind whose documented URL its base URL is on (same host and port), else ""."""
    parts = urlsplit(base_url)
    where = ((parts.hostname or "").replace("localhost", "127.0.0.1"), parts.port)
    for name, preset in PRESETS.items():
        if kind and (preset.kind == "anthropic") != (kind == "anthropic"):
            continue
        known = urlsplit(preset.base_url)
        if ((known.hostname or "").replace("localhost", "127.0.0.1"), known.port) == where:
            return name
    return ""


def compat_for(preset: str, overrides: Mapping[str, object]) -> Compat:
    """A backend's profile: its preset's (overrides may name another with `profile`), then its own overrides."""
    chosen = str(overrides.get("profile") or preset)
    values = {**PRESET_COMPAT.get(chosen, {}), **{key: value for key, value in overrides.items() if key != "profile"}}
    return Compat(**values)  # type: ignore[arg-type]


def _specificity(pattern: str) -> int:
    return sum(character not in "*?[]" for character in pattern)


@dataclass(frozen=True)
class ModelTable:
    """[models."GLOB"] entries: the user's (config.toml) over the shipped ones (dario/models.toml)."""

    user: Mapping[str, Mapping[str, object]]
    shipped: Mapping[str, Mapping[str, object]]

    def capabilities(self, model: str) -> Capabilities:
        """Each field from the most specific matching glob that sets it, config.toml's before the shipped ones."""
        name = model.lower()
        values: dict[str, object] = {}
        for table in (self.user, self.shipped):
            matching = sorted((pattern for pattern in table if fnmatch.fnmatchcase(name, pattern)),
                              key=_specificity, reverse=True)
            for pattern in matching:
                for key, value in table[pattern].items():
                    values.setdefault(key, value)
        return Capabilities(**values)  # type: ignore[arg-type]


def parse_models(document: object, source: str) -> Mapping[str, Mapping[str, object]]:
    """{lower-cased glob: fields} from a models table; ValueError naming a wrong field."""
    if not isinstance(document, Mapping):
        raise ValueError(f'{source} must be a table of model globs, like [models."my-model*"]')
    entries: dict[str, Mapping[str, object]] = {}
    for pattern, entry in document.items():
        where = f'{source}."{pattern}"'
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a table of capabilities")
        entries[str(pattern).lower()] = MappingProxyType(check_fields(entry, CAPABILITY_FIELDS, where))
    return MappingProxyType(entries)


@functools.cache
def shipped_models() -> Mapping[str, Mapping[str, object]]:
    """The capabilities shipped with dario (a broken file is a bug of the package: it raises)."""
    text = importlib.resources.files("dario").joinpath(MODELS_FILE).read_text(encoding="utf-8")
    return parse_models(tomllib.loads(text).get("models", {}), f"dario/{MODELS_FILE}: models")


@dataclass(frozen=True)
class Profile:
    """What the translators of one request follow: the backend's profile and the target model's capabilities."""

    compat: Compat = Compat()
    model: Capabilities = Capabilities()

    @property
    def max_tokens_field(self) -> str:
        return self.model.max_tokens_field or self.compat.max_tokens_field

    @property
    def tool_call_content(self) -> str | None:
        return None if self.compat.tool_call_content == "null" else ""

    @property
    def output_cap(self) -> int:
        caps = [cap for cap in (self.compat.max_output_tokens, self.model.max_output_tokens) if cap > 0]
        return min(caps) if caps else 0

    @property
    def context_tokens(self) -> int:
        caps = [cap for cap in (self.compat.context_tokens, self.model.context_tokens) if cap > 0]
        return min(caps) if caps else 0



def default_profile(model: str, preset: str = "") -> Profile:
    """A preset's profile with the shipped capabilities of a model (what a backend gets with no configuration)."""
    return Profile(compat_for(preset, {}), ModelTable(MappingProxyType({}), shipped_models()).capabilities(model))

"""Compatibility profiles and model capabilities are data: presets ship defaults, config.toml overrides them."""

from __future__ import annotations

import re

import pytest

from dario.compat import Compat, Profile, compat_for, preset_of
from dario.config import ConfigError, parse_config


def test_the_generic_profile_suits_openai_compatible_servers_and_openai_keeps_its_own() -> None:
    generic, openai = compat_for("", {}), compat_for("openai", {})
    assert (generic.max_tokens_field, generic.tool_call_content, generic.stream_usage) == ("max_tokens", "", True)
    assert (openai.max_tokens_field, openai.tool_call_content, openai.stop_max) == ("max_completion_tokens", "null", 4)
    assert Profile(openai).tool_call_content is None and Profile(generic).tool_call_content == ""
    assert compat_for("vllm", {}).prefill == "continue" and compat_for("deepseek", {}).reasoning_replay
    assert compat_for("ollama", {}) == compat_for("lmstudio", {}) == compat_for("openrouter", {}) == Compat(top_k=True)
    assert compat_for("groq", {}) == compat_for("litellm", {}) == compat_for("", {}) == Compat()


@pytest.mark.parametrize(("url", "preset"), [
    ("https://api.openai.com/v1", "openai"), ("http://localhost:8000/v1", "vllm"),
    ("http://127.0.0.1:11434/v1", "ollama"), ("https://openrouter.ai/api/v1", "openrouter"),
    ("http://127.0.0.1:9999/v1", ""),
])
def test_a_backend_added_with_the_cli_gets_the_profile_of_the_preset_its_url_is_on(url: str, preset: str) -> None:
    assert preset_of(url) == preset


def test_config_overrides_a_backends_profile_in_either_table() -> None:
    config = parse_config('[backends.local]\npreset = "vllm"\n[backends.local.compat]\nmax_output_tokens = 8192\n'
                          '[compat.cli-added]\nprofile = "openai"\ntool_call_content = ""\n')
    assert config.backends[0].preset == "vllm"
    local = compat_for("vllm", config.compat["local"])
    assert (local.prefill, local.max_output_tokens) == ("continue", 8192)
    added = compat_for("", config.compat["cli-added"])
    assert (added.max_tokens_field, added.tool_call_content) == ("max_completion_tokens", "")


def test_model_capabilities_ship_as_data_and_config_extends_them() -> None:
    config = parse_config('[models."claude-opus-5-5*"]\nsampling = true\n[models."my-local*"]\n'
                          'context_tokens = 32768\nmax_output_tokens = 8192\n')
    opus = config.models.capabilities("claude-opus-5-5")
    assert (opus.thinking, opus.sampling) == ("adaptive", True)  # the user's glob wins the field it sets
    assert config.models.capabilities("claude-sonnet-4-5").thinking == "budget"
    assert config.models.capabilities("anthropic/claude-opus-4-7").thinking == "adaptive"
    o3 = config.models.capabilities("o3-mini")
    assert o3.reasoning_effort and o3.max_tokens_field == "max_completion_tokens"
    assert not config.models.capabilities("gpt-4o-mini").reasoning_effort
    assert config.models.capabilities("gpt-4o-mini").max_output_tokens == 16384
    local = Profile(Compat(max_output_tokens=4096), config.models.capabilities("My-Local-7B"))
    assert (local.output_cap, local.context_tokens) == (4096, 32768)


@pytest.mark.parametrize(("text", "needle"), [
    ("[compat.x]\ntool_call_content = 0\n", "compat.x.tool_call_content must be one of"),
    ('[compat.x]\nmax_tokens_field = "limit"\n', "compat.x.max_tokens_field must be one of"),
    ("[compat.x]\nstream_usage = 1\n", "compat.x.stream_usage must be true or false"),
    ('[compat.x]\nprofile = "nope"\n', "compat.x.profile 'nope' is not one of"),
    ("[compat.x]\nunknown = 1\n", "compat.x.unknown is not a setting"),
    ('[models."m*"]\nthinking = "always"\n', 'models."m*".thinking must be one of'),
    ('[models."m*"]\nmax_output_tokens = -1\n', 'max_output_tokens must be a whole number'),
    ('[backends.b]\npreset = "vllm"\ncompat = 3\n', "backends.b.compat must be a table"),
])
def test_a_bad_compatibility_setting_is_refused_naming_it(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_config(text)


def test_documented_output_caps_ship_for_older_claude_models() -> None:
    config = parse_config("")
    assert config.models.capabilities("claude-3-5-haiku-20241022").max_output_tokens == 8192
    assert config.models.capabilities("claude-opus-4-1-20250805").max_output_tokens == 32000
    assert config.models.capabilities("claude-sonnet-4-5").max_output_tokens == 64000
    assert config.models.capabilities("claude-opus-5").max_output_tokens == 0  # unknown: no cap

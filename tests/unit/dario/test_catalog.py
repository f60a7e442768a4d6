"""Base URLs: the Anthropic SDK form gets its /v1, OpenAI-compatible ones are used as documented (the presets' own
URLs are checked in test_presets.py)."""

from __future__ import annotations

import pytest

from dario.catalog import api_root, base_url_candidates, has_version


@pytest.mark.parametrize(("kind", "given", "root"), [
    ("anthropic", "https://api.anthropic.com", "https://api.anthropic.com/v1"),
    ("anthropic", "https://api.anthropic.com/v1/", "https://api.anthropic.com/v1"),
    ("anthropic", "https://api.deepseek.com/anthropic", "https://api.deepseek.com/anthropic/v1"),
    ("anthropic", "https://api.z.ai/api/anthropic/", "https://api.z.ai/api/anthropic/v1"),
    ("openai", "https://generativelanguage.googleapis.com/v1beta/openai/",
     "https://generativelanguage.googleapis.com/v1beta/openai"),
    ("openai", "https://api.perplexity.ai", "https://api.perplexity.ai"),  # no version: not guessed
    ("openai-responses", "https://api.openai.com/v1", "https://api.openai.com/v1"),
])
def test_api_root_adds_v1_only_to_the_anthropic_sdk_form(kind: str, given: str, root: str) -> None:
    assert api_root(kind, given) == root


def test_only_an_openai_url_with_no_version_anywhere_is_also_probed_with_v1() -> None:
    assert base_url_candidates("openai", "http://127.0.0.1:11434") == ["http://127.0.0.1:11434",
                                                                       "http://127.0.0.1:11434/v1"]
    for versioned in ("https://api.deepinfra.com/v1/openai", "https://api.z.ai/api/paas/v4",
                      "https://generativelanguage.googleapis.com/v1beta/openai"):
        assert has_version(versioned) and base_url_candidates("openai", versioned) == [versioned]
    assert base_url_candidates("anthropic", "https://api.minimax.io/anthropic") == [
        "https://api.minimax.io/anthropic/v1"]

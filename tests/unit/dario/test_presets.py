"""Every preset names a kind and a URL dario can call; Azure's needs its resource name."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from dario.names import check_base_url
from dario.presets import KINDS, PRESETS, preset_base_url


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_names_a_kind_and_a_callable_url(name: str) -> None:
    preset = PRESETS[name]
    assert preset.kind in KINDS
    url = preset_base_url(name, preset, "my-resource")
    assert check_base_url(url) is None
    parts = urlsplit(url)
    assert parts.scheme == "https" or parts.hostname == "127.0.0.1"
    assert not (preset.kind == "anthropic" and url.endswith("/v1")), "Anthropic presets use the SDK form"
    assert preset.needs_key == (parts.hostname != "127.0.0.1" or name == "litellm")


def test_azure_needs_its_resource_name() -> None:
    with pytest.raises(ValueError, match="--resource NAME"):
        preset_base_url("azure", PRESETS["azure"])
    with pytest.raises(ValueError, match="letters, digits"):
        preset_base_url("azure", PRESETS["azure"], "evil.example/x")
    assert preset_base_url("azure", PRESETS["azure"], "contoso") == "https://contoso.openai.azure.com/openai/v1"

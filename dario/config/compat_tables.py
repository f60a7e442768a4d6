"""config.toml's compatibility settings: each backend's profile overrides ([backends.NAME.compat], or
[compat.NAME] for a backend added with the CLI) and the model capabilities ([models."GLOB"]) over the shipped ones.

    [compat.my-server]                # a backend added with `dario backend add`
    profile = "vllm"                  # start from a preset's profile
    max_output_tokens = 8192

    [models."qwen3*"]
    context_tokens = 32768
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dario.compat import COMPAT_FIELDS, PRESET_COMPAT, ModelTable, check_fields, parse_models, shipped_models
from dario.config.errors import ConfigError
from dario.presets import PRESETS

PROFILES = tuple(sorted({*PRESETS, *PRESET_COMPAT, "generic"}))


def _overrides(table: object, where: str) -> Mapping[str, object]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"config.toml: {where} must be a table, like [{where}]")
    settings = dict(table)
    profile = settings.pop("profile", None)
    try:
        checked = check_fields(settings, COMPAT_FIELDS, where)
    except ValueError as error:
        raise ConfigError(f"config.toml: {error}") from None
    if profile is not None:
        if profile not in PROFILES:
            raise ConfigError(f"config.toml: {where}.profile {profile!r} is not one of {', '.join(PROFILES)}")
        checked["profile"] = profile
    return MappingProxyType(checked)


def parse_compat(document: Mapping[str, object]) -> Mapping[str, Mapping[str, object]]:
    """{backend name: its overrides} from [compat.NAME] and [backends.NAME.compat] tables."""
    found: dict[str, Mapping[str, object]] = {}
    tables = document.get("compat", {})
    if not isinstance(tables, Mapping):
        raise ConfigError("config.toml: compat must be tables, like [compat.my-backend]")
    for name, table in tables.items():
        found[str(name)] = _overrides(table, f"compat.{name}")
    backends = document.get("backends", {})
    for name, table in backends.items() if isinstance(backends, Mapping) else ():
        if isinstance(table, Mapping) and "compat" in table:
            if name in found:
                raise ConfigError(f"config.toml: backend {name!r} has both [compat.{name}] and "
                                  f"[backends.{name}.compat]: keep one")
            found[str(name)] = _overrides(table["compat"], f"backends.{name}.compat")
    return MappingProxyType(found)


def parse_model_table(document: Mapping[str, object]) -> ModelTable:
    try:
        return ModelTable(user=parse_models(document.get("models", {}), "config.toml: models"),
                          shipped=shipped_models())
    except ValueError as error:
        raise ConfigError(str(error)) from None

"""[pricing."GLOB"] tables: USD per million tokens by model glob (config.toml's, and pool_service's shipped ones)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from dario.config.errors import ConfigError
from dario.config.sections import PRICE_FIELDS, PriceFields


def parse_prices(table: object, source: str) -> Mapping[str, PriceFields]:
    """{lower-cased glob: fields} from a [pricing] table, or ConfigError naming the bad field."""
    if not isinstance(table, Mapping):
        raise ConfigError(f'{source} must be a table of model globs, like [pricing."gpt-4o*"]')
    entries: dict[str, PriceFields] = {}
    for pattern, entry in table.items():
        name = f'{source}."{pattern}"'
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{name} must be a table with input = … and output = … (USD per million tokens)")
        for key, value in entry.items():
            if key not in PRICE_FIELDS:
                raise ConfigError(f"{name}.{key} is not a pricing field; use {', '.join(sorted(PRICE_FIELDS))}")
            if key == "input_includes_cache_read":
                if not isinstance(value, bool):
                    raise ConfigError(f"{name}.{key} must be true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}.{key} must be a number of USD per million tokens ≥ 0, got {value!r}")
        entries[str(pattern).lower()] = MappingProxyType(dict(entry))
    return MappingProxyType(entries)

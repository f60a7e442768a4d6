"""Estimated request cost from token counts: the shipped pricing.toml, overridden by config.toml's [pricing].

Lookup: an alias (opus, sonnet, haiku, config.toml's [aliases]) is first replaced by the model it names, as routing
does; then config's globs, then the shipped ones; within each, the most specific matching glob wins (most literal
characters, ties to the one listed first). Pure apart from reading the shipped file once.
"""

from __future__ import annotations

import fnmatch
import importlib.resources
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

from dario.config import DEFAULT_ALIASES, Config
from dario.config.prices import parse_prices
from dario.config.sections import PriceFields

PER_TOKENS = 1_000_000
PRICES_KEPT = 4096
_WILDCARDS = frozenset("*?[]")
_PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class Price:
    """USD per million tokens; input_includes_cache_read says how the upstream counts input (see pricing.toml)."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    input_includes_cache_read: bool = True


def _specificity(pattern: str) -> int:
    return sum(character not in _WILDCARDS for character in pattern)


def _best_match(entries: Mapping[str, PriceFields], model: str) -> PriceFields | None:
    """The entry of the most specific glob matching model (case-insensitive), or None."""
    best: PriceFields | None = None
    best_specificity = -1
    for pattern, entry in entries.items():
        if fnmatch.fnmatchcase(model, pattern) and _specificity(pattern) > best_specificity:
            best, best_specificity = entry, _specificity(pattern)
    return best


def _shipped() -> Mapping[str, PriceFields]:
    text = importlib.resources.files("pool_service").joinpath("pricing.toml").read_text(encoding="utf-8")
    return parse_prices(tomllib.loads(text).get("pricing", {}), "pool_service/pricing.toml: pricing")


@dataclass(frozen=True)
class Pricing:
    """The shipped table and the user's overrides, both {glob: fields}; build it with Pricing.load."""

    shipped: Mapping[str, PriceFields]
    overrides: Mapping[str, PriceFields]
    aliases: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ALIASES)
    # price() per model name, as found (None included): matching every glob was ~9% of pool_service's CPU, once
    # per recorded row. Names come from clients: at most PRICES_KEPT, then forgotten all at once. A new Pricing
    # (a [pricing] reload) starts with none.
    _prices: dict[str, Price | None] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    @classmethod
    def load(cls, overrides: Mapping[str, object] | None = None, aliases: Mapping[str, str] | None = None) -> Pricing:
        """The shipped prices with a [pricing] table of overrides (checked as config.toml's) on top, and the
        aliases requests may name (the built-in ones unless given)."""
        return cls(shipped=_shipped(), overrides=parse_prices(overrides or {}, "config.toml: pricing"),
                   aliases=DEFAULT_ALIASES if aliases is None else aliases)

    @classmethod
    def from_config(cls, config: Config) -> Pricing:
        """From config.toml: its [pricing], and its [aliases] with the built-in ones."""
        return cls(shipped=_shipped(), overrides=config.pricing, aliases=config.routing.aliases)

    def price(self, model: str) -> Price | None:
        """The price of model (an alias: of the model it names), or None when no glob matches it."""
        try:
            return self._prices[model]
        except KeyError:
            pass
        if len(self._prices) >= PRICES_KEPT:
            self._prices.clear()
        found = self._prices[model] = self._find(model)
        return found

    def _find(self, model: str) -> Price | None:
        model = self.aliases.get(model, model).lower()
        override = _best_match(self.overrides, model)
        shipped = _best_match(self.shipped, model)
        if override is None and shipped is None:
            return None
        merged: dict[str, float | bool] = {**(shipped or {}), **(override or {})}
        if "input" not in merged or "output" not in merged:
            return None
        for name in ("cache_read", "cache_write"):
            merged.setdefault(name, merged["input"])
        return Price(
            **{name: float(merged[name]) for name in _PRICE_FIELDS},
            input_includes_cache_read=bool(merged.get("input_includes_cache_read", True)),
        )

    def table(self) -> list[dict[str, object]]:
        """Every glob priced, as the dashboard's Config page shows it (issue 14): config.toml's first, then the
        shipped ones it does not override; cache prices default to the input price, as price() fills them."""
        entries = []
        for source, table in (("config.toml", self.overrides), ("shipped", self.shipped)):
            for pattern, fields in table.items():
                if source == "shipped" and pattern in self.overrides:
                    continue
                merged = {**self.shipped.get(pattern, {}), **fields}
                if "input" not in merged or "output" not in merged:
                    continue
                entries.append({
                    "pattern": pattern, "source": source,
                    **{name: float(merged.get(name, merged["input"])) for name in _PRICE_FIELDS},
                    "input_includes_cache_read": bool(merged.get("input_includes_cache_read", True)),
                })
        return entries

    def cost(
        self,
        model: str,
        input_tokens: int | None,
        output_tokens: int | None,
        cache_read_tokens: int | None = None,
        cache_write_tokens: int | None = None,
    ) -> float | None:
        """Estimated USD; None for an unknown model or when the upstream reported no input or output count."""
        price = self.price(model) if model else None
        if price is None or (input_tokens is None and output_tokens is None):
            return None
        input_tokens, output_tokens = input_tokens or 0, output_tokens or 0
        cache_read, cache_write = cache_read_tokens or 0, cache_write_tokens or 0
        uncached = input_tokens
        # OpenAI-style input already counts the cache reads; a count smaller than the reads cannot, whatever
        # the table says (e.g. a Claude model behind an OpenAI-compatible gateway that reports Anthropic's way).
        if price.input_includes_cache_read and input_tokens >= cache_read:
            uncached = input_tokens - cache_read
        return (
            uncached * price.input
            + output_tokens * price.output
            + cache_read * price.cache_read
            + cache_write * price.cache_write
        ) / PER_TOKENS

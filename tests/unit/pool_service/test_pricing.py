"""Cost estimates: the shipped list prices, the most specific glob, config overrides, cache conventions."""

from __future__ import annotations

import importlib.resources
import re
import tomllib

import pytest

from dario.config import ConfigError, parse_config
from pool_service import pricing
from pool_service.pricing import Price, Pricing


@pytest.fixture(scope="module")
def shipped() -> Pricing:
    return Pricing.load()


def test_the_pricing_table_ships_inside_the_package() -> None:
    text = importlib.resources.files("pool_service").joinpath("pricing.toml").read_text(encoding="utf-8")
    assert "list prices" in text.lower() and '[pricing."' in text


def test_every_shipped_entry_has_all_four_prices_and_a_cache_convention() -> None:
    text = importlib.resources.files("pool_service").joinpath("pricing.toml").read_text(encoding="utf-8")
    entries = tomllib.loads(text)["pricing"]
    assert len(entries) >= 20
    for pattern, entry in entries.items():
        assert set(entry) == {"input", "output", "cache_read", "cache_write", "input_includes_cache_read"}, pattern
        assert entry["output"] >= 0 and entry["input"] > 0, pattern


@pytest.mark.parametrize(("model", "input_price", "output_price"), [
    ("claude-opus-4-5-20251101", 5.0, 25.0),
    ("claude-opus-4-1-20250805", 15.0, 75.0),
    ("claude-opus-4-20250514", 15.0, 75.0),
    ("claude-sonnet-4-5-20250929", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-5-haiku-20241022", 0.80, 4.0),
    ("gpt-4o-2024-08-06", 2.50, 10.0),
    ("gpt-4o-mini", 0.15, 0.60),
    ("gpt-4.1", 2.0, 8.0),
    ("gpt-4.1-mini", 0.40, 1.60),
    ("o3", 2.0, 8.0),
    ("o3-mini", 1.10, 4.40),
    ("o4-mini", 1.10, 4.40),
    ("gpt-5", 1.25, 10.0),
    ("gpt-5-mini", 0.25, 2.0),
    ("GPT-5-Nano", 0.05, 0.40),
])
def test_the_most_specific_shipped_glob_prices_a_model(shipped: Pricing, model: str, input_price: float,
                                                        output_price: float) -> None:
    price = shipped.price(model)
    assert price is not None and (price.input, price.output) == (input_price, output_price)


def test_anthropic_usage_prices_cache_reads_and_writes_on_top_of_input(shipped: Pricing) -> None:
    # Anthropic's input_tokens excludes cache reads and writes.
    cost = shipped.cost("claude-sonnet-4-5", 1000, 500, cache_read_tokens=2000, cache_write_tokens=400)
    assert cost == pytest.approx((1000 * 3 + 500 * 15 + 2000 * 0.30 + 400 * 3.75) / 1e6)


def test_openai_usage_takes_cached_tokens_out_of_input(shipped: Pricing) -> None:
    # OpenAI's prompt_tokens already includes the cached ones.
    cost = shipped.cost("gpt-4o", 2000, 100, cache_read_tokens=1000)
    assert cost == pytest.approx((1000 * 2.5 + 100 * 10 + 1000 * 1.25) / 1e6)


def test_cache_reads_larger_than_input_are_never_subtracted(shipped: Pricing) -> None:
    cost = shipped.cost("gpt-4o", 10, 0, cache_read_tokens=1000)
    assert cost == pytest.approx((10 * 2.5 + 1000 * 1.25) / 1e6)


def test_unknown_models_and_missing_usage_have_no_cost(shipped: Pricing) -> None:
    assert shipped.price("llama3.1:8b") is None
    assert shipped.cost("llama3.1:8b", 100, 100) is None
    assert shipped.cost("", 100, 100) is None
    assert shipped.cost("gpt-4o", None, None) is None
    assert shipped.cost("gpt-4o", 1_000_000, None) == pytest.approx(2.5)


def test_config_overrides_win_and_fill_missing_fields_from_the_shipped_entry() -> None:
    pricing = Pricing.load({"gpt-4o*": {"input": 1.0}, "claude-*": {"output": 1.0}})
    assert pricing.price("gpt-4o") == Price(input=1.0, output=10.0, cache_read=1.25, cache_write=2.5,
                                            input_includes_cache_read=True)
    # An override beats a more specific shipped glob: overrides are looked at first.
    assert pricing.price("claude-opus-4-1").output == 1.0
    assert pricing.price("claude-opus-4-1").input == 15.0


def test_an_override_can_price_a_new_model_with_cache_prices_defaulting_to_input() -> None:
    pricing = Pricing.load({"Local-*": {"input": 0, "output": 0}, "my-model": {"input": 2.0, "output": 4.0}})
    assert pricing.cost("local-llama", 1000, 1000) == 0.0
    assert pricing.price("my-model") == Price(input=2.0, output=4.0, cache_read=2.0, cache_write=2.0)
    assert pricing.cost("my-model", 1_000_000, 500_000, cache_read_tokens=0) == pytest.approx(4.0)
    assert pricing.price("my-model-2") is None


def test_within_overrides_the_most_specific_glob_wins_whatever_the_order() -> None:
    pricing = Pricing.load({"x-*": {"input": 1.0, "output": 1.0}, "x-large*": {"input": 9.0, "output": 9.0}})
    assert pricing.price("x-large-2").input == 9.0
    assert pricing.price("x-small").input == 1.0


@pytest.mark.parametrize(("overrides", "message"), [
    ({"gpt-4o": 3}, 'pricing."gpt-4o" must be a table'),
    ({"gpt-4o": {"input": "cheap"}}, 'pricing."gpt-4o".input must be a number'),
    ({"gpt-4o": {"input": -1}}, 'pricing."gpt-4o".input must be a number'),
    ({"gpt-4o": {"input": True}}, 'pricing."gpt-4o".input must be a number'),
    ({"gpt-4o": {"prompt": 1.0}}, 'pricing."gpt-4o".prompt is not a pricing field'),
    ({"gpt-4o": {"input_includes_cache_read": 1}}, "must be true or false"),
    (["gpt-4o"], "must be a table of model globs"),
])
def test_a_bad_pricing_override_is_a_config_error_naming_the_field(overrides: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Pricing.load(overrides)


def test_the_built_in_aliases_are_priced_as_the_models_they_name(shipped: Pricing) -> None:
    for alias, family_price in (("opus", 5.0), ("sonnet", 3.0), ("haiku", 1.0)):
        price = shipped.price(alias)
        assert price is not None and price.input == family_price, alias
    assert shipped.price("claude-opus-4-1-20250805").input == 15.0  # the specific 4.x entries still win


def test_config_aliases_resolve_before_pricing() -> None:
    config = parse_config('[aliases]\ncheap = "house-1"\n\n[pricing."house*"]\ninput = 2\noutput = 4\n')
    pricing = Pricing.from_config(config)
    assert pricing.cost("cheap", 1_000_000, 1_000_000) == pytest.approx(6.0)
    assert pricing.price("opus") is not None  # the built-in ones stay


def test_remembered_prices_are_the_ones_found_and_stay_bounded(shipped: Pricing) -> None:
    models = ["claude-opus-5", "gpt-4o-mini", "opus", "no-such-model", "GPT-4O-MINI"]
    first = [shipped.price(model) for model in models]
    assert first == [shipped._find(model) for model in models]  # as matched every time
    assert [shipped.price(model) for model in models] == first  # and the same when remembered
    for number in range(pricing.PRICES_KEPT + 10):  # names come from clients: never more than PRICES_KEPT
        shipped.price(f"client-model-{number}")
    assert len(shipped._prices) <= pricing.PRICES_KEPT
    assert shipped.price("gpt-4o-mini") == first[1]


def test_a_reloaded_pricing_remembers_nothing_of_the_old_one() -> None:
    old = Pricing.load({"my-model": {"input": 1.0, "output": 2.0}})
    assert old.price("my-model") == Price(1.0, 2.0, 1.0, 1.0)
    new = Pricing.load({"my-model": {"input": 3.0, "output": 4.0}})
    assert new.price("my-model") == Price(3.0, 4.0, 3.0, 3.0)

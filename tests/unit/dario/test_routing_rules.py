"""config.toml routing rules: order, rewrite, aliases, default, forced model, and bad files named by line."""

from __future__ import annotations

import pytest

from dario.catalog import Backend, Catalog
from dario.config import ConfigError, Environment, RoutingConfig, parse_config
from dario.routing import NoRoute, route


def routing_of(text: str, forced_model: str = "") -> RoutingConfig:
    """The routing of a config.toml (the whole file is parsed, as every process does)."""
    return parse_config(text, Environment(forced_model=forced_model)).routing


def backend(name: str, kind: str = "openai") -> Backend:
    url = f"http://127.0.0.1:1/{name}"
    return Backend(name=name, kind=kind, base_url=url, credentials=("default",), revisions=(1,))


CATALOG = Catalog(backends=(backend("openai"), backend("claude", "anthropic"), backend("groq"), backend("local")),
                  generation=1)
CONFIG = """
default_backend = "local"

[aliases]
fast = "llama-3.1-8b-instant"
smart = "claude-opus-5-5"

[[routes]]
match = "llama-*"
backend = "groq"

[[routes]]
match = "gpt-4o*"
backend = "claude"
model = "claude-sonnet-5-5"

[[routes]]
match = "*"
backend = "openai"
"""


@pytest.mark.parametrize(
    ("model", "backend_name", "upstream_model"),
    [
        ("llama-3.1-70b", "groq", "llama-3.1-70b"),
        ("fast", "groq", "llama-3.1-8b-instant"),  # alias first, then the rules
        ("gpt-4o-mini", "claude", "claude-sonnet-5-5"),  # rewrite
        ("smart", "openai", "claude-opus-5-5"),  # the catch-all rule comes before the defaults
        ("anything-else", "openai", "anything-else"),
    ],
)
def test_rules_apply_in_order_after_aliases(model: str, backend_name: str, upstream_model: str) -> None:
    chosen = route(model, CATALOG, routing_of(CONFIG))
    assert (chosen.backend.name, chosen.model) == (backend_name, upstream_model)


def test_without_rules_the_defaults_and_default_aliases_apply() -> None:
    routing = routing_of('default_backend = "local"\n')
    assert route("opus", CATALOG, routing).model == "claude-opus-5-5"
    assert route("opus", CATALOG, routing).backend.name == "claude"
    assert route("gpt-4o", CATALOG, routing).backend.name == "openai"
    assert route("mistral-large", CATALOG, routing).backend.name == "local"


def test_forced_model_replaces_every_requested_model() -> None:
    routing = routing_of(CONFIG, forced_model="llama-3.3-70b")
    chosen = route("gpt-4o", CATALOG, routing)
    assert (chosen.backend.name, chosen.model) == ("groq", "llama-3.3-70b")


def test_rule_naming_a_missing_backend_says_which_line() -> None:
    routing = routing_of('[[routes]]\nmatch = "x-*"\nbackend = "gone"\n')
    with pytest.raises(NoRoute, match="line 1"):
        route("x-1", CATALOG, routing)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("default_backend = ", "line 1"),
        ('[[routes]]\nmatch = "a"\nbackend = "b"\n\n[[routes]]\nbackend = "b"\n', "line 5: routes[1].match"),
        ('a_setting_with = = 2\n', "line 1: Invalid value"),
        ('[[routes]]\nmatch = "a"\nbackend = "../b"\n', "line 1: routes[0].backend"),
        ('[[routes]]\nmatch = "a"\nbackend = "b"\ntarget = "c"\n', "unknown key(s) target"),
        ('\n\n[aliases]\nfast = 3\n', "line 3: aliases"),
        ('mystery = 1\n', "line 1: unknown setting 'mystery'"),
        ('[[routes]]\nmatch = "a"\nbackend = "b"\nfallbacks = "c"\n', "fallbacks"),
    ],
)
def test_bad_files_are_refused_naming_the_line(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        routing_of(text)
    assert needle in str(caught.value)


def test_a_rule_whose_backend_is_gone_still_tries_its_fallbacks_in_order() -> None:
    routing = routing_of('[[routes]]\nmatch = "claude-*"\nbackend = "removed"\n'
                            'fallbacks = ["also-removed", "groq:llama-3.3-70b", "openai"]\n')
    chosen = route("claude-sonnet-5-5", CATALOG, routing)
    assert (chosen.backend.name, chosen.model, chosen.rule_line) == ("groq", "llama-3.3-70b", 1)
    assert chosen.fallbacks == ("openai",)
    with pytest.raises(NoRoute, match="nor any of its fallbacks \\(gone\\)"):
        route("claude-x", CATALOG, routing_of('[[routes]]\nmatch = "*"\nbackend = "x"\nfallbacks = ["gone"]\n'))


def test_a_rule_may_set_its_own_deadlines_which_its_fallbacks_keep() -> None:
    routing = parse_config('[[routes]]\nmatch = "slow-*"\nbackend = "gone"\nfallbacks = ["local"]\n'
                           'first_token_seconds = 30\nstall_seconds = 12.5\n').routing
    rule = routing.rules[0]
    assert (rule.first_token_seconds, rule.stall_seconds) == (30.0, 12.5)
    chosen = route("slow-model", Catalog(backends=(backend("local"),), generation=1), routing)
    assert (chosen.backend.name, chosen.first_token_seconds, chosen.stall_seconds) == ("local", 30.0, 12.5)


@pytest.mark.parametrize("value", ["-1", '"10"', "true"])
def test_a_rules_deadline_must_be_a_number_of_seconds(value: str) -> None:
    with pytest.raises(ConfigError, match="routes\\[0\\].first_token_seconds must be a number of seconds"):
        parse_config(f'[[routes]]\nmatch = "a"\nbackend = "b"\nfirst_token_seconds = {value}\n')

"""README, Routing default routing rules, table-driven."""

import pytest

from dario.catalog import Backend, Catalog
from dario.config import RoutingConfig
from dario.routing import NoRoute, default_kind, route


def backend(name: str, kind: str = "openai") -> Backend:
    url = f"http://127.0.0.1:1/{name}"
    return Backend(name=name, kind=kind, base_url=url, credentials=("default",), revisions=(1,))


CATALOG = Catalog(
    backends=(backend("groq"), backend("claude", "anthropic"), backend("openai"), backend("local")),
    generation=1,
)


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        ("gpt-4o-mini", "openai"),
        ("o1-preview", "openai"),
        ("o3-mini", "openai"),
        ("o4-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
        ("text-embedding-3-small", "openai"),
        ("claude-sonnet-4-5", "anthropic"),
        ("opus", "anthropic"),
        ("sonnet", "anthropic"),
        ("haiku", "anthropic"),
        ("llama-3.1-70b", None),
        ("gpt4", None),
    ],
)
def test_default_rules_pick_a_kind_by_model_name(model: str, kind: str | None) -> None:
    assert default_kind(model) == kind


def test_openai_models_go_to_the_first_openai_backend_in_catalog_order() -> None:
    assert route("gpt-4o", CATALOG).backend.name == "groq"


def test_claude_models_go_to_the_first_anthropic_backend() -> None:
    assert route("claude-haiku-4-5", CATALOG).backend.name == "claude"


def test_other_models_go_to_the_configured_default_backend() -> None:
    chosen = route("llama-3.1-70b", CATALOG, RoutingConfig(default_backend="local"))
    assert chosen.backend.name == "local"
    assert chosen.model == "llama-3.1-70b"


def test_openai_model_without_openai_backend_falls_back_to_default() -> None:
    catalog = Catalog(backends=(backend("local"),), generation=1)
    only_anthropic = Catalog(backends=(backend("claude", "anthropic"),), generation=1)
    assert route("gpt-4o", catalog).backend.name == "local"  # first openai backend is "local"
    assert route("gpt-4o", only_anthropic, RoutingConfig(default_backend="claude")).backend.name == "claude"


def test_unknown_model_without_default_names_the_model_and_how_to_add_a_route() -> None:
    with pytest.raises(NoRoute) as caught:
        route("mystery-model", CATALOG)
    message = str(caught.value)
    assert "mystery-model" in message
    # The backends exist: the fix is a rule or default_backend, not another backend (issue 12 item 4).
    assert "no backend (groq, claude, openai, local) lists it" in message and "dario backend add" not in message
    assert '[[routes]] rule (match = "mystery-model", backend = "groq")' in message and "default_backend" in message


def test_a_model_a_backend_listed_routes_to_it_after_the_rules_before_the_defaults() -> None:
    listed = {"mystery-model": "local", "gpt-4o": "local"}
    assert route("mystery-model", CATALOG, listed=listed).backend.name == "local"
    assert route("gpt-4o", CATALOG, listed=listed).backend.name == "local"
    with pytest.raises(NoRoute, match="an openai backend"):
        route("gpt-4o", Catalog(backends=(), generation=0), listed=listed)


def test_missing_default_backend_is_reported_by_name() -> None:
    with pytest.raises(NoRoute, match="'nowhere'"):
        route("mystery-model", CATALOG, RoutingConfig(default_backend="nowhere"))


def test_empty_catalog_routes_nothing() -> None:
    with pytest.raises(NoRoute, match="an openai backend"):
        route("gpt-4o", Catalog(backends=(), generation=0))

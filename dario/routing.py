"""Chooses the backend and upstream model for a requested model: config rules, aliases, then the defaults (README,
Routing)."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from dario.catalog import Backend, Catalog
from dario.config import RoutingConfig, Rule

OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-")
ANTHROPIC_PREFIXES = ("claude-",)
ANTHROPIC_ALIASES = ("opus", "sonnet", "haiku")
NO_RULES = RoutingConfig()


class NoRoute(Exception):
    """No backend serves the requested model; the message says how to add one."""


@dataclass(frozen=True)
class Route:
    backend: Backend
    model: str  # the model sent upstream (after aliases and rewrites)
    rule_line: int = 0  # the config.toml line of the rule that matched; 0 for the defaults
    fallbacks: tuple[str, ...] = ()  # the rule's fallbacks: "backend" or "backend:model"
    output_cap: int = 0  # the rule's max_output_tokens (its fallbacks keep it)


def fallback_routes(first: Route, catalog: Catalog) -> list[Route]:
    """The routes tried after `first` fails before any byte reached the client; unknown backends are skipped
    (the rule may name one that was removed: the others still serve)."""
    routes = []
    for target in first.fallbacks:
        name, _, model = target.partition(":")
        backend = catalog.by_name(name)
        if backend is not None and backend.credentials:
            routes.append(Route(backend, model or first.model, first.rule_line, output_cap=first.output_cap))
    return routes


def _without_primary(model: str, upstream_model: str, rule: Rule, catalog: Catalog) -> Route:
    """A rule whose backend is gone (removed while the rule stayed) still has its fallbacks: the first that
    exists serves, the rest stay its fallbacks."""
    for index, target in enumerate(rule.fallbacks):
        name, _, fallback_model = target.partition(":")
        backend = catalog.by_name(name)
        if backend is not None and backend.credentials:
            return Route(backend, fallback_model or upstream_model, rule.line, rule.fallbacks[index + 1:],
                         rule.max_output_tokens)
    tried = f" nor any of its fallbacks ({', '.join(rule.fallbacks)})" if rule.fallbacks else ""
    raise NoRoute(
        f"model {model!r} matches the rule at config.toml line {rule.line}, which names backend "
        f"{rule.backend!r}; no such backend exists{tried}. Add it with `dario backend add` or fix the rule."
    )


def default_kind(model: str) -> str | None:
    """The backend kind the default rules send a model to, or None when no default rule matches."""
    if model.startswith(OPENAI_PREFIXES):
        return "openai"
    if model.startswith(ANTHROPIC_PREFIXES) or model in ANTHROPIC_ALIASES:
        return "anthropic"
    return None


def route(model: str, catalog: Catalog, routing: RoutingConfig = NO_RULES) -> Route:
    """Returns where a request for model goes, or raises NoRoute with a message the user can act on."""
    requested = routing.forced_model or model
    resolved = routing.aliases.get(requested, requested)
    for rule in routing.rules:
        if fnmatchcase(resolved, rule.match) or fnmatchcase(requested, rule.match):
            backend = catalog.by_name(rule.backend)
            if backend is None:
                return _without_primary(model, rule.model or resolved, rule, catalog)
            return Route(backend, rule.model or resolved, rule.line, rule.fallbacks, rule.max_output_tokens)
    kind = default_kind(resolved)
    if kind is not None:
        backend = catalog.first_of_kind(kind)
        if backend is not None:
            return Route(backend, resolved)
    if routing.default_backend:
        backend = catalog.by_name(routing.default_backend)
        if backend is not None:
            return Route(backend, resolved)
        raise NoRoute(
            f"no route for model {model!r}: the default backend {routing.default_backend!r} "
            "does not exist. Add it with `dario backend add` or change default_backend in config.toml."
        )
    wanted = f"an {kind} backend" if kind else "a backend"
    raise NoRoute(
        f"no route for model {model!r}: add {wanted} (e.g. `dario backend add NAME --preset openai --key-stdin`), "
        "a [[routes]] rule, or default_backend = \"NAME\" in $DARIO_HOME/config.toml"
    )

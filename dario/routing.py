"""Chooses the backend and upstream model for a requested model: config rules, aliases, then the defaults (README,
Routing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from types import MappingProxyType

from dario.catalog import Backend, Catalog
from dario.config import RoutingConfig, Rule

OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-")
ANTHROPIC_PREFIXES = ("claude-",)
ANTHROPIC_ALIASES = ("opus", "sonnet", "haiku")
NO_RULES = RoutingConfig()
NOTHING_LISTED: Mapping[str, str] = MappingProxyType({})


class NoRoute(Exception):
    """No backend serves the requested model; the message says how to add one."""


@dataclass(frozen=True)
class Route:
    backend: Backend
    model: str  # the model sent upstream (after aliases and rewrites)
    rule_line: int = 0  # the config.toml line of the rule that matched; 0 for the defaults
    fallbacks: tuple[str, ...] = ()  # the rule's fallbacks: "backend" or "backend:model"
    output_cap: int = 0  # the rule's max_output_tokens (its fallbacks keep it)
    first_token_seconds: float = 0.0  # the rule's own deadlines (0: [limits]'s), fallbacks included
    stall_seconds: float = 0.0


def fallback_routes(first: Route, catalog: Catalog) -> list[Route]:
    """The routes tried after `first` fails before any byte reached the client; unknown backends are skipped
    (the rule may name one that was removed: the others still serve)."""
    routes = []
    for target in first.fallbacks:
        name, _, model = target.partition(":")
        backend = catalog.by_name(name)
        if backend is not None and backend.credentials:
            routes.append(Route(backend, model or first.model, first.rule_line, output_cap=first.output_cap,
                                first_token_seconds=first.first_token_seconds, stall_seconds=first.stall_seconds))
    return routes


def _without_primary(model: str, upstream_model: str, rule: Rule, catalog: Catalog) -> Route:
    """A rule whose backend is gone (removed while the rule stayed) still has its fallbacks: the first that
    exists serves, the rest stay its fallbacks."""
    for index, target in enumerate(rule.fallbacks):
        name, _, fallback_model = target.partition(":")
        backend = catalog.by_name(name)
        if backend is not None and backend.credentials:
            return Route(backend, fallback_model or upstream_model, rule.line, rule.fallbacks[index + 1:],
                         output_cap=rule.max_output_tokens, first_token_seconds=rule.first_token_seconds,
                         stall_seconds=rule.stall_seconds)
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


def route(model: str, catalog: Catalog, routing: RoutingConfig = NO_RULES,
          listed: Mapping[str, str] = NOTHING_LISTED) -> Route:
    """Returns where a request for model goes, or raises NoRoute with a message the user can act on. `listed`
    maps the models backends listed (GET /models) to the first backend that listed each: such a model goes there,
    unless a rule says otherwise (issue 12 item 4)."""
    requested = routing.forced_model or model
    resolved = routing.aliases.get(requested, requested)
    for rule in routing.rules:
        if fnmatchcase(resolved, rule.match) or fnmatchcase(requested, rule.match):
            backend = catalog.by_name(rule.backend)
            if backend is None:
                return _without_primary(model, rule.model or resolved, rule, catalog)
            return Route(backend, rule.model or resolved, rule.line, rule.fallbacks, output_cap=rule.max_output_tokens,
                         first_token_seconds=rule.first_token_seconds, stall_seconds=rule.stall_seconds)
    owner = catalog.by_name(listed.get(resolved, ""))
    if owner is not None and owner.credentials:
        return Route(owner, resolved)
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
    if catalog.backends:  # the backends exist: what is missing is a way to this model
        names = ", ".join(backend.name for backend in catalog.backends)
        example = catalog.backends[0].name
        raise NoRoute(
            f"no route for model {model!r}: no rule matches it and no backend ({names}) lists it in GET /models; "
            f"add a [[routes]] rule (match = \"{resolved}\", backend = \"{example}\") or "
            f"default_backend = \"{example}\" to $DARIO_HOME/config.toml"
            + (f", or an {kind} backend" if kind else "")
        )
    wanted = f"an {kind} backend" if kind else "a backend"
    raise NoRoute(
        f"no route for model {model!r}: add {wanted} (e.g. `dario backend add NAME --preset openai --key-stdin`), "
        "a [[routes]] rule, or default_backend = \"NAME\" in $DARIO_HOME/config.toml"
    )

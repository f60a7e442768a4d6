"""Chooses the backend for a requested model by SPEC §4's default rules (pure; rules from config come later)."""

from __future__ import annotations

from dataclasses import dataclass

from frontend.catalog import Backend, Catalog

OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-")
ANTHROPIC_PREFIXES = ("claude-",)
ANTHROPIC_ALIASES = ("opus", "sonnet", "haiku")


class NoRoute(Exception):
    """No backend serves the requested model; the message says how to add one."""


@dataclass(frozen=True)
class Route:
    backend: Backend
    model: str


def default_kind(model: str) -> str | None:
    """The backend kind the default rules send a model to, or None when no default rule matches."""
    if model.startswith(OPENAI_PREFIXES):
        return "openai"
    if model.startswith(ANTHROPIC_PREFIXES) or model in ANTHROPIC_ALIASES:
        return "anthropic"
    return None


def route(model: str, catalog: Catalog, default_backend: str = "") -> Route:
    """Returns where a request for model goes, or raises NoRoute with a message the user can act on."""
    kind = default_kind(model)
    if kind is not None:
        backend = catalog.first_of_kind(kind)
        if backend is not None:
            return Route(backend, model)
    if default_backend:
        backend = catalog.by_name(default_backend)
        if backend is not None:
            return Route(backend, model)
        raise NoRoute(
            f"no route for model {model!r}: the default backend {default_backend!r} set in config.toml "
            "does not exist. Add it with `dario backend add` or change default_backend."
        )
    wanted = f"an {kind} backend" if kind else "a backend"
    raise NoRoute(
        f"no route for model {model!r}: add {wanted} (e.g. `dario backend add NAME --preset openai --key-stdin`) "
        "or set default_backend = \"NAME\" in $DARIO_HOME/config.toml"
    )

"""Routing rules from $DARIO_HOME/config.toml (SPEC §4): ordered glob rules, aliases, a default backend.

Pure parsing and validation, shared by the frontend (which reloads it on change) and `dario routes`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dario.names import check_name
from dario.settings import ConfigError

DEFAULT_ALIASES = MappingProxyType(
    {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}
)
RULE_KEYS = {"match", "backend", "model", "fallbacks"}
TOP_KEYS = {"routes", "aliases", "default_backend", "server", "limits", "translation", "credentials", "pools",
            "analytics", "pricing", "backends"}  # [backends.NAME]: read by credential_service (key_env)


@dataclass(frozen=True)
class Rule:
    match: str  # a glob on the requested model (after aliases)
    backend: str
    model: str = ""  # rewrite: the model sent upstream; empty keeps the requested one
    fallbacks: tuple[str, ...] = ()  # other targets, "backend" or "backend:model" (used by pools)
    line: int = 0


@dataclass(frozen=True)
class RoutingConfig:
    rules: tuple[Rule, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ALIASES)
    default_backend: str = ""
    forced_model: str = ""  # `dario proxy --model=NAME`: every request uses this model


def _line_of(text: str, pattern: str, occurrence: int = 0) -> int:
    found = [number for number, line in enumerate(text.splitlines(), 1) if re.match(pattern, line.strip())]
    return found[occurrence] if occurrence < len(found) else 0


def _rule(entry: object, index: int, text: str) -> Rule:
    line = _line_of(text, r"^\[\[routes\]\]", index)
    where = f"config.toml line {line}: routes[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = set(entry) - RULE_KEYS
    if unknown:
        allowed = ", ".join(sorted(RULE_KEYS))
        raise ConfigError(f"{where} has unknown key(s) {', '.join(sorted(unknown))}; allowed: {allowed}")
    match, backend, model = entry.get("match"), entry.get("backend"), entry.get("model", "")
    if not isinstance(match, str) or not match:
        raise ConfigError(f"{where}.match must be a non-empty glob string such as \"claude-*\"")
    if not isinstance(backend, str) or check_name(backend):
        raise ConfigError(f"{where}.backend must name a backend (see `dario backend list`)")
    if not isinstance(model, str):
        raise ConfigError(f"{where}.model must be a string")
    fallbacks = entry.get("fallbacks", [])
    if not isinstance(fallbacks, list) or not all(isinstance(item, str) and item for item in fallbacks):
        raise ConfigError(f"{where}.fallbacks must be a list of \"backend\" or \"backend:model\" strings")
    return Rule(match=match, backend=backend, model=model, fallbacks=tuple(fallbacks), line=line)


def parse_routing(text: str, default_backend_override: str = "", forced_model: str = "") -> RoutingConfig:
    """Parses config.toml text; raises ConfigError naming the line of what is wrong."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        line = int(found[1]) if found else max(1, len(text.splitlines()))
        raise ConfigError(f"config.toml line {line}: {error}") from None
    unknown = set(document) - TOP_KEYS
    if unknown:
        line = _line_of(text, rf"^\[?\[?{re.escape(sorted(unknown)[0])}\b")
        raise ConfigError(f"config.toml line {line}: unknown setting {sorted(unknown)[0]!r}")
    routes = document.get("routes", [])
    if not isinstance(routes, list):
        line = _line_of(text, r"^routes")
        raise ConfigError(f"config.toml line {line}: routes must be an array of [[routes]] tables")
    rules = tuple(_rule(entry, index, text) for index, entry in enumerate(routes))
    aliases = document.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(value, str) and value for value in aliases.values()):
        line = _line_of(text, r"^\[aliases\]")
        raise ConfigError(f"config.toml line {line}: aliases map names to model strings")
    default_backend = default_backend_override or document.get("default_backend", "")
    if not isinstance(default_backend, str):
        line = _line_of(text, r"^default_backend")
        raise ConfigError(f"config.toml line {line}: default_backend must be a string")
    return RoutingConfig(rules=rules, aliases=MappingProxyType({**DEFAULT_ALIASES, **aliases}),
                         default_backend=default_backend, forced_model=forced_model)

"""config.toml's routing: ordered [[routes]] glob rules, [aliases] and default_backend; errors name the line."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from dario.config.environment import Environment
from dario.config.errors import ConfigError, line_of
from dario.config.sections import DEFAULT_ALIASES, RoutingConfig, Rule
from dario.names import check_name

RULE_KEYS = frozenset({"match", "backend", "model", "fallbacks", "max_output_tokens", "first_token_seconds",
                       "stall_seconds"})
DEADLINE_KEYS = ("first_token_seconds", "stall_seconds")


def _rule(entry: object, index: int, text: str) -> Rule:
    line = line_of(text, r"^\[\[routes\]\]", index)
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
    cap = entry.get("max_output_tokens", 0)
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
        raise ConfigError(f"{where}.max_output_tokens must be a whole number of tokens ≥ 0")
    deadlines = {}
    for key in DEADLINE_KEYS:
        value = entry.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != value:
            raise ConfigError(f"{where}.{key} must be a number of seconds (0: the [limits] default)")
        deadlines[key] = float(value)
    return Rule(match=match, backend=backend, model=model, fallbacks=tuple(fallbacks), line=line,
                max_output_tokens=cap, **deadlines)


def parse_routing(document: Mapping[str, object], text: str, environment: Environment) -> RoutingConfig:
    """The routing of a parsed config.toml (text gives the lines); DARIO_DEFAULT_BACKEND wins over the file's."""
    routes = document.get("routes", [])
    if not isinstance(routes, list):
        line = line_of(text, r"^routes")
        raise ConfigError(f"config.toml line {line}: routes must be an array of [[routes]] tables")
    rules = tuple(_rule(entry, index, text) for index, entry in enumerate(routes))
    aliases = document.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(value, str) and value for value in aliases.values()):
        line = line_of(text, r"^\[aliases\]")
        raise ConfigError(f"config.toml line {line}: aliases map names to model strings")
    default_backend = environment.default_backend or document.get("default_backend", "")
    if not isinstance(default_backend, str):
        line = line_of(text, r"^default_backend")
        raise ConfigError(f"config.toml line {line}: default_backend must be a string")
    return RoutingConfig(rules=rules, aliases=MappingProxyType({**DEFAULT_ALIASES, **aliases}),
                         default_backend=default_backend, forced_model=environment.forced_model)

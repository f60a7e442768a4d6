"""The one config.toml parser: text and environment in, a validated Config out, or a ConfigError naming what
(and, where it can, the line) is wrong. Environment variables win over config.toml, which wins over the defaults.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from typing import Any, TypeVar

from dario.config.backends import parse_backends
from dario.config.cluster import parse_cluster
from dario.config.compat_tables import parse_compat, parse_model_table
from dario.config.environment import Environment, Paths, file_signature
from dario.config.errors import ConfigError, line_of
from dario.config.prices import parse_prices
from dario.config.routing_rules import parse_routing
from dario.config.sections import (
    AnalyticsConfig,
    Config,
    CredentialsConfig,
    LimitsConfig,
    LoginLimits,
    PoolsConfig,
    ServerConfig,
    TranslationConfig,
    UpstreamLimits,
)

SECTIONS = ("server", "limits", "translation", "credentials", "pools", "analytics")  # tables of settings
TOP_KEYS = frozenset({*SECTIONS, "cluster", "pricing", "backends", "routes", "aliases", "default_backend", "compat",
                      "models"})
T = TypeVar("T")


def _toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        line = int(found[1]) if found else max(1, len(text.splitlines()))
        raise ConfigError(f"config.toml line {line}: {error}") from None


def _section(document: Mapping[str, object], name: str, text: str) -> Mapping[str, object]:
    section = document.get(name, {})
    if not isinstance(section, Mapping):
        line = line_of(text, rf"^{name}\b")
        raise ConfigError(f"config.toml line {line}: {name} must be a table, like [{name}]")
    return section


def _number(value: object, name: str, kind: type[int] | type[float]) -> int | float:
    try:
        if not isinstance(value, str | int | float):
            raise TypeError(value)
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return number


def _numbers(cls: type[T], table: Mapping[str, object], section: str, key_prefix: str = "") -> T:
    """cls with each int or float field from table's key_prefix + field name (positive), else its default."""
    values = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.type in ("int", "float", int, float):
            kind = int if item.type in ("int", int) else float
            key = key_prefix + item.name
            values[item.name] = kind(_number(table.get(key, item.default), f"{section}.{key}", kind))
    return cls(**values)


def _origin(value: str) -> str:
    """A browser origin as browsers send it (scheme://host[:port], lowercase, no path); "" turns CORS off."""
    origin = value.strip().rstrip("/").lower()
    if not origin:
        return ""
    scheme, separator, host = origin.partition("://")
    if scheme not in ("http", "https") or not separator or not host or any(mark in host for mark in "/?#*"):
        raise ConfigError(f"DARIO_CORS_ORIGIN must be one origin like http://localhost:5173, got {value!r}")
    return origin


def _host_names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(name, str) and name.strip() for name in value):
        raise ConfigError(f"server.allowed_hosts must be a list of host names, got {value!r}")
    return tuple(name.strip().lower().rstrip(".").strip("[]") for name in value)


def _server(server: Mapping[str, object], environment: Environment) -> ServerConfig:
    default = ServerConfig()
    return ServerConfig(
        host=str(environment.host or server.get("host") or default.host),
        port=int(_number(environment.port or server.get("port") or default.port, "port", int)),
        api_key=environment.api_key,
        cors_origin=_origin(environment.cors_origin or str(server.get("cors_origin", ""))),
        allowed_hosts=_host_names(server.get("allowed_hosts", [])),
        access_log=_flag(server.get("access_log", default.access_log), "server.access_log"),
    )


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return value


def parse_config(text: str, environment: Environment | None = None, paths: Paths | None = None,
                 signature: tuple[float, int] = (0.0, -1)) -> Config:
    """A Config from config.toml's text and the environment (none: the defaults); paths default to its home."""
    environment = environment or Environment()
    document = _toml(text)
    unknown = sorted(set(document) - TOP_KEYS)
    if unknown:
        line = line_of(text, rf"^\[?\[?{re.escape(unknown[0])}\b")
        raise ConfigError(f"config.toml line {line}: unknown setting {unknown[0]!r}")
    sections = {name: _section(document, name, text) for name in SECTIONS}
    limits = sections["limits"]
    server = _server(sections["server"], environment)
    return Config(
        paths=paths or Paths(environment.home),
        server=server,
        limits=dataclasses.replace(_numbers(LimitsConfig, limits, "limits"),
                                   upstream=_numbers(UpstreamLimits, limits, "limits", key_prefix="upstream_"),
                                   login=_numbers(LoginLimits, limits, "limits", key_prefix="login_")),
        translation=_numbers(TranslationConfig, sections["translation"], "translation"),
        credentials=_numbers(CredentialsConfig, sections["credentials"], "credentials"),
        pools=_numbers(PoolsConfig, sections["pools"], "pools"),
        analytics=_numbers(AnalyticsConfig, sections["analytics"], "analytics"),
        cluster=parse_cluster(_section(document, "cluster", text), environment, server.port),
        pricing=parse_prices(document.get("pricing", {}), "config.toml: pricing"),
        routing=parse_routing(document, text, environment),
        backends=parse_backends(document),
        compat=parse_compat(document),
        models=parse_model_table(document),
        environment=environment,
        signature=signature,
    )


def read_config(paths: Paths, environment: Environment) -> Config:
    """Parses paths.config as it is now (a missing file is an empty one, every default in force)."""
    signature = file_signature(paths.config)  # taken first: a change made while reading is seen by the next poll
    try:
        text = paths.config.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {paths.config}: {error}") from None
    return parse_config(text, environment, paths, signature)


def load_config(environment: Environment) -> Config:
    """The Config a process starts with: $DARIO_HOME/config.toml read with the environment it was given."""
    return read_config(Paths(environment.home), environment)

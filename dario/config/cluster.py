"""[cluster] of config.toml (and DARIO_CLUSTER_*): the Redis and PostgreSQL that several dario hosts share, and
this host's instance name. Parsed and validated here; an absent section keeps dario embedded (architecture.md,
Running several instances)."""

from __future__ import annotations

import re
import socket
import urllib.parse
from collections.abc import Mapping

from dario.config.environment import Environment
from dario.config.errors import ConfigError
from dario.config.sections import ClusterConfig

REDIS_SCHEMES = ("redis", "rediss", "unix")
POSTGRES_SCHEMES = ("postgresql", "postgres")
# Instance names and key prefixes end up in Redis keys and log lines: a safe alphabet, bounded.
_NAME = re.compile(r"[A-Za-z0-9._:@-]{1,100}", re.ASCII)
KEYS = frozenset({"redis", "postgres", "instance", "prefix", "heartbeat_seconds", "redis_timeout_seconds"})


def shown_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def _url(value: object, name: str, schemes: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"cluster.{name} must be a URL string, got {type(value).__name__}")
    url = value.strip()
    if not url:
        return ""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"cluster.{name} is not a valid URL: {shown_url(url)!r}") from None
    if parts.scheme not in schemes:
        raise ConfigError(f"cluster.{name} must start with {' or '.join(s + '://' for s in schemes)}, "
                          f"got {shown_url(url)!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"cluster.{name} names no host: {shown_url(url)!r}")
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"cluster.{name} names no socket path: {shown_url(url)!r}")
    return url


def _name(value: object, name: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ConfigError(f"cluster.{name} must be 1 to 100 letters, digits or . _ : @ -, got {value!r}")
    return value


def _seconds(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConfigError(f"cluster.{name} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"cluster.{name} must be a number of seconds, got {value!r}") from None
    if not 0 < seconds < 3600:
        raise ConfigError(f"cluster.{name} must be between 0 and 3600 seconds, got {value!r}")
    return seconds


def parse_cluster(table: Mapping[str, object], environment: Environment, port: int) -> ClusterConfig:
    """ClusterConfig from [cluster] with DARIO_CLUSTER_REDIS, _POSTGRES, _INSTANCE and _PREFIX over it."""
    unknown = sorted(set(table) - KEYS)
    if unknown:
        raise ConfigError(f"unknown setting cluster.{unknown[0]} (known: {', '.join(sorted(KEYS))})")
    default = ClusterConfig()
    instance = environment.cluster_instance or table.get("instance") or f"{socket.gethostname()}:{port}"
    return ClusterConfig(
        redis=_url(environment.cluster_redis or table.get("redis", ""), "redis", REDIS_SCHEMES),
        postgres=_url(environment.cluster_postgres or table.get("postgres", ""), "postgres", POSTGRES_SCHEMES),
        instance=_name(instance, "instance"),
        prefix=_name(environment.cluster_prefix or table.get("prefix", default.prefix), "prefix"),
        heartbeat_seconds=_seconds(table.get("heartbeat_seconds", default.heartbeat_seconds), "heartbeat_seconds"),
        redis_timeout_seconds=_seconds(table.get("redis_timeout_seconds", default.redis_timeout_seconds),
                                       "redis_timeout_seconds"),
    )

"""Settings every process reads once at start: where DARIO_HOME is, its files, and the frontend's address.

The environment is read here and nowhere else; everything below receives a frozen Settings.
"""

from __future__ import annotations

import os
import pathlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3456
DEFAULT_BODY_LIMIT = 10 * 1024 * 1024
DEFAULT_UPSTREAM_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_GRPC_TIMEOUT = 2.0
DEFAULT_MAX_TOKENS = 4096
DEFAULT_BODY_READ_TIMEOUT = 30.0
DEFAULT_HEADER_READ_TIMEOUT = 10.0
DEFAULT_REFRESH_AHEAD = 300.0
DEFAULT_REFRESH_RETRY = 1.0
DEFAULT_REFRESH_RETRY_MAX = 60.0
DEFAULT_TOKEN_TIMEOUT = 10.0
DEFAULT_QUEUE_SECONDS = 60.0
DEFAULT_QUEUE_DEPTH = 50
DEFAULT_RETENTION_DAYS = 90.0
# [limits] per upstream call (UpstreamLimits). Thinking models may say nothing for minutes before their first
# token, and Anthropic itself refuses non-streamed requests expected to take over ten minutes: first byte 600 s.
# Mid-stream, a model sends deltas (its thinking included) or keep-alives; only keep-alives for five minutes is
# a stalled upstream. An hour bounds the longest answers (128k output tokens at ~40 tokens/s is under an hour).
DEFAULT_FIRST_BYTE_SECONDS = 600.0
DEFAULT_STALL_SECONDS = 300.0
DEFAULT_TOTAL_SECONDS = 3600.0
DEFAULT_UPSTREAM_BODY_BYTES = 64 * 1024 * 1024  # an answer body, decompressed (read whole when translated)
DEFAULT_UPSTREAM_ERROR_BYTES = 1024 * 1024  # an upstream error body, read whole (to redact and translate it)


class ConfigError(ValueError):
    """config.toml (or an environment variable) holds a value dario cannot use."""


@dataclass(frozen=True)
class Paths:
    """Every file and folder under DARIO_HOME."""

    home: pathlib.Path

    @property
    def run_dir(self) -> pathlib.Path:
        return self.home / "run"

    @property
    def logs_dir(self) -> pathlib.Path:
        return self.home / "logs"

    @property
    def credential_socket(self) -> pathlib.Path:
        return self.run_dir / "credential.sock"

    @property
    def pool_socket(self) -> pathlib.Path:
        return self.run_dir / "pool.sock"

    @property
    def vault(self) -> pathlib.Path:
        return self.home / "vault.json"

    @property
    def analytics_db(self) -> pathlib.Path:
        return self.home / "analytics.db"

    @property
    def config(self) -> pathlib.Path:
        return self.home / "config.toml"

    def ensure(self) -> None:
        """Creates DARIO_HOME, run/ and logs/ with owner-only permissions (0700)."""
        for folder in (self.home, self.run_dir, self.logs_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)


@dataclass(frozen=True)
class UpstreamLimits:
    """[limits] of each upstream call: deadlines from when it is sent, and sizes of what it sends back."""

    first_byte_seconds: float = DEFAULT_FIRST_BYTE_SECONDS  # until the answer's first meaningful byte
    stall_seconds: float = DEFAULT_STALL_SECONDS  # between meaningful bytes (keep-alives do not count)
    total_seconds: float = DEFAULT_TOTAL_SECONDS  # the whole answer
    body_bytes: int = DEFAULT_UPSTREAM_BODY_BYTES
    error_bytes: int = DEFAULT_UPSTREAM_ERROR_BYTES


@dataclass(frozen=True)
class Settings:
    """What the processes need to know, read once from the environment and config.toml."""

    paths: Paths
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    default_backend: str = ""  # from DARIO_DEFAULT_BACKEND; overrides config.toml's
    forced_model: str = ""  # from DARIO_FORCE_MODEL
    api_key: str = field(default="", repr=False)  # DARIO_API_KEY: clients must present it (a secret)
    cors_origin: str = ""  # DARIO_CORS_ORIGIN: the one browser origin allowed; CORS is off when empty
    # [server] allowed_hosts: Host names served besides loopback ones when no DARIO_API_KEY is set (DNS rebinding)
    allowed_hosts: tuple[str, ...] = ()
    body_limit: int = DEFAULT_BODY_LIMIT
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    grpc_timeout: float = DEFAULT_GRPC_TIMEOUT
    default_max_tokens: int = DEFAULT_MAX_TOKENS
    body_read_timeout: float = DEFAULT_BODY_READ_TIMEOUT
    header_read_timeout: float = DEFAULT_HEADER_READ_TIMEOUT  # [limits] header_seconds: request line + headers
    upstream_limits: UpstreamLimits = field(default_factory=UpstreamLimits)
    # [credentials]: OAuth tokens are refreshed this long before they expire (at most half their lifetime),
    # failed refreshes retried after refresh_retry, doubling up to refresh_retry_max, with jitter.
    refresh_ahead: float = DEFAULT_REFRESH_AHEAD
    refresh_retry: float = DEFAULT_REFRESH_RETRY
    refresh_retry_max: float = DEFAULT_REFRESH_RETRY_MAX
    token_timeout: float = DEFAULT_TOKEN_TIMEOUT
    # [pools]: when every credential of a backend is cooling down or exhausted, requests wait up to
    # queue_seconds, at most queue_depth of them; past that the client gets 429 with retry-after.
    queue_seconds: float = DEFAULT_QUEUE_SECONDS
    queue_depth: int = DEFAULT_QUEUE_DEPTH
    # [analytics]: rows older than retention_days are deleted; [pricing] entries override the shipped table.
    retention_days: float = DEFAULT_RETENTION_DAYS
    extra: Mapping[str, object] = field(default_factory=dict)


def home_from_environment(environ: Mapping[str, str]) -> pathlib.Path:
    raw = environ.get("DARIO_HOME") or str(pathlib.Path.home() / ".dario")
    return pathlib.Path(raw).expanduser().resolve()


def file_signature(path: pathlib.Path) -> tuple[float, int]:
    """(mtime, size) of a file, (0, -1) when it does not exist: cheap to poll for "did config.toml change"."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0.0, -1)
    return (stat.st_mtime, stat.st_size)


def read_config_file(path: pathlib.Path) -> dict:
    """Parses config.toml; a missing file is an empty config, a broken one raises ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None


def _number(value: object, name: str, kind: type) -> int | float:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")
    return number


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


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Builds Settings: environment variables win over config.toml, which wins over the defaults."""
    environ = os.environ if environ is None else environ
    paths = Paths(home_from_environment(environ))
    config = read_config_file(paths.config)
    server = config.get("server", {}) if isinstance(config.get("server", {}), dict) else {}
    host = environ.get("DARIO_HOST") or server.get("host") or DEFAULT_HOST
    port = _number(environ.get("DARIO_PORT") or server.get("port") or DEFAULT_PORT, "port", int)
    # config.toml's routing (default_backend included) is read by dario.routes and reloaded on change;
    # the environment can still force these two for a whole run (`dario proxy --model=NAME`).
    default_backend = environ.get("DARIO_DEFAULT_BACKEND", "")
    limits = config.get("limits", {}) if isinstance(config.get("limits", {}), dict) else {}
    translation = config.get("translation", {}) if isinstance(config.get("translation", {}), dict) else {}
    credentials = config.get("credentials", {}) if isinstance(config.get("credentials", {}), dict) else {}
    pools = config.get("pools", {}) if isinstance(config.get("pools", {}), dict) else {}
    analytics = config.get("analytics", {}) if isinstance(config.get("analytics", {}), dict) else {}

    def seconds(section: Mapping, key: str, default: float, prefix: str) -> float:
        return float(_number(section.get(key, default), f"{prefix}.{key}", float))
    return Settings(
        paths=paths,
        host=str(host),
        port=int(port),
        default_backend=str(default_backend),
        forced_model=environ.get("DARIO_FORCE_MODEL", ""),
        api_key=environ.get("DARIO_API_KEY", ""),
        cors_origin=_origin(environ.get("DARIO_CORS_ORIGIN") or str(server.get("cors_origin", ""))),
        allowed_hosts=_host_names(server.get("allowed_hosts", [])),
        body_limit=int(_number(limits.get("body_bytes", DEFAULT_BODY_LIMIT), "limits.body_bytes", int)),
        upstream_timeout=float(
            _number(limits.get("upstream_seconds", DEFAULT_UPSTREAM_TIMEOUT), "limits.upstream_seconds", float)
        ),
        connect_timeout=float(
            _number(limits.get("connect_seconds", DEFAULT_CONNECT_TIMEOUT), "limits.connect_seconds", float)
        ),
        grpc_timeout=float(_number(limits.get("grpc_seconds", DEFAULT_GRPC_TIMEOUT), "limits.grpc_seconds", float)),
        body_read_timeout=float(
            _number(limits.get("body_read_seconds", DEFAULT_BODY_READ_TIMEOUT), "limits.body_read_seconds", float)
        ),
        header_read_timeout=seconds(limits, "header_seconds", DEFAULT_HEADER_READ_TIMEOUT, "limits"),
        upstream_limits=UpstreamLimits(
            first_byte_seconds=seconds(limits, "upstream_first_byte_seconds", DEFAULT_FIRST_BYTE_SECONDS, "limits"),
            stall_seconds=seconds(limits, "upstream_stall_seconds", DEFAULT_STALL_SECONDS, "limits"),
            total_seconds=seconds(limits, "upstream_total_seconds", DEFAULT_TOTAL_SECONDS, "limits"),
            body_bytes=int(_number(limits.get("upstream_body_bytes", DEFAULT_UPSTREAM_BODY_BYTES),
                                   "limits.upstream_body_bytes", int)),
            error_bytes=int(_number(limits.get("upstream_error_bytes", DEFAULT_UPSTREAM_ERROR_BYTES),
                                    "limits.upstream_error_bytes", int)),
        ),
        default_max_tokens=int(
            _number(translation.get("default_max_tokens", DEFAULT_MAX_TOKENS), "translation.default_max_tokens", int)
        ),
        refresh_ahead=seconds(credentials, "refresh_ahead_seconds", DEFAULT_REFRESH_AHEAD, "credentials"),
        refresh_retry=seconds(credentials, "refresh_retry_seconds", DEFAULT_REFRESH_RETRY, "credentials"),
        refresh_retry_max=seconds(credentials, "refresh_retry_max_seconds", DEFAULT_REFRESH_RETRY_MAX, "credentials"),
        token_timeout=seconds(credentials, "token_timeout_seconds", DEFAULT_TOKEN_TIMEOUT, "credentials"),
        queue_seconds=seconds(pools, "queue_seconds", DEFAULT_QUEUE_SECONDS, "pools"),
        queue_depth=int(_number(pools.get("queue_depth", DEFAULT_QUEUE_DEPTH), "pools.queue_depth", int)),
        retention_days=seconds(analytics, "retention_days", DEFAULT_RETENTION_DAYS, "analytics"),
        extra=config,
    )

"""What config.toml holds, one frozen dataclass per [section], with every default written here and nowhere else.

The parser (dario.config.parse) fills them from the file and the environment; the processes only read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from dario.compat import ModelTable, shipped_models
from dario.config.environment import Environment, Paths

DEFAULT_ALIASES: Mapping[str, str] = MappingProxyType(
    {"opus": "claude-opus-5-5", "sonnet": "claude-sonnet-5-5", "haiku": "claude-haiku-5-5"}
)
PRICE_FIELDS = ("input", "output", "cache_read", "cache_write", "input_includes_cache_read")
PriceFields = Mapping[str, float | bool]  # a [pricing."GLOB"] table: some of PRICE_FIELDS


@dataclass(frozen=True)
class ServerConfig:
    """[server], under DARIO_HOST, DARIO_PORT and DARIO_CORS_ORIGIN; the API key comes from DARIO_API_KEY only."""

    host: str = "127.0.0.1"
    port: int = 3456
    api_key: str = field(default="", repr=False)  # clients must present it (a secret); no key checked when empty
    cors_origin: str = ""  # the one browser origin allowed; CORS is off when empty
    # Host names served besides loopback ones when no API key is set (DNS rebinding)
    allowed_hosts: tuple[str, ...] = ()
    access_log: bool = True  # one line per request in the frontend's log (never a body or a secret)


@dataclass(frozen=True)
class UpstreamLimits:
    """[limits] upstream_*: deadlines of each upstream call from when it is sent, and sizes of what it sends back.

    Thinking models may say nothing for minutes before their first token, and Anthropic itself refuses
    non-streamed requests expected to take over ten minutes: first byte 600 s. Mid-stream, a model sends deltas
    (its thinking included) or keep-alives; only keep-alives for five minutes is a stalled upstream. An hour bounds
    the longest answers (128k output tokens at ~40 tokens/s is under an hour)."""

    first_byte_seconds: float = 600.0  # until the answer's first meaningful byte
    stall_seconds: float = 300.0  # between meaningful bytes (keep-alives do not count)
    total_seconds: float = 3600.0  # the whole answer
    body_bytes: int = 64 * 1024 * 1024  # an answer body, decompressed (read whole when translated)
    error_bytes: int = 1024 * 1024  # an upstream error body, read whole (to redact and translate it)


@dataclass(frozen=True)
class LoginLimits:
    """[limits] login_*: wrong keys the dashboard's login form takes (frontend/ui/attempts.py). Past `attempts`
    failures from one client address (an IPv6 /64 is one) or `total_attempts` from all of them within the last
    `window_seconds`, the form answers 429 with retry-after, the right key included, until the oldest of those
    failures is window_seconds old. At most `addresses` addresses are remembered (the longest quiet forgotten)."""

    attempts: int = 5
    total_attempts: int = 50
    window_seconds: float = 60.0
    addresses: int = 4096


@dataclass(frozen=True)
class LimitsConfig:
    """[limits]: sizes and deadlines of what clients send, and of the calls dario makes."""

    body_bytes: int = 10 * 1024 * 1024  # a request body
    upstream_seconds: float = 600.0  # between two reads of an upstream answer (aiohttp's sock_read)
    connect_seconds: float = 10.0  # to connect to an upstream
    grpc_seconds: float = 2.0  # of a unary call between the processes
    body_read_seconds: float = 30.0  # for a request body to arrive
    header_seconds: float = 10.0  # for a request line and its headers to arrive
    # GET /v1/models (issue 16): each backend's /models is asked for at most models_seconds, and its answer kept
    # models_cache_seconds (served stale past that while it is asked again in the background).
    models_seconds: float = 3.0
    models_cache_seconds: float = 300.0
    upstream: UpstreamLimits = field(default_factory=UpstreamLimits)
    login: LoginLimits = field(default_factory=LoginLimits)


@dataclass(frozen=True)
class TranslationConfig:
    """[translation]"""

    default_max_tokens: int = 4096  # sent to Anthropic when an OpenAI request names no limit


@dataclass(frozen=True)
class CredentialsConfig:
    """[credentials]: OAuth tokens are refreshed this long before they expire (at most half their lifetime), failed
    refreshes retried after refresh_retry_seconds, doubling up to refresh_retry_max_seconds, with jitter."""

    refresh_ahead_seconds: float = 300.0
    refresh_retry_seconds: float = 1.0
    refresh_retry_max_seconds: float = 60.0
    token_timeout_seconds: float = 10.0  # of one call to a token endpoint


@dataclass(frozen=True)
class PoolsConfig:
    """[pools]: when every credential of a backend is cooling down or exhausted, requests wait up to queue_seconds,
    at most queue_depth of them; past that the client gets 429 with retry-after."""

    queue_seconds: float = 60.0
    queue_depth: int = 50


@dataclass(frozen=True)
class AnalyticsConfig:
    """[analytics]"""

    retention_days: float = 90.0  # rows older than this are deleted


@dataclass(frozen=True)
class ClusterConfig:
    """[cluster] (DARIO_CLUSTER_REDIS, _POSTGRES, _INSTANCE, _PREFIX over it): what several dario hosts share.

    No redis URL: pool state stays in the process (the embedded default). The URLs may hold passwords: never
    printed (dario.config.cluster.shown_url masks them)."""

    redis: str = field(default="", repr=False)  # redis://[user:password@]host:port/db, rediss://, unix://
    postgres: str = field(default="", repr=False)  # postgresql://… (read and checked; used by a later change)
    instance: str = ""  # this host's name in the cluster; parse fills in host name + ":" + [server] port
    prefix: str = "dario"  # every Redis key starts with {prefix}: several clusters (or test runs) share a Redis
    heartbeat_seconds: float = 2.0  # an instance's in-flight counts expire 3 heartbeats after it stops beating
    redis_timeout_seconds: float = 0.25  # of one Redis call; past it the pool falls back to local state

    @property
    def shares_pools(self) -> bool:
        return bool(self.redis)


@dataclass(frozen=True)
class Rule:
    """A [[routes]] table."""

    match: str  # a glob on the requested model (after aliases)
    backend: str
    model: str = ""  # rewrite: the model sent upstream; empty keeps the requested one
    fallbacks: tuple[str, ...] = ()  # other targets, "backend" or "backend:model" (used by pools)
    line: int = 0  # its line in config.toml, for messages
    max_output_tokens: int = 0  # the output limit of its requests is clamped to this (0: no cap; issue 16)
    # The route's own deadlines (issue 16); 0: [limits] upstream_first_byte_seconds and upstream_stall_seconds.
    first_token_seconds: float = 0.0
    stall_seconds: float = 0.0


@dataclass(frozen=True)
class RoutingConfig:
    """[[routes]], [aliases] and default_backend (DARIO_DEFAULT_BACKEND over it), and DARIO_FORCE_MODEL."""

    rules: tuple[Rule, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=lambda: DEFAULT_ALIASES)  # the built-in ones included
    default_backend: str = ""
    forced_model: str = ""  # `dario proxy --model=NAME`: every request uses this model


@dataclass(frozen=True)
class AccountDeclaration:
    """A credential of a config.toml backend: its key is the value of environment variable key_env."""

    name: str
    key_env: str = ""  # empty: a keyless local server


@dataclass(frozen=True)
class BackendDeclaration:
    """A [backends.NAME] table, resolved to its kind and API root; credential_service looks its keys up."""

    name: str
    kind: str
    base_url: str
    accounts: tuple[AccountDeclaration, ...] = ()
    preset: str = ""  # the preset it was declared with (its compatibility profile, dario.compat)


@dataclass(frozen=True)
class Config:
    """Everything the processes are configured with, read at start and (by a ConfigWatcher) on change."""

    paths: Paths
    server: ServerConfig = field(default_factory=ServerConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    translation: TranslationConfig = field(default_factory=TranslationConfig)
    credentials: CredentialsConfig = field(default_factory=CredentialsConfig)
    pools: PoolsConfig = field(default_factory=PoolsConfig)
    analytics: AnalyticsConfig = field(default_factory=AnalyticsConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    # [pricing."GLOB"] over the shipped prices: {lower-cased glob: fields}
    pricing: Mapping[str, PriceFields] = field(default_factory=lambda: MappingProxyType({}))
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    backends: tuple[BackendDeclaration, ...] = ()
    # Compatibility overrides by backend name ([compat.NAME], [backends.NAME.compat]); dario.compat has the fields
    compat: Mapping[str, Mapping[str, object]] = field(default_factory=lambda: MappingProxyType({}))
    models: ModelTable = field(default_factory=lambda: ModelTable(MappingProxyType({}), shipped_models()))
    # What it was read with: a reload parses the file again with the same environment.
    environment: Environment = field(default_factory=Environment, repr=False, compare=False)
    signature: tuple[float, int] = field(default=(0.0, -1), compare=False)  # config.toml's (mtime, size) then

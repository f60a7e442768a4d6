"""dario's configuration: $DARIO_HOME/config.toml and the environment, read once into frozen sections.

Every process calls load_config(Environment.read()) at start and passes the Config down; those that apply
changes while running (routing, [backends], [pricing]) keep it current with a ConfigWatcher.
"""

from dario.config.environment import Environment, Paths, file_signature
from dario.config.errors import ConfigError
from dario.config.parse import load_config, parse_config, read_config
from dario.config.sections import (
    DEFAULT_ALIASES,
    AccountDeclaration,
    AnalyticsConfig,
    BackendDeclaration,
    ClusterConfig,
    Config,
    CredentialsConfig,
    LimitsConfig,
    LoginLimits,
    PoolsConfig,
    RoutingConfig,
    Rule,
    ServerConfig,
    TranslationConfig,
    UpstreamLimits,
)
from dario.config.watch import ConfigWatcher

__all__ = [
    "DEFAULT_ALIASES", "AccountDeclaration", "AnalyticsConfig", "BackendDeclaration", "ClusterConfig", "Config",
    "ConfigError",
    "ConfigWatcher", "CredentialsConfig", "Environment", "LimitsConfig", "LoginLimits", "Paths", "PoolsConfig",
    "RoutingConfig",
    "Rule", "ServerConfig", "TranslationConfig", "UpstreamLimits", "file_signature", "load_config", "parse_config",
    "read_config",
]

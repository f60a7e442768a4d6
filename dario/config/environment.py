"""The process environment, read once (Environment.read), and the files and folders under DARIO_HOME (Paths).

Nothing else in dario reads os.environ: the environment is read here at start and passed down with the Config.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DEFAULT_HOME = "~/.dario"


def _home(raw: str) -> pathlib.Path:
    return pathlib.Path(raw or DEFAULT_HOME).expanduser().resolve()


@dataclass(frozen=True)
class Environment:
    """The variables dario reads, as set when the process started; each wins over config.toml's setting."""

    home: pathlib.Path = field(default_factory=lambda: _home(""))  # DARIO_HOME
    host: str = ""  # DARIO_HOST, over [server] host
    port: str = ""  # DARIO_PORT, over [server] port (checked when the config is parsed)
    api_key: str = field(default="", repr=False)  # DARIO_API_KEY: clients must present it (a secret)
    cors_origin: str = ""  # DARIO_CORS_ORIGIN, over [server] cors_origin
    default_backend: str = ""  # DARIO_DEFAULT_BACKEND, over config.toml's default_backend
    forced_model: str = ""  # DARIO_FORCE_MODEL (`dario proxy --model=NAME`): every request uses this model
    cluster_redis: str = field(default="", repr=False)  # DARIO_CLUSTER_REDIS, over [cluster] redis (a password?)
    cluster_postgres: str = field(default="", repr=False)  # DARIO_CLUSTER_POSTGRES, over [cluster] postgres
    cluster_instance: str = ""  # DARIO_CLUSTER_INSTANCE, over [cluster] instance
    cluster_prefix: str = ""  # DARIO_CLUSTER_PREFIX, over [cluster] prefix
    uvloop: bool = True  # DARIO_UVLOOP=0: the frontend runs on asyncio's own loop, not uvloop (dario/event_loop.py)
    # Every variable: config.toml's key_env names one, supervisord's children inherit them. Never printed.
    variables: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @classmethod
    def read(cls, environ: Mapping[str, str] | None = None) -> Environment:
        """A snapshot of environ (the process environment when None): the one place dario reads it."""
        variables = MappingProxyType(dict(os.environ if environ is None else environ))
        return cls(
            home=_home(variables.get("DARIO_HOME", "")),
            host=variables.get("DARIO_HOST", ""),
            port=variables.get("DARIO_PORT", ""),
            api_key=variables.get("DARIO_API_KEY", ""),
            cors_origin=variables.get("DARIO_CORS_ORIGIN", ""),
            default_backend=variables.get("DARIO_DEFAULT_BACKEND", ""),
            forced_model=variables.get("DARIO_FORCE_MODEL", ""),
            cluster_redis=variables.get("DARIO_CLUSTER_REDIS", ""),
            cluster_postgres=variables.get("DARIO_CLUSTER_POSTGRES", ""),
            cluster_instance=variables.get("DARIO_CLUSTER_INSTANCE", ""),
            cluster_prefix=variables.get("DARIO_CLUSTER_PREFIX", ""),
            uvloop=variables.get("DARIO_UVLOOP", "1").strip().lower() not in ("0", "false", "no", "off"),
            variables=variables,
        )


def file_signature(path: pathlib.Path) -> tuple[float, int]:
    """(mtime, size) of a file, (0, -1) when it does not exist: cheap to poll for "did config.toml change"."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return (0.0, -1)
    return (stat.st_mtime, stat.st_size)


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

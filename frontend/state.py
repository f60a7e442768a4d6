"""What the frontend's handlers share: config, the clients of the two services, and the upstream session."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from dario.config import Config, ConfigWatcher, RoutingConfig
from frontend.metrics import Metrics
from frontend.services.credentials import CredentialsClient
from frontend.services.pool import PoolClient


@dataclass(frozen=True)
class State:
    config: Config  # as read at start: of config.toml, only the routing applies while running (config_watcher)
    credentials: CredentialsClient
    pool: PoolClient
    session: aiohttp.ClientSession
    config_watcher: ConfigWatcher
    metrics: Metrics

    @property
    def routing(self) -> RoutingConfig:
        """The routing rules in force: config.toml's last good ones."""
        return self.config_watcher.current.routing


STATE = web.AppKey("state", State)
REQUEST_ID = web.RequestKey("request_id", str)

"""What the frontend's handlers share: settings, the clients of the two services, and the upstream session."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from dario.settings import Settings
from frontend.config_watch import RoutingWatcher
from frontend.metrics import Metrics
from frontend.services.credentials import CredentialsClient
from frontend.services.pool import PoolClient


@dataclass(frozen=True)
class State:
    settings: Settings
    credentials: CredentialsClient
    pool: PoolClient
    session: aiohttp.ClientSession
    routing: RoutingWatcher
    metrics: Metrics


STATE = web.AppKey("state", State)
REQUEST_ID = web.RequestKey("request_id", str)

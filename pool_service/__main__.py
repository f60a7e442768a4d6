"""Runs pool_service: `python -m pool_service` (gRPC on $DARIO_HOME/run/pool.sock)."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2

from dario.config import Config, ConfigError, ConfigWatcher
from dario.config.cluster import shown_url
from dario.grpc_client import ANALYTICS_HEALTH, CLUSTER_HEALTH
from dario.grpc_server import run_service, serve_unix
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore
from pool_service.pricing import Pricing
from pool_service.servicer import PoolServicer
from pool_service.state import SHARED, LocalPoolState, PoolState

if TYPE_CHECKING:
    from pool_service.analytics_postgres import Forwarder

log = logging.getLogger(__name__)


def pool_state(config: Config, health_servicer: health.aio.HealthServicer) -> PoolState:
    """In this process, or in the cluster's Redis when [cluster] redis is set; its reachability is the health
    of CLUSTER_HEALTH (the frontend's /health says degraded while Redis is away)."""
    if not config.cluster.shares_pools:
        return LocalPoolState()
    try:
        from pool_service.state.shared import RedisPoolState
    except ImportError:
        raise ConfigError("[cluster] redis needs the redis package: pip install 'dario[cluster]'") from None
    pending: set[asyncio.Task[None]] = set()

    def on_mode(mode: str) -> None:
        serving = health_pb2.HealthCheckResponse
        status = serving.SERVING if mode == SHARED else serving.NOT_SERVING
        task = asyncio.get_running_loop().create_task(health_servicer.set(CLUSTER_HEALTH, status))
        pending.add(task)
        task.add_done_callback(pending.discard)

    log.info("pool state shared in Redis at %s as instance %r (keys {%s}:*)", shown_url(config.cluster.redis),
             config.cluster.instance, config.cluster.prefix)
    return RedisPoolState(config.cluster, on_mode=on_mode)


def health_setter(health_servicer: health.aio.HealthServicer, name: str) -> Callable[[bool], None]:
    """A callback, safe from any thread, that sets name's health SERVING (True) or NOT_SERVING (False)."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    def set_status(serving: bool) -> None:
        statuses = health_pb2.HealthCheckResponse
        task = loop.create_task(health_servicer.set(name, statuses.SERVING if serving else statuses.NOT_SERVING))
        pending.add(task)
        task.add_done_callback(pending.discard)

    def from_any_thread(serving: bool) -> None:
        loop.call_soon_threadsafe(set_status, serving)

    return from_any_thread


def forwarder(config: Config, health_servicer: health.aio.HealthServicer) -> Forwarder | None:
    """With [cluster] postgres: the thread shipping this host's outcomes there (its reachability is the health of
    ANALYTICS_HEALTH)."""
    if not config.cluster.postgres:
        return None
    try:
        from pool_service.analytics_postgres import Forwarder
    except ImportError:
        raise ConfigError("[cluster] postgres needs the psycopg package: pip install 'dario[postgres]'") from None
    log.info("analytics shipped to PostgreSQL at %s as instance %r", shown_url(config.cluster.postgres),
             config.cluster.instance)
    return Forwarder(config.paths.analytics_db, config.cluster.postgres, config.cluster.instance,
                     on_health=health_setter(health_servicer, ANALYTICS_HEALTH))


async def serve(config: Config) -> None:
    health_servicer = health.aio.HealthServicer()
    shipping = forwarder(config, health_servicer)
    # pricing overrides, aliases and retention from config.toml; with a forwarder, every row goes to its outbox too
    store = AnalyticsStore.from_config(config, forwarder=shipping)
    if shipping is not None:
        shipping.start()
    servicer = PoolServicer(store, config, pool=pool_state(config, health_servicer))
    await servicer.start()

    async def reprice(changed: Config) -> None:
        """Rows are priced when written, so a new price applies to requests recorded from then on."""
        store.pricing = Pricing.from_config(changed)
        log.info("pricing re-read from config.toml: %d override(s)", len(store.pricing.overrides))

    # Only [pricing] and [aliases] apply while running; the other sections are read at start.
    watcher = ConfigWatcher(config, "the prices in force stay", reprice)

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        servicer.stopping = stopping
        pool_pb2_grpc.add_PoolServicer_to_server(servicer, server)
        watcher.start()
        return [pool_pb2.DESCRIPTOR.services_by_name["Pool"].full_name]

    async def close_store() -> None:
        await watcher.close()
        await servicer.state.close()
        await asyncio.to_thread(store.close)
        if shipping is not None:
            await asyncio.to_thread(shipping.close)

    await serve_unix(config.paths.pool_socket, register, on_stop=close_store, health_servicer=health_servicer)


def main() -> int:
    return run_service("pool_service", serve)


if __name__ == "__main__":
    sys.exit(main())

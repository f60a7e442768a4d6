"""Runs pool_service: `python -m pool_service` (gRPC on $DARIO_HOME/run/pool.sock)."""

from __future__ import annotations

import asyncio
import logging
import sys

import grpc

from dario.config import Config, ConfigWatcher
from dario.grpc_server import run_service, serve_unix
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore
from pool_service.pricing import Pricing
from pool_service.servicer import PoolServicer

log = logging.getLogger(__name__)


async def serve(config: Config) -> None:
    store = AnalyticsStore.from_config(config)  # pricing overrides, aliases and retention from config.toml

    async def reprice(changed: Config) -> None:
        """Rows are priced when written, so a new price applies to requests recorded from then on."""
        store.pricing = Pricing.from_config(changed)
        log.info("pricing re-read from config.toml: %d override(s)", len(store.pricing.overrides))

    # Only [pricing] and [aliases] apply while running; the other sections are read at start.
    watcher = ConfigWatcher(config, "the prices in force stay", reprice)

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        pool_pb2_grpc.add_PoolServicer_to_server(PoolServicer(store, config, stopping), server)
        watcher.start()
        return [pool_pb2.DESCRIPTOR.services_by_name["Pool"].full_name]

    async def close_store() -> None:
        await watcher.close()
        await asyncio.to_thread(store.close)

    await serve_unix(config.paths.pool_socket, register, on_stop=close_store)


def main() -> int:
    return run_service("pool_service", serve)


if __name__ == "__main__":
    sys.exit(main())

"""Runs pool_service: `python -m pool_service` (gRPC on $DARIO_HOME/run/pool.sock)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import grpc

from dario.grpc_server import run_service, serve_unix
from dario.settings import ConfigError, Settings, file_signature, read_config_file
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore
from pool_service.pricing import Pricing
from pool_service.servicer import PoolServicer

log = logging.getLogger(__name__)
CONFIG_POLL_SECONDS = 1.0  # as the frontend's routing and credential_service's [backends]


async def watch_pricing(store: AnalyticsStore, settings: Settings, stopping: asyncio.Event) -> None:
    """Re-reads config.toml's [pricing] and [aliases] when the file changes; a bad file keeps the prices in force.
    Rows are priced when written, so a new price applies to requests recorded from then on."""
    signature = file_signature(settings.paths.config)
    while not stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), CONFIG_POLL_SECONDS)
        current = file_signature(settings.paths.config)
        if current == signature or stopping.is_set():
            continue
        signature = current
        try:
            store.pricing = Pricing.from_config(read_config_file(settings.paths.config))
        except (ConfigError, OSError) as error:
            log.error("%s; the prices in force stay", error)
            continue
        log.info("pricing re-read from config.toml: %d override(s)", len(store.pricing.overrides))


async def serve(settings: Settings) -> None:
    store = AnalyticsStore.from_settings(settings)  # pricing overrides and retention from config.toml
    store.pricing = Pricing.from_config(settings.extra)  # with config.toml's [aliases] too
    tasks: list[asyncio.Task] = []

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        pool_pb2_grpc.add_PoolServicer_to_server(PoolServicer(store, settings, stopping), server)
        tasks.append(asyncio.create_task(watch_pricing(store, settings, stopping)))
        return [pool_pb2.DESCRIPTOR.services_by_name["Pool"].full_name]

    async def close_store() -> None:
        for task in tasks:
            await task  # ends once stopping is set
        await asyncio.to_thread(store.close)

    await serve_unix(settings.paths.pool_socket, register, on_stop=close_store)


def main() -> int:
    return run_service("pool_service", serve)


if __name__ == "__main__":
    sys.exit(main())

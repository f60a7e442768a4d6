"""Runs pool_service: `python -m pool_service` (gRPC on $DARIO_HOME/run/pool.sock)."""

from __future__ import annotations

import asyncio
import sys

import grpc

from dario.grpc_server import run_service, serve_unix
from dario.settings import Settings
from dario.v1 import pool_pb2, pool_pb2_grpc
from pool_service.analytics import AnalyticsStore
from pool_service.servicer import PoolServicer


async def serve(settings: Settings) -> None:
    store = AnalyticsStore.from_settings(settings)  # pricing overrides and retention from config.toml

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        pool_pb2_grpc.add_PoolServicer_to_server(PoolServicer(store, settings, stopping), server)
        return [pool_pb2.DESCRIPTOR.services_by_name["Pool"].full_name]

    async def close_store() -> None:
        await asyncio.to_thread(store.close)

    await serve_unix(settings.paths.pool_socket, register, on_stop=close_store)


def main() -> int:
    return run_service("pool_service", serve)


if __name__ == "__main__":
    sys.exit(main())

"""Runs credential_service: `python -m credential_service` (gRPC on $DARIO_HOME/run/credential.sock)."""

from __future__ import annotations

import asyncio
import sys

import grpc

from credential_service.backends import Backends
from credential_service.servicer import CredentialsServicer
from credential_service.vault import Vault, VaultError
from dario.config import Config, ConfigWatcher
from dario.grpc_server import run_service, serve_unix
from dario.v1 import credentials_pb2, credentials_pb2_grpc


async def serve(config: Config) -> None:
    vault = Vault(config.paths.vault)

    tasks: list[asyncio.Task[None]] = []
    watchers: list[ConfigWatcher] = []

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        # config.toml's key_env variables are looked up in the environment the process started with.
        backends = Backends(vault, config, stopping)
        credentials_pb2_grpc.add_CredentialsServicer_to_server(CredentialsServicer(backends), server)
        tasks.append(asyncio.create_task(backends.run_refresher()))
        backends.watcher.start()
        watchers.append(backends.watcher)
        return [credentials_pb2.DESCRIPTOR.services_by_name["Credentials"].full_name]

    async def stop_refresher() -> None:
        for task in tasks:
            await task  # ends once stopping is set
        for watcher in watchers:
            await watcher.close()

    await serve_unix(config.paths.credential_socket, register, on_stop=stop_refresher)


def main() -> int:
    return run_service("credential_service", serve, VaultError)


if __name__ == "__main__":
    sys.exit(main())

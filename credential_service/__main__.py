"""Runs credential_service: `python -m credential_service` (gRPC on $DARIO_HOME/run/credential.sock)."""

from __future__ import annotations

import asyncio
import os
import sys

import grpc

from credential_service.backends import Backends
from credential_service.servicer import CredentialsServicer
from credential_service.vault import Vault, VaultError
from dario.grpc_server import run_service, serve_unix
from dario.settings import Settings
from dario.v1 import credentials_pb2, credentials_pb2_grpc


async def serve(settings: Settings) -> None:
    vault = Vault(settings.paths.vault)

    tasks: list[asyncio.Task] = []

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        # The environment once, at start: config.toml's key_env variables are looked up in it (at every reload).
        backends = Backends(vault, settings, stopping, environ=os.environ)
        credentials_pb2_grpc.add_CredentialsServicer_to_server(CredentialsServicer(backends), server)
        tasks.append(asyncio.create_task(backends.run_refresher()))
        tasks.append(asyncio.create_task(backends.run_config_watch()))
        return [credentials_pb2.DESCRIPTOR.services_by_name["Credentials"].full_name]

    async def stop_refresher() -> None:
        for task in tasks:
            await task  # ends once stopping is set

    await serve_unix(settings.paths.credential_socket, register, on_stop=stop_refresher)


def main() -> int:
    return run_service("credential_service", serve, VaultError)


if __name__ == "__main__":
    sys.exit(main())

"""Runs credential_service: `python -m credential_service` (gRPC on $DARIO_HOME/run/credential.sock)."""

from __future__ import annotations

import asyncio
import sys

import grpc

from credential_service.servicer import CredentialsServicer
from credential_service.vault import Vault, VaultError
from dario.grpc_server import serve_unix
from dario.redaction import setup_logging
from dario.settings import ConfigError, load_settings
from dario.v1 import credentials_pb2, credentials_pb2_grpc


async def serve() -> None:
    settings = load_settings()
    settings.paths.ensure()
    vault = Vault(settings.paths.vault)

    def register(server: grpc.aio.Server, stopping: asyncio.Event) -> list[str]:
        credentials_pb2_grpc.add_CredentialsServicer_to_server(CredentialsServicer(vault, stopping), server)
        return [credentials_pb2.DESCRIPTOR.services_by_name["Credentials"].full_name]

    await serve_unix(settings.paths.credential_socket, register)


def main() -> int:
    setup_logging("credential_service")
    try:
        asyncio.run(serve())
    except (ConfigError, VaultError) as error:
        print(f"credential_service: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

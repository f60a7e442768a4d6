"""The frontend's lease cache against the real credential_service servicer (in this process, on a Unix socket):
leases come pushed, a rotation replaces them without a Lease call, the RPC is only the fallback for a lease the
stream has not brought yet, and a removed credential's secret leaves the frontend's memory."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from credential_service.backends import Backends
from credential_service.servicer import CredentialsServicer
from credential_service.vault import Vault
from dario.config import Config, Paths
from dario.grpc_client import CHANNEL_OPTIONS, unix_target
from dario.v1 import credentials_pb2, credentials_pb2_grpc
from frontend.services.credentials import CredentialsClient

pytestmark = pytest.mark.timeout(60)
FIRST_KEY = "sk-test-lease-cache-first-0001"
SECOND_KEY = "sk-test-lease-cache-second-002"
OTHER_KEY = "sk-test-lease-cache-other-0003"


class Service:
    """The real servicer with its vault in a temporary home, and an admin stub to change what it holds."""

    def __init__(self, home: pathlib.Path, stub: credentials_pb2_grpc.CredentialsAsyncStub) -> None:
        self.socket = str(Paths(home).credential_socket)
        self.stub = stub

    async def add_backend(self, name: str, key: str) -> None:
        await self.stub.AddBackend(credentials_pb2.AddBackendRequest(
            name=name, kind=credentials_pb2.BACKEND_KIND_OPENAI, base_url="http://127.0.0.1:9/v1", api_key=key),
            timeout=5)

    async def set_key(self, backend: str, name: str, key: str) -> None:
        await self.stub.AddCredential(credentials_pb2.AddCredentialRequest(
            backend=backend, name=name, kind=credentials_pb2.CREDENTIAL_KIND_API_KEY, api_key=key, replace=True),
            timeout=5)

    async def remove(self, backend: str, name: str) -> None:
        await self.stub.RemoveCredential(credentials_pb2.RemoveCredentialRequest(backend=backend, name=name),
                                         timeout=5)


@contextlib.asynccontextmanager
async def credential_service(home: pathlib.Path) -> AsyncIterator[Service]:
    paths = Paths(home)
    paths.ensure()
    stopping = asyncio.Event()
    servicer = CredentialsServicer(Backends(Vault(paths.vault), Config(paths=paths), stopping))
    server = grpc.aio.server()
    credentials_pb2_grpc.add_CredentialsServicer_to_server(servicer, server)
    server.add_insecure_port(unix_target(paths.credential_socket))
    await server.start()
    channel = grpc.aio.insecure_channel(unix_target(paths.credential_socket), options=CHANNEL_OPTIONS)
    try:
        yield Service(home, credentials_pb2_grpc.CredentialsStub(channel))
    finally:
        stopping.set()  # ends the watch streams
        await channel.close()
        await server.stop(0)


@contextlib.asynccontextmanager
async def client_of(service: Service, watching: bool = True) -> AsyncIterator[CredentialsClient]:
    client = CredentialsClient(service.socket, 5.0)
    if watching:
        await client.start()
    try:
        yield client
    finally:
        await client.close()


async def until(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {seconds}s")
        await asyncio.sleep(0.02)


def revision(client: CredentialsClient, backend: str, credential: str) -> int:
    assert client.catalog is not None
    return next(b for b in client.catalog.backends if b.name == backend).revision_of(credential)


async def test_leases_come_pushed_and_a_rotation_replaces_them_without_a_lease_call(tmp_path: pathlib.Path) -> None:
    async with credential_service(tmp_path / "home") as service:
        await service.add_backend("solo", FIRST_KEY)
        async with client_of(service) as client:
            await until(lambda: client.lease_generation > 0 and client.catalog is not None, "pushed")
            first = await client.lease("solo", "default", revision(client, "solo", "default"))
            assert FIRST_KEY in first.header_value and first.header_name == "authorization"
            assert client.lease_fetches == 0  # from memory: the stream brought it

            before = revision(client, "solo", "default")
            await service.set_key("solo", "default", SECOND_KEY)
            await until(lambda: revision(client, "solo", "default") > before, "a newer revision announced")
            second = await client.lease("solo", "default", revision(client, "solo", "default"))
            assert SECOND_KEY in second.header_value and second.revision > first.revision
            assert client.lease_fetches == 0  # the rotation came pushed too
            assert not any(FIRST_KEY in value for value in client.header_values())


async def test_a_lease_not_pushed_yet_is_fetched_once_then_served_from_memory(tmp_path: pathlib.Path) -> None:
    async with credential_service(tmp_path / "home") as service:
        await service.add_backend("solo", FIRST_KEY)
        async with client_of(service, watching=False) as client:  # no stream: nothing is pushed
            fetched = await client.lease("solo", "default", 1)
            again = await client.lease("solo", "default", fetched.revision)
            assert FIRST_KEY in fetched.header_value and again == fetched
            assert client.lease_fetches == 1
            newer = await client.lease("solo", "default", fetched.revision + 1)  # announced, never delivered
            assert client.lease_fetches == 2 and newer.revision == fetched.revision


async def test_a_removed_credential_leaves_the_cache_with_the_next_snapshot(tmp_path: pathlib.Path) -> None:
    async with credential_service(tmp_path / "home") as service:
        await service.add_backend("solo", FIRST_KEY)
        await service.set_key("solo", "second", OTHER_KEY)
        async with client_of(service) as client:
            await until(lambda: len(client.header_values()) == 2, "both leases pushed")
            generation = client.lease_generation
            await service.remove("solo", "second")
            await until(lambda: client.lease_generation > generation, "the next snapshot")
            assert [value for value in client.header_values() if OTHER_KEY in value] == []
            assert any(FIRST_KEY in value for value in client.header_values())

"""The real services as subprocesses plus the real frontend app in the test's event loop, in a temporary DARIO_HOME."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import grpc
from aiohttp import web
from aiohttp.test_utils import TestServer

from dario.config import Config, Environment, load_config
from dario.enums import BACKEND_KINDS
from dario.testing.processes import running_module
from dario.v1 import credentials_pb2, credentials_pb2_grpc
from frontend.app import init
from frontend.serving import FrontendRunner
from frontend.state import STATE


@dataclass
class Services:
    home: pathlib.Path
    config: Config

    def add_backend(self, name: str, base_url: str, api_key: str = "", kind: str = "openai",
                    credential: str = "default") -> None:
        with grpc.insecure_channel(f"unix:{self.config.paths.credential_socket}") as channel:
            credentials_pb2_grpc.CredentialsStub(channel).AddBackend(
                credentials_pb2.AddBackendRequest(
                    name=name, kind=BACKEND_KINDS.value(kind), base_url=base_url, api_key=api_key,
                    credential_name=credential,
                ),
                timeout=5,
            )


def with_server(config: Config, **changes: Any) -> Config:
    """config with [server] values changed, as config.toml or the environment would change them."""
    return replace(config, server=replace(config.server, **changes))


def with_limits(config: Config, **changes: Any) -> Config:
    """config with [limits] values changed."""
    return replace(config, limits=replace(config.limits, **changes))


@contextlib.contextmanager
def running_services(home: pathlib.Path) -> Iterator[Services]:
    """Starts credential_service and pool_service for real and yields once both answer health checks."""
    config = load_config(Environment.read({"DARIO_HOME": str(home)}))
    config.paths.ensure()
    with running_module("credential_service", home, config.paths.credential_socket), running_module(
        "pool_service", home, config.paths.pool_socket
    ):
        yield Services(home, config)


class FrontendTestServer(TestServer):
    """aiohttp's TestServer running the app as frontend/__main__ does (header deadline, handler cancellation)."""

    def __init__(self, app: web.Application, header_timeout: float) -> None:
        super().__init__(app, host="127.0.0.1", handler_cancellation=True)
        self.header_timeout = header_timeout

    async def _make_runner(self, **kwargs: object) -> FrontendRunner:
        return FrontendRunner(self.app, header_timeout=self.header_timeout, **kwargs)


@contextlib.asynccontextmanager
async def running_frontend(config: Config) -> AsyncIterator[TestServer]:
    """The real aiohttp app on a free 127.0.0.1 port, with handler cancellation as in production."""
    server = FrontendTestServer(init(config), header_timeout=config.limits.header_seconds)
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


async def wait_for_backends(server: TestServer, count: int, timeout: float = 10.0) -> None:
    """Waits until the frontend's catalog (pushed by credential_service) holds `count` backends."""
    credentials = server.app[STATE].credentials
    generation = -1
    while True:
        if not await credentials.wait_for_catalog(generation, timeout):
            raise TimeoutError(f"the frontend never saw {count} backends")
        catalog = credentials.catalog
        if catalog is not None and len(catalog.backends) >= count:
            return
        generation = catalog.generation if catalog else -1


async def wait_routable(session: aiohttp.ClientSession, base: str) -> None:
    """Waits until a frontend process at `base` answers /health with at least one backend."""
    for _ in range(400):
        try:
            async with session.get(f"{base}/health") as answer:
                if (await answer.json()).get("backends"):
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError("frontend never became routable")


def write_limits(home: pathlib.Path, **limits: object) -> None:
    """Writes config.toml's [limits] in a DARIO_HOME (before the services start, which read it)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    lines = "".join(f"{name} = {value!r}\n" for name, value in limits.items())
    (home / "config.toml").write_text(f"[limits]\n{lines}")


@contextlib.contextmanager
def both_kinds(home: pathlib.Path, base_url: str, openai_key: str, anthropic_key: str) -> Iterator[Services]:
    """The services with two backends on one scripted upstream: "gpt-up" (openai, for gpt-* models) and
    "claude-up" (anthropic, for claude-* models), so each client API reaches it natively and translated."""
    with running_services(home) as services:
        services.add_backend("gpt-up", base_url, openai_key, kind="openai")
        services.add_backend("claude-up", base_url, anthropic_key, kind="anthropic")
        yield services

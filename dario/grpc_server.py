"""Runs a grpc.aio server on a Unix socket (mode 0600) with health checking and reflection, and stops it cleanly.
Callers of a service import dario.grpc_client instead."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pathlib
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dario import collector
from dario.config import Config, ConfigError, Environment, load_config
from dario.instance import InstanceError, die_with_parent, hold_instance_lock
from dario.logs import setup_logging

log = logging.getLogger(__name__)

# The grace period for in-flight RPCs on shutdown; deploy/dario.conf's stopwaitsecs is longer.
SHUTDOWN_GRACE_SECONDS = 5.0


def remove_stale_socket(path: pathlib.Path) -> None:
    """Removes a socket file left behind by a killed process so the new one can bind."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def serve_unix(
    socket_path: pathlib.Path,
    register: Callable[[grpc.aio.Server, asyncio.Event], Iterable[str]],
    on_stop: Callable[[], Awaitable[None]] | None = None,
    health_servicer: health.aio.HealthServicer | None = None,
) -> None:
    """Serves until SIGTERM/SIGINT: register adds servicers and returns their full service names.

    The event given to register is set when stopping, so servicers end their long-lived streams at once
    instead of holding the shutdown for the whole grace period. A service that reports more than its own state
    (pool_service: whether the cluster's Redis is reachable) passes the health servicer it sets it on.
    """
    server = grpc.aio.server()
    stop = asyncio.Event()
    service_names = list(register(server, stop))
    health_servicer = health_servicer or health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_socket(socket_path)
    previous_umask = os.umask(0o177)  # the socket is created 0600, never briefly wider
    try:
        server.add_insecure_port(f"unix:{socket_path}")
        await server.start()
    finally:
        os.umask(previous_umask)
    os.chmod(socket_path, 0o600)
    for name in ["", *service_names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving %s on %s", ", ".join(service_names), socket_path)
    collector.settle()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    log.info("stopping: health NOT_SERVING, draining for up to %.0fs", SHUTDOWN_GRACE_SECONDS)
    await health_servicer.enter_graceful_shutdown()
    await server.stop(SHUTDOWN_GRACE_SECONDS)
    if on_stop is not None:
        await on_stop()
    remove_stale_socket(socket_path)
    log.info("stopped")


def run_service(process: str, serve: Callable[[Config], Coroutine[Any, Any, None]],
                *expected: type[Exception]) -> int:
    """A service's main(): redacted logging, serve until stopped, a one-line message for expected failures.

    The service dies with its parent and holds run/PROCESS.lock for its whole life, taken before its socket or
    its files are touched: a second copy on the same DARIO_HOME exits here, leaving the live one alone."""
    setup_logging(process)
    collector.tune()
    handled: tuple[type[Exception], ...] = (ConfigError, InstanceError, *expected)
    try:
        environment = Environment.read()  # the one read of the process environment
        die_with_parent(process, environment.variables)
        config = load_config(environment)
        config.paths.ensure()
        with hold_instance_lock(config.paths.run_dir, process):
            asyncio.run(serve(config))
    except handled as error:
        print(f"{process}: {error}", file=sys.stderr)
        return 2
    return 0

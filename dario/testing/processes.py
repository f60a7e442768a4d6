"""Starts dario's real processes for tests, in a temporary DARIO_HOME, and waits on their health checks."""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping

import grpc
from grpc_health.v1 import health_pb2

from dario.grpc_client import health_check

REPO = pathlib.Path(__file__).resolve().parents[2]


def environment(home: pathlib.Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a dario process runs with in a test: its own DARIO_HOME, the repo importable."""
    env = dict(os.environ)
    env["DARIO_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def wait_for_grpc_health(socket_path: pathlib.Path, deadline_seconds: float = 20.0) -> None:
    """Blocks until the gRPC server on socket_path answers SERVING, or raises TimeoutError."""
    deadline = time.monotonic() + deadline_seconds
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if socket_path.exists():
            try:
                with grpc.insecure_channel(f"unix:{socket_path}") as channel:
                    answer = health_check(channel)(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
            except grpc.RpcError as error:
                last_error = error
        time.sleep(0.05)
    raise TimeoutError(f"no SERVING health answer on {socket_path} in {deadline_seconds}s: {last_error}")


@contextlib.contextmanager
def running_module(
    module: str,
    home: pathlib.Path,
    socket_path: pathlib.Path | None = None,
    arguments: tuple[str, ...] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Runs `python -m module` with DARIO_HOME=home until the block ends (SIGTERM, then SIGKILL)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_path = home / f"{module}.test.log"
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *arguments],
            env=environment(home, extra_env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        if socket_path is not None:
            wait_for_grpc_health(socket_path)
        yield process
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes], grace_seconds: float = 10.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)

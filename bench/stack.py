"""The processes the bench measures and how it reaches them: the scripted upstream and dario's three processes,
each started as `python -m` in its own process, and the Target each load is sent to."""

from __future__ import annotations

import contextlib
import json
import pathlib
import select
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc

from bench.procstat import Process
from bench.workloads import Path
from dario.enums import BACKEND_KINDS
from dario.testing.processes import REPO, environment, running_module, stop_process
from dario.testing.supervised import free_port
from dario.v1 import credentials_pb2, credentials_pb2_grpc

DIRECT_KEY = "bench-key-not-secret"


@contextlib.contextmanager
def listening_module(what: str, arguments: list[str]) -> Iterator[tuple[str, int]]:
    """`python -m` arguments in its own process until the context ends; (the URL its "listening on URL" line
    names, its pid). Raises RuntimeError when no such line comes within 20 s."""
    process = subprocess.Popen(
        [sys.executable, "-m", *arguments],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=environment(pathlib.Path(tempfile.gettempdir())),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20.0)
        line = process.stdout.readline().strip() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"{what} did not start: {line!r}")
        yield line.removeprefix("listening on "), process.pid
    finally:
        stop_process(process)


@contextlib.contextmanager
def upstream_process(delay_ms: float) -> Iterator[tuple[str, int]]:
    """The scripted upstream's URL and pid."""
    with listening_module("scripted upstream", ["bench.upstream", "--port", "0", "--delay-ms", str(delay_ms)]) \
            as (url, pid):
        yield url, pid


ROUTES = """
[[routes]]
match = "pool-*"
backend = "pool"

[[routes]]
match = "gpt-*"
backend = "chat"

[[routes]]
match = "claude-*"
backend = "claude"
"""


@dataclass
class Target:
    name: str  # direct, dario, litellm, portkey
    base_url: str  # ends in /v1
    processes: tuple[Process, ...] = ()
    headers: Callable[[Path], dict[str, str]] = lambda path: {}
    cannot: dict[str, str] = field(default_factory=dict)  # path name: why the target cannot serve it
    about: str = ""  # version, settings


def add_backend(home: pathlib.Path, name: str, kind: str, base_url: str, key: str, credential: str) -> None:
    with grpc.insecure_channel(f"unix:{home / 'run' / 'credential.sock'}") as channel:
        credentials_pb2_grpc.CredentialsStub(channel).AddBackend(
            credentials_pb2.AddBackendRequest(name=name, kind=BACKEND_KINDS.value(kind), base_url=base_url,
                                              api_key=key, credential_name=credential),
            timeout=10,
        )


@contextlib.contextmanager
def dario_stack(home: pathlib.Path, upstream_url: str) -> Iterator[Target]:
    """The three processes; backends chat (one key), pool (three keys) and claude (Anthropic kind), all upstream."""
    port = free_port()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text(ROUTES)
    with (
        running_module("credential_service", home, home / "run" / "credential.sock") as credentials,
        running_module("pool_service", home, home / "run" / "pool.sock") as pool,
        running_module("frontend", home, arguments=("--port", str(port))) as frontend,
    ):
        add_backend(home, "chat", "openai", upstream_url, DIRECT_KEY, "default")
        add_backend(home, "claude", "anthropic", upstream_url, DIRECT_KEY, "default")
        for index in range(3):
            add_backend(home, "pool", "openai", upstream_url, f"bench-pool-key-{index}", f"key{index}")
        base = f"http://127.0.0.1:{port}"
        wait_until_routed(base, backends=3)
        processes = (Process("dario", "frontend", frontend.pid),
                     Process("dario", "credential_service", credentials.pid),
                     Process("dario", "pool_service", pool.pid))
        yield Target("dario", f"{base}/v1", processes)


def wait_until_routed(base: str, backends: int, deadline_seconds: float = 30.0) -> None:
    """Waits until /health says ok and the frontend knows the backends. Never through a proxy: loopback only."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            with opener.open(f"{base}/health", timeout=2) as answer:
                document = json.loads(answer.read())
                if document.get("status") == "ok" and (document.get("backends") or 0) >= backends:
                    return
        time.sleep(0.1)
    raise TimeoutError("dario did not become healthy")


def backend_api(path: Path) -> str:
    return "anthropic" if path.direct(True).endpoint == "/messages" else "chat"


def direct_headers(path: Path) -> dict[str, str]:
    return {"authorization": f"Bearer {DIRECT_KEY}", "x-api-key": DIRECT_KEY}

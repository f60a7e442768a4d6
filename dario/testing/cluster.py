"""Several dario instances on one machine, as several hosts would run them: each its own DARIO_HOME, port and
three processes (credential_service, pool_service, frontend), all started for real; with `redis` set they share
their pools in it under one key prefix. Used by tests/integration/test_cluster_pools.py and bench/cluster.py."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import redis

from dario.config import Environment, load_config
from dario.testing.processes import running_module
from dario.testing.stack import Services
from dario.testing.supervised import free_port


@dataclass
class Instance:
    name: str
    home: pathlib.Path
    port: int
    services: Services
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as answer:
            document: dict[str, object] = json.loads(answer.read())
            return document

    def wait_health(self, wanted: Mapping[str, object], deadline_seconds: float = 30.0) -> dict[str, object]:
        """Waits until /health holds every key: value of wanted (polling with a deadline)."""
        deadline, last = time.monotonic() + deadline_seconds, {}
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                last = self.health()
                if all(last.get(key) == value for key, value in wanted.items()):
                    return last
            time.sleep(0.05)
        raise TimeoutError(f"{self.name}: /health never held {dict(wanted)}: {last}")

    def kill(self) -> None:
        """SIGKILL of all three processes, as when a host dies: nothing is cleaned up."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        for process in self.processes.values():
            process.wait(10)


def cluster_environment(redis_url: str, prefix: str) -> dict[str, str]:
    """The variables that make an instance share its pools (empty url: it keeps them to itself)."""
    return {"DARIO_CLUSTER_REDIS": redis_url, "DARIO_CLUSTER_PREFIX": prefix} if redis_url else {}


@contextlib.contextmanager
def running_instance(home: pathlib.Path, config_text: str, extra_env: Mapping[str, str] | None = None,
                     name: str = "") -> Iterator[Instance]:
    """One instance: config.toml written, the three processes started and healthy (frontend /health answers)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text(config_text)
    port = free_port()
    variables = {"DARIO_PORT": str(port), **(extra_env or {})}
    config = load_config(Environment.read({"DARIO_HOME": str(home), **variables}))
    config.paths.ensure()
    with running_module("credential_service", home, config.paths.credential_socket, extra_env=variables) as \
            credential_service, running_module("pool_service", home, config.paths.pool_socket,
                                               extra_env=variables) as pool_service, \
            running_module("frontend", home, extra_env=variables) as frontend:
        instance = Instance(name or config.cluster.instance, home, port, Services(home, config),
                            {"credential_service": credential_service, "pool_service": pool_service,
                             "frontend": frontend})
        instance.wait_health({})
        yield instance


@contextlib.contextmanager
def running_instances(root: pathlib.Path, count: int, config_text: str, redis_url: str = "",
                      prefix: str = "") -> Iterator[list[Instance]]:
    """count instances under root/instance-N, sharing their pools in redis_url under prefix when it is set."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_instance(root / f"instance-{index}", config_text,
                                                    cluster_environment(redis_url, prefix), f"instance-{index}"))
               for index in range(count)]


def forget_prefix(redis_url: str, prefix: str) -> int:
    """Deletes the keys of one prefix (and only those); how many there were."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match="{" + prefix + "}:*"))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()

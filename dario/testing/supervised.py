"""The whole stack as users run it: supervisord on the config `dario up` writes from deploy/dario.conf, in a
temporary DARIO_HOME (several at once: each has its own socket and logs; the checkout's own form, which keeps them
in deploy/var/, is tested by tests/e2e/test_checkout_supervisord.py)."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from dario.cli.supervisor_config import config_path, write_config
from dario.config import Paths
from dario.json_types import JsonObject
from dario.testing.processes import REPO, environment

BIN = pathlib.Path(sys.executable).parent
PROGRAMS = ("credential_service", "pool_service", "frontend")


def service_pids(home: pathlib.Path) -> dict[str, list[int]]:
    """Every live dario service process on DARIO_HOME=home, by program, whoever its parent (Linux /proc)."""
    found: dict[str, list[int]] = {program: [] for program in PROGRAMS}
    wanted = f"DARIO_HOME={home}".encode()
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            if wanted not in (entry / "environ").read_bytes().split(b"\0") or not alive(int(entry.name)):
                continue
        except OSError:  # gone meanwhile, or not ours to read
            continue
        for program in PROGRAMS:
            if [b"-m", program.encode()] in (arguments[index:index + 2] for index in range(len(arguments))):
                found[program].append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by its new parent, counts as gone)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        result: int = probe.getsockname()[1]
        return result


@dataclass
class Supervised:
    home: pathlib.Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ctl(self, *arguments: str) -> str:
        result = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(config_path(Paths(self.home))), *arguments],
            env=self.env, capture_output=True, text=True, timeout=30,
        )
        return result.stdout.strip()

    def pid(self, program: str) -> int:
        value = self.ctl("pid", program)
        return int(value) if value.isdigit() else 0

    def dario(self, *arguments: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Runs the `dario` CLI as a user would."""
        return subprocess.run(
            [sys.executable, "-m", "dario.cli.main", *arguments],
            env=self.env, input=input_text, capture_output=True, text=True, timeout=60, cwd=REPO,
        )

    def health(self) -> JsonObject:
        with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as answer:
            result: JsonObject = json.loads(answer.read())
            return result

    def wait_healthy(self, deadline_seconds: float = 60.0) -> JsonObject:
        deadline = time.monotonic() + deadline_seconds
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = self.health()
                if last.get("status") == "ok":
                    return last
            except OSError as error:
                last = error
            time.sleep(0.1)
        raise TimeoutError(f"the stack did not become healthy in {deadline_seconds}s: {last}")

    def wait_for_backends(self, count: int, deadline_seconds: float = 20.0) -> None:
        """Waits until the frontend's catalog (pushed by credential_service) holds `count` backends."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.health().get("backends") == count:
                return
            time.sleep(0.05)
        raise TimeoutError(f"the frontend never saw {count} backend(s)")

    def wait_restarted(self, program: str, old_pid: int, deadline_seconds: float = 60.0) -> int:
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            pid = self.pid(program)
            if pid and pid != old_pid and "RUNNING" in self.ctl("status", program):
                return pid
            time.sleep(0.1)
        raise TimeoutError(f"supervisord did not restart {program}")

    def start_supervisord(self) -> None:
        """Starts a new supervisord on the same DARIO_HOME (after the previous one died)."""
        self.process = start_supervisord(self.home, self.env)

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted((self.home / "logs").glob("*")) if path.is_file()
        )


@contextlib.contextmanager
def supervised_stack(home: pathlib.Path, extra_env: Mapping[str, str] | None = None) -> Iterator[Supervised]:
    """Starts supervisord in the foreground (-n) with the config `dario up` writes; stops it on exit. extra_env:
    more variables for every process (DARIO_API_KEY, a cluster's DARIO_CLUSTER_*, …), inherited by its programs as
    they would the environment of a systemd unit."""
    Paths(home).ensure()
    port = free_port()
    env = environment(home, {"DARIO_PORT": str(port), "DARIO_PYTHON": sys.executable, **(extra_env or {})})
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    stack = Supervised(home=home, port=port, env=env, process=start_supervisord(home, env))
    try:
        stack.wait_healthy()
        yield stack
    finally:
        process = stack.process
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        for pids in service_pids(home).values():  # orphans a failed test left behind (we started them)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def start_supervisord(home: pathlib.Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """supervisord -n on home's run/supervisord.conf, written afresh from deploy/dario.conf for this interpreter."""
    config = write_config(Paths(home), python=sys.executable)
    return subprocess.Popen(
        [str(BIN / "supervisord"), "-n", "-c", str(config)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

"""The design card's command as it stands, `supervisord -c deploy/dario.conf` from a checkout: on a DARIO_HOME that
does not exist yet and with DARIO_HOME unset (~/.dario), stopped from a shell that has no DARIO_HOME, and found by
`dario status`, `dario logs` and `dario down` as a stack `dario up` started is. This form keeps supervisord's own
files in the checkout's deploy/var/ (one stack per checkout), so these tests run one at a time, each stopping its
stack before it ends."""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from dario.testing.processes import REPO
from dario.testing.supervised import BIN, free_port, service_pids

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CONFIG = REPO / "deploy" / "dario.conf"
VAR = REPO / "deploy" / "var"


def shell(home_folder: pathlib.Path, **extra: str) -> dict[str, str]:
    """A user's shell: their own HOME, no DARIO_* but what the test sets, the checkout's interpreter for deploy/run."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("DARIO_") and name != "PYTHONPATH"}
    home_folder.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home_folder), DARIO_PYTHON=sys.executable, **extra)
    return env


def run(env: dict[str, str], *command: str, cwd: pathlib.Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / command[0]), *command[1:]], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def healthy(port: int, deadline_seconds: float = 60.0) -> dict[str, object]:
    deadline, last = time.monotonic() + deadline_seconds, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                health: dict[str, object] = json.loads(answer.read())
                if health.get("status") == "ok":
                    return health
                last = str(health)
        except OSError as error:
            last = str(error)
        time.sleep(0.1)
    raise AssertionError(f"the checkout's stack never became healthy on port {port}: {last}")


def gone(home: pathlib.Path, deadline_seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if not any(service_pids(home).values()):
            return True
        time.sleep(0.1)
    return False


@contextlib.contextmanager
def stopped_afterwards(home: pathlib.Path) -> Iterator[None]:
    """Whatever the test did, the checkout's supervisord and the programs on home are gone afterwards."""
    try:
        yield
    finally:
        run(shell(home.parent / "cleanup"), "supervisorctl", "-c", str(CONFIG), "shutdown")
        for pids in service_pids(home).values():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        gone(home, 30)


def test_the_bare_command_starts_on_a_fresh_dario_home_and_the_cli_finds_and_stops_it(
        tmp_path: pathlib.Path) -> None:
    home = tmp_path / "not" / "made" / "yet"
    port = free_port()
    env = shell(tmp_path / "user", DARIO_HOME=str(home), DARIO_PORT=str(port))
    with stopped_afterwards(home):
        started = run(env, "supervisord", "-c", "deploy/dario.conf")
        assert started.returncode == 0, started.stderr
        assert healthy(port)["version"]
        assert (home / "logs").is_dir() and (home / "run").is_dir()
        assert (home / "run" / "supervisor.sock").resolve() == VAR / "supervisor.sock"

        status = run(env, "dario", "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        processes = json.loads(status.stdout)
        assert str(port) in json.dumps(processes)

        logs = run(env, "dario", "logs", "frontend")
        assert f"serving on http://127.0.0.1:{port}" in logs.stdout

        # A new shell, another folder, no DARIO_HOME: supervisorctl reads what it needs from the file.
        elsewhere = shell(tmp_path / "other user")
        listed = run(elsewhere, "supervisorctl", "-c", str(CONFIG), "status", cwd=tmp_path)
        assert [line.split()[1] for line in listed.stdout.splitlines()] == ["RUNNING"] * 3, listed.stdout

        # A second stack from the same checkout is refused, loudly, and the first keeps serving.
        second_home = tmp_path / "second"
        again = run(shell(tmp_path / "user", DARIO_HOME=str(second_home), DARIO_PORT=str(free_port())),
                    "supervisord", "-c", "deploy/dario.conf")
        assert again.returncode != 0 and "already listening" in (again.stdout + again.stderr)
        assert healthy(port, 5)

        down = run(env, "dario", "down")
        assert down.returncode == 0, down.stdout + down.stderr
        assert gone(home, 5), "dario down returned before the processes were gone"
        assert not (VAR / "supervisor.sock").exists()


def test_the_bare_command_with_dario_home_unset_uses_the_users_dot_dario_and_dario_up_takes_over_after(
        tmp_path: pathlib.Path) -> None:
    user = tmp_path / "user"
    home = user / ".dario"
    port = free_port()
    env = shell(user, DARIO_PORT=str(port))
    with stopped_afterwards(home):
        started = run(env, "supervisord", "-c", str(CONFIG), cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        health = healthy(port)
        assert health["services"] == {
            name: {"state": "SERVING", "socket": str(home / "run" / socket)}
            for name, socket in (("credential_service", "credential.sock"), ("pool_service", "pool.sock"))}

        stop = run(shell(tmp_path / "another shell"), "supervisorctl", "-c", str(CONFIG), "shutdown", cwd=tmp_path)
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert gone(home)

        # `dario up` on the same home afterwards writes its own files, not through the links deploy/run made.
        up = run(env, "dario", "up", cwd=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        for link in (home / "run" / "supervisor.sock", home / "logs" / "frontend.log"):
            assert link.exists() and not link.is_symlink()
        assert "serving on" in (home / "logs" / "frontend.log").read_text()
        down = run(env, "dario", "down", cwd=tmp_path)
        assert down.returncode == 0, down.stdout + down.stderr
        assert gone(home, 5)

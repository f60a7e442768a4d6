"""Process lifecycle under real supervisord: its children die with it, and one DARIO_HOME never runs two of a
service (a restart after a SIGKILL of supervisord, or a copy started by hand, refuses instead of taking over)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import grpc
import pytest
from grpc_health.v1 import health_pb2

from dario.grpc_client import health_check
from dario.testing.processes import REPO
from dario.testing.scripted_upstream import ScriptedUpstream, ThreadedUpstream
from dario.testing.supervised import PROGRAMS, Supervised, alive, free_port, service_pids, supervised_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; PR_SET_PDEATHSIG")]
KEY = "test-key-orphans-0123456789abcdef"
SOCKETS = {"credential_service": "credential.sock", "pool_service": "pool.sock"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with ThreadedUpstream() as running:
        yield running


def add_backend(stack: Supervised, upstream: ScriptedUpstream, name: str) -> None:
    added = stack.dario("backend", "add", name, "--kind", "openai", "--base-url", upstream.base_url,
                        "--key-stdin", input_text=KEY)
    assert added.returncode == 0, added.stderr


def supervised_pids(stack: Supervised) -> dict[str, int]:
    return {program: stack.pid(program) for program in PROGRAMS}


def wait_until_all_running(stack: Supervised, deadline_seconds: float = 60.0) -> dict[str, int]:
    deadline = time.monotonic() + deadline_seconds
    while True:
        status = stack.ctl("status")
        if status.count("RUNNING") == len(PROGRAMS):
            return supervised_pids(stack)
        assert time.monotonic() < deadline, f"not all programs came up: {status}"
        time.sleep(0.1)


def serving(socket_path: pathlib.Path) -> bool:
    with grpc.insecure_channel(f"unix:{socket_path}") as channel:
        answer = health_check(channel)(health_pb2.HealthCheckRequest(), timeout=5)
    return answer.status == health_pb2.HealthCheckResponse.SERVING


def test_killing_supervisord_takes_its_children_along_and_a_restart_runs_one_of_each(
    tmp_path: pathlib.Path, upstream: ScriptedUpstream
) -> None:
    home = tmp_path / "home"
    with supervised_stack(home) as stack:
        add_backend(stack, upstream, "before")
        stack.wait_for_backends(1)
        first = wait_until_all_running(stack)
        assert service_pids(home) == {program: [pid] for program, pid in first.items()}

        os.kill(stack.process.pid, signal.SIGKILL)
        stack.process.wait(10)
        killed_at = time.monotonic()
        while any(alive(pid) for pid in first.values()):
            left = {program: pid for program, pid in first.items() if alive(pid)}
            assert time.monotonic() - killed_at < 30, f"orphans outlived supervisord: {left}"
            time.sleep(0.05)
        gone_after = time.monotonic() - killed_at
        print(f"\nall three children exited {gone_after:.2f}s after supervisord's SIGKILL")
        assert service_pids(home) == {program: [] for program in PROGRAMS}

        stack.start_supervisord()
        stack.wait_healthy()
        second = wait_until_all_running(stack)
        assert service_pids(home) == {program: [pid] for program, pid in second.items()}  # exactly one of each
        assert not set(second.values()) & set(first.values())
        for program, pid in second.items():
            assert (home / "run" / f"{program}.lock").read_text() == f"{pid}\n"
        add_backend(stack, upstream, "after")  # the catalog the frontend serves is the live one
        stack.wait_for_backends(2)
        listed = stack.dario("backend", "list")
        assert "before" in listed.stdout and "after" in listed.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, upstream: ScriptedUpstream) -> Iterator[Supervised]:
    with supervised_stack(tmp_path_factory.mktemp("second") / "home") as running:
        add_backend(running, upstream, "scripted")
        running.wait_for_backends(1)
        yield running


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_second_instance_started_by_hand_refuses_and_leaves_the_live_one_alone(
    stack: Supervised, program: str
) -> None:
    live = wait_until_all_running(stack)
    sockets = {name: os.stat(stack.home / "run" / file).st_ino for name, file in SOCKETS.items()}
    arguments = ("--port", str(free_port())) if program == "frontend" else ()
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-m", program, *arguments], env=stack.env, cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    print(f"\nsecond {program}: exit {second.returncode} after {time.monotonic() - started:.2f}s")
    assert second.returncode != 0
    assert f"another {program} (pid {live[program]}) is running on this DARIO_HOME" in second.stderr
    assert {name: os.stat(stack.home / "run" / file).st_ino for name, file in SOCKETS.items()} == sockets
    assert all(serving(stack.home / "run" / file) for file in SOCKETS.values())
    assert supervised_pids(stack) == live and service_pids(stack.home) == {p: [pid] for p, pid in live.items()}
    assert (stack.home / "run" / f"{program}.lock").read_text() == f"{live[program]}\n"
    assert stack.health()["status"] == "ok" and stack.health()["backends"] == 1
    assert "scripted" in stack.dario("backend", "list").stdout

"""`dario up` / `down` / `restart` / `logs` / `proxy` as a new user runs them: the installed `dario` command, a
fresh HOME with no DARIO_HOME, any folder, any shell; and `up` with the port taken."""

from __future__ import annotations

import os
import pathlib
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from dario.testing.supervised import BIN, alive, free_port, service_pids

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def user_environment(tmp_path: pathlib.Path, **extra: str) -> dict[str, str]:
    """A login shell of a user who never used dario: their own HOME, no DARIO_* and no PYTHONPATH."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("DARIO_") and name not in ("PYTHONPATH", "OPENAI_API_KEY")}
    env.update(HOME=str(tmp_path / "user"), **extra)
    (tmp_path / "user").mkdir(exist_ok=True)
    return env


def run(env: dict[str, str], cwd: pathlib.Path, *command: str, timeout: float = 150) -> subprocess.CompletedProcess:
    program = command[0] if command[0].startswith("/") else str(BIN / command[0])
    return subprocess.run([program, *command[1:]], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def supervisord_pid(home: pathlib.Path) -> int:
    try:
        return int((home / "run" / "supervisord.pid").read_text())
    except (OSError, ValueError):
        return 0


def parent_of(pid: int) -> int:
    return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def cleanup() -> Iterator[list[pathlib.Path]]:
    """Homes whose processes are killed if a test leaves any (we started them)."""
    homes: list[pathlib.Path] = []
    yield homes
    for home in homes:
        for pid in [supervisord_pid(home), *(p for pids in service_pids(home).values() for p in pids)]:
            if pid and alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_up_from_any_folder_in_a_fresh_home_then_status_logs_restart_and_down(
    tmp_path: pathlib.Path, cleanup: list[pathlib.Path]
) -> None:
    port = free_port()
    env = user_environment(tmp_path, DARIO_PORT=str(port))
    home = tmp_path / "user" / ".dario"
    cleanup.append(home)
    elsewhere = tmp_path / "some" / "project"
    elsewhere.mkdir(parents=True)
    started = run(env, elsewhere, "dario", "up")
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"is up at http://127.0.0.1:{port} (DARIO_HOME={home})" in started.stdout
    assert f"export ANTHROPIC_BASE_URL=http://127.0.0.1:{port} ANTHROPIC_API_KEY=dario" in started.stdout
    assert f"export OPENAI_BASE_URL=http://127.0.0.1:{port}/v1 OPENAI_API_KEY=dario" in started.stdout
    for folder in (home, home / "logs", home / "run"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    supervisor = supervisord_pid(home)
    pids = service_pids(home)
    assert all(len(found) == 1 for found in pids.values()), pids
    assert {parent_of(found[0]) for found in pids.values()} == {supervisor}  # supervisord is the direct parent

    again = run(env, tmp_path, "dario", "up")
    assert again.returncode == 0 and "dario is already up" in again.stdout, again.stdout + again.stderr
    assert "socket" not in again.stderr.lower() and supervisord_pid(home) == supervisor

    # A new shell, in another folder, with neither DARIO_HOME nor DARIO_PORT: the generated config needs neither.
    new_shell = user_environment(tmp_path)
    config = str(home / "run" / "supervisord.conf")
    listed = run(new_shell, pathlib.Path("/"), "supervisorctl", "-c", config, "status")
    assert listed.returncode == 0 and listed.stdout.count("RUNNING") == 3, listed.stdout + listed.stderr
    assert run(new_shell, tmp_path, "dario", "status").returncode == 0
    assert run(new_shell, tmp_path, "supervisorctl", "-c", config, "stop", "frontend").returncode == 0
    stopped = run(new_shell, tmp_path, "dario", "status")
    assert stopped.returncode == 1 and "not running: frontend" in stopped.stderr, stopped.stdout
    assert run(new_shell, tmp_path, "supervisorctl", "-c", config, "start", "frontend").returncode == 0
    wait_for(lambda: run(new_shell, tmp_path, "dario", "status").returncode == 0, 60, "the frontend never returned")

    shown = run(new_shell, tmp_path, "dario", "logs", "frontend", "-n", "200")
    assert shown.returncode == 0 and f"serving on http://127.0.0.1:{port}" in shown.stdout
    follower = subprocess.Popen([str(BIN / "dario"), "logs", "frontend", "-f", "-n", "0"], env=new_shell,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        marker = f"marker-{time.monotonic_ns()}"
        wait_for(lambda: _append_and_seen(home / "logs" / "frontend.log", marker, follower), 20,
                 "dario logs -f never printed a new line")
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(20) == 0

    restarted = run(new_shell, tmp_path, "dario", "restart")
    assert restarted.returncode == 0 and "is up at" in restarted.stdout, restarted.stdout + restarted.stderr
    assert supervisord_pid(home) != supervisor and not alive(supervisor)

    everything = [supervisord_pid(home), *(found[0] for found in service_pids(home).values())]
    stopping = run(new_shell, tmp_path, "dario", "down")
    assert stopping.returncode == 0 and "dario is down" in stopping.stdout, stopping.stdout + stopping.stderr
    assert not any(alive(pid) for pid in everything), "down returned before every process was gone"
    assert not any(service_pids(home).values())
    assert "not running" in run(new_shell, tmp_path, "dario", "down").stdout


def _append_and_seen(log: pathlib.Path, marker: str, follower: subprocess.Popen[str]) -> bool:
    assert follower.stdout is not None  # started with stdout=PIPE
    with open(log, "a") as handle:
        handle.write(marker + "\n")
    ready, _, _ = select.select([follower.stdout], [], [], 0.5)
    return bool(ready) and marker in follower.stdout.readline()


def test_up_with_the_port_taken_prints_the_bind_error_exits_1_and_leaves_nothing_running(
    tmp_path: pathlib.Path, cleanup: list[pathlib.Path]
) -> None:
    home = tmp_path / "user" / ".dario"
    cleanup.append(home)
    with socket.socket() as taken:  # as claude-code-router holds 3456
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = user_environment(tmp_path, DARIO_PORT=str(port))
        failed = run(env, tmp_path, "dario", "up")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"dario: the frontend could not start: cannot listen on 127.0.0.1:{port}" in failed.stderr
    assert "address already in use" in failed.stderr.lower()
    assert "stopping what was started" in failed.stderr
    assert not alive(supervisord_pid(home)) and not any(service_pids(home).values())


def test_proxy_runs_the_stack_in_the_foreground_until_interrupted(tmp_path: pathlib.Path,
                                                                  cleanup: list[pathlib.Path]) -> None:
    port = free_port()
    env = user_environment(tmp_path)
    home = tmp_path / "user" / ".dario"
    cleanup.append(home)
    proxy = subprocess.Popen([str(BIN / "dario"), "proxy", "--port", str(port), "--model", "forced-model"],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: run(env, tmp_path, "dario", "status").returncode == 0, 90, "the proxy never served")
        pids = service_pids(home)
        assert {parent_of(found[0]) for found in pids.values()} == {proxy.pid}  # exec'd: supervisord itself
        frontend_environ = pathlib.Path(f"/proc/{pids['frontend'][0]}/environ").read_bytes().split(b"\0")
        assert b"DARIO_FORCE_MODEL=forced-model" in frontend_environ
    finally:
        proxy.send_signal(signal.SIGINT)
        proxy.wait(90)
    assert not any(service_pids(home).values())


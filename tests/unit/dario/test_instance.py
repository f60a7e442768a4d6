"""One instance per service and DARIO_HOME: the lock in run/ refuses a second holder by name of the first's pid,
is released however its holder dies, and a service dies with the process that started it."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from dario.instance import AlreadyRunning, InstanceError, hold_instance_lock
from dario.testing.processes import REPO
from dario.testing.supervised import alive

pytestmark = pytest.mark.timeout(60)

HOLD = """
import sys
from dario.instance import hold_instance_lock
lock = hold_instance_lock(__import__("pathlib").Path(sys.argv[1]), "credential_service")
print("held", flush=True)
sys.stdin.read()  # until the test closes stdin
"""


def holder(run_dir: pathlib.Path) -> subprocess.Popen:
    """Another process holding run_dir's credential_service lock until its stdin closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert process.stdout.readline() == "held\n"
    return process


def test_a_second_instance_is_refused_with_the_holders_pid(tmp_path: pathlib.Path) -> None:
    first = holder(tmp_path)
    try:
        with pytest.raises(AlreadyRunning) as raised:
            hold_instance_lock(tmp_path, "credential_service")
        message = str(raised.value)
        assert f"another credential_service (pid {first.pid}) is running" in message
        assert str(tmp_path / "credential_service.lock") in message
        assert hold_instance_lock(tmp_path, "pool_service").path.name == "pool_service.lock"  # one per service
    finally:
        first.stdin.close()
        first.wait(10)
    with hold_instance_lock(tmp_path, "credential_service") as mine:  # free once the holder has exited
        assert mine.path.read_text() == f"{os.getpid()}\n"
        assert mine.path.stat().st_mode & 0o777 == 0o600


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: pathlib.Path) -> None:
    first = holder(tmp_path)
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    assert (tmp_path / "credential_service.lock").read_text() == f"{first.pid}\n"  # a stale pid file ...
    with hold_instance_lock(tmp_path, "credential_service") as mine:  # ... never blocks a start
        assert mine.path.read_text() == f"{os.getpid()}\n"


def test_a_symlink_planted_at_the_lock_path_is_refused(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    (tmp_path / "frontend.lock").symlink_to(target)
    with pytest.raises(InstanceError, match="cannot open the instance lock"):
        hold_instance_lock(tmp_path, "frontend")
    assert target.read_text() == "keep me"


GRANDPARENT = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
print(child.pid, flush=True)
sys.stdin.read()
"""
CHILD = """
import os, sys, time
from dario.instance import die_with_parent
die_with_parent("test", os.environ)
print("ready", flush=True)  # to the grandparent's stdout, which this child shares
time.sleep(60)  # bounded: the parent-death signal ends it long before
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_service_gets_sigterm_when_its_parent_is_killed(tmp_path: pathlib.Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", GRANDPARENT, CHILD], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    child = int(parent.stdout.readline())
    assert parent.stdout.readline() == "ready\n"  # the parent-death signal is set
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    killed_at = time.monotonic()
    while alive(child):
        assert time.monotonic() - killed_at < 10, "the child outlived its parent"
        time.sleep(0.02)


def test_a_service_whose_parent_died_before_start_refuses_to_run() -> None:
    code = "import os\nfrom dario.instance import die_with_parent\ndie_with_parent('pool_service', os.environ)"
    # deploy/run records supervisord's pid at fork time; a different parent now means that one has died.
    not_the_parent = str(os.getpid() + 1_000_000)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=REPO,
                            env={**os.environ, "DARIO_PARENT_PID": not_the_parent})
    assert result.returncode != 0
    assert f"the process that started pool_service (pid {not_the_parent}, as DARIO_PARENT_PID says) has exited" \
        in result.stderr

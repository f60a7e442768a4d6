"""supervisord as the CLI sees it: its XML-RPC interface on $DARIO_HOME/run/supervisor.sock, and process liveness."""

from __future__ import annotations

import contextlib
import http.client
import os
import pathlib
import signal
import socket
import time
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from dario.config import Paths

PROGRAMS = ("credential_service", "pool_service", "frontend")
RPC_TIMEOUT_SECONDS = 5.0
_RPC_ERRORS = (OSError, http.client.HTTPException, xmlrpc.client.Error)
# A process's info as supervisord's getProcessInfo answers it (an XML-RPC struct: statename, pid, exitstatus, …).
ProcessInfo = dict[str, Any]


class Supervisor:
    """One supervisord on one DARIO_HOME, whichever config started it (all of them use run/supervisor.sock)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.socket = paths.run_dir / "supervisor.sock"
        self.pidfile = paths.run_dir / "supervisord.pid"

    def _supervisor(self) -> Any:
        """supervisord's `supervisor.*` XML-RPC namespace; its answers are untyped XML-RPC values."""
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport).supervisor

    def running(self) -> bool:
        """Whether a supervisord answers on the socket (a stale socket file answers nothing)."""
        if not self.socket.exists():
            return False
        try:
            with _deadline(RPC_TIMEOUT_SECONDS):
                return str(self._supervisor().getState()["statename"]) in ("RUNNING", "RESTARTING")
        except _RPC_ERRORS:
            return False

    def pid(self) -> int:
        try:
            with _deadline(RPC_TIMEOUT_SECONDS):
                return int(self._supervisor().getPID())
        except _RPC_ERRORS:
            return 0

    def processes(self) -> dict[str, ProcessInfo]:
        """{program: supervisor's process info (statename, pid, exitstatus, spawnerr, …)}; {} when it is down."""
        try:
            with _deadline(RPC_TIMEOUT_SECONDS):
                return {info["name"]: info for info in self._supervisor().getAllProcessInfo()}
        except _RPC_ERRORS:
            return {}

    def shutdown(self) -> bool:
        try:
            with _deadline(RPC_TIMEOUT_SECONDS):
                self._supervisor().shutdown()
        except _RPC_ERRORS:
            return False
        return True


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """A socket timeout for one XML-RPC call (the transport has none of its own)."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def alive(pid: int) -> bool:
    """Whether pid runs; a zombie (dead, not yet reaped by whoever adopted it) counts as gone."""
    if pid <= 0:
        return False
    if pathlib.Path("/proc/self/stat").exists():  # Linux: a zombie is visible as such
        try:
            return pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Waits until none of pids runs, at most timeout seconds; returns those still running."""
    deadline = time.monotonic() + timeout
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def pid_from_file(path: pathlib.Path) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip())
    return 0


def terminate(pids: list[int]) -> None:
    """SIGTERM to each pid still running (a last resort for a supervisord that no longer answers)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)

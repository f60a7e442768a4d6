"""One process per service and DARIO_HOME, and none outliving the supervisor that started it.

An orphan left by a killed supervisord, or a second copy started by hand, would unlink the live sockets, serve a
stale catalog, and write the vault from an old revision: each service takes an exclusive lock in run/ before
touching anything, and asks the kernel for SIGTERM when its parent dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import pathlib
import signal
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0  # the fallback where there is no parent-death signal
PID_WAIT_SECONDS = 0.5  # a holder that just took the lock writes its pid a moment later
PARENT_PID_VARIABLE = "DARIO_PARENT_PID"  # set by deploy/run: the supervisor's pid, as it was at fork time


class InstanceError(Exception):
    """This process must not run; the message says why and what to do."""


class AlreadyRunning(InstanceError):
    pass


class ParentGone(InstanceError):
    pass


@dataclass
class InstanceLock:
    """An exclusive flock held on run/SERVICE.lock (which names the holder's pid) until released or exit."""

    path: pathlib.Path
    descriptor: int

    def release(self) -> None:
        if self.descriptor >= 0:
            os.close(self.descriptor)  # closing the only descriptor releases the flock
            self.descriptor = -1

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold_instance_lock(run_dir: pathlib.Path, service: str) -> InstanceLock:
    """Takes run_dir/SERVICE.lock or raises AlreadyRunning naming the pid that holds it.

    flock, not a pid file alone: the kernel drops the lock when its holder dies however it dies, so a stale file
    never blocks a start, and a live holder always does."""
    path = run_dir / f"{service}.lock"
    try:
        # O_NOFOLLOW: never lock (or truncate) whatever a planted symlink points to; O_CLOEXEC: no child keeps it.
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise InstanceError(f"cannot open the instance lock {path}: {error.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder_pid(descriptor)
        os.close(descriptor)
        raise AlreadyRunning(
            f"another {service} ({holder}) is running on this DARIO_HOME ({run_dir.parent}) and holds {path}; "
            "not starting a second one (stop the other first; under supervisord this start is retried)"
        ) from None
    except BaseException:
        os.close(descriptor)
        raise
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    return InstanceLock(path, descriptor)


def _holder_pid(descriptor: int) -> str:
    deadline = time.monotonic() + PID_WAIT_SECONDS
    while True:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return f"pid {int(text)}"
        if time.monotonic() > deadline:
            return "pid unknown"
        time.sleep(0.01)


def die_with_parent(service: str, environ: Mapping[str, str]) -> None:
    """Asks for SIGTERM (a clean drain) when the parent dies; raises ParentGone if it already has.

    Linux: PR_SET_PDEATHSIG. The signal fires when the parent *thread* that forked exits, so this suits a
    single-threaded supervisor such as supervisord. It is not inherited across fork, and a parent dying before
    it is set goes unnoticed by the kernel: hence the check against the pid deploy/run recorded at fork time
    (or, without it, the one seen just before). Elsewhere, a thread polls the parent pid instead."""
    recorded = environ.get(PARENT_PID_VARIABLE, "")
    parent = int(recorded) if recorded.isdigit() else os.getppid()
    if not _set_parent_death_signal(signal.SIGTERM):
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watch", daemon=True).start()
    if os.getppid() != parent:
        source = f", as {PARENT_PID_VARIABLE} says" if recorded.isdigit() else ""
        raise ParentGone(f"the process that started {service} (pid {parent}{source}) has exited; "
                         "not starting an orphan")


def _set_parent_death_signal(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        result: int = libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        return result == 0
    return False


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)

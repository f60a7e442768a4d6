"""`dario logs [PROCESS] [-f]`: the processes' logs in $DARIO_HOME/logs, the last lines or followed as they grow."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

from dario.cli.client import CliError
from dario.cli.supervisor_client import PROGRAMS
from dario.config import Paths

LOGS = (*PROGRAMS, "supervisord")
FOLLOW_POLL_SECONDS = 0.2
READ_LIMIT = 1 << 20  # a follow step or a tail reads at most this much: a huge log is never loaded whole


def log_path(paths: Paths, process: str) -> pathlib.Path:
    return paths.logs_dir / f"{process}.log"


def tail(path: pathlib.Path, lines: int) -> list[str]:
    """The last lines of a file (from its last READ_LIMIT bytes); [] when it does not exist."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - READ_LIMIT))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:] if lines > 0 else []


def size_of(path: pathlib.Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_since(path: pathlib.Path, offset: int) -> bytes:
    """What was written to a log after offset (from the start when the file was rotated and is now shorter)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(offset if offset <= size else 0)
            return handle.read(READ_LIMIT)
    except FileNotFoundError:
        return b""


def logs(paths: Paths, arguments: argparse.Namespace) -> int:
    processes = [arguments.process] if arguments.process else list(LOGS)
    files = {process: log_path(paths, process) for process in processes}
    if not any(path.exists() for path in files.values()):
        raise CliError(f"no logs yet in {paths.logs_dir}: start dario with `dario up`")
    prefix = len(processes) > 1
    for process, path in files.items():
        for line in tail(path, arguments.lines):
            _write(process, line, prefix)
    sys.stdout.flush()
    if arguments.follow:
        try:
            follow(files, prefix)
        except KeyboardInterrupt:
            pass
    return 0


def follow(files: dict[str, pathlib.Path], prefix: bool) -> None:
    """Prints what is appended to each file until interrupted; a rotated (shorter or replaced) file is reread."""
    positions = {process: (size_of(path), _inode(path)) for process, path in files.items()}
    pending = {process: b"" for process in files}
    while True:
        for process, path in files.items():
            offset, inode = positions[process]
            if _inode(path) != inode or size_of(path) < offset:
                offset, inode = 0, _inode(path)
            data = read_since(path, offset)
            positions[process] = (offset + len(data), inode)
            *complete, pending[process] = (pending[process] + data).split(b"\n")
            for line in complete:
                _write(process, line.decode("utf-8", "replace"), prefix)
        sys.stdout.flush()
        time.sleep(FOLLOW_POLL_SECONDS)


def _inode(path: pathlib.Path) -> int:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return 0


def _write(process: str, line: str, prefix: bool) -> None:
    sys.stdout.write(f"{process:<18} | {line}\n" if prefix else f"{line}\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("process", nargs="?", choices=LOGS, help="one process (default: all of them)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing what is written (Ctrl-C ends)")
    parser.add_argument("-n", "--lines", type=int, default=50, help="lines of each log to show first (default 50)")

"""CPU seconds and peak resident memory of the processes the bench measures, read from /proc (Linux only)."""

from __future__ import annotations

import collections
import contextlib
import os
import pathlib
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name in parentheses may hold spaces: the parent pid is the 2nd field after the last ')'
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children[parent].append(int(stat.parent.name))
    return children


def process_tree(root: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """root and all its live descendants (LiteLLM and Node may start workers); `children` from one children_of()
    serves several roots."""
    children = children_of() if children is None else children
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """user + system CPU of pid and of its children it has waited for (utime, stime, cutime, cstime); 0 if gone."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # after the ')': state is field 3 of proc(5), so utime (14) .. cstime (17) are indexes 11..14 here
        return sum(int(value) for value in fields[11:15]) / TICKS
    return 0.0


def tree_cpu_seconds(root: int) -> float:
    """CPU of root (with its reaped children) and of every live descendant."""
    return sum(cpu_seconds(pid) for pid in process_tree(root))


def status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_mb(root: int) -> float:
    """VmHWM (the kernel's peak resident set) of root and its live descendants, summed, in MB."""
    return sum(status_kb(pid, "VmHWM") for pid in process_tree(root)) / 1024


def rss_mb(root: int, children: dict[int, list[int]] | None = None) -> float:
    return sum(status_kb(pid, "VmRSS") for pid in process_tree(root, children)) / 1024


def pss_kb(pid: int) -> int:
    """The proportional set size of pid: its private pages, plus each shared page divided by the number of
    processes mapping it (gRPC's, Python's and OpenSSL's library pages are mapped by each of dario's three).
    Reading it walks the process's page tables (3-10 ms for one of these processes, under its memory lock): read
    once after the loads, never while sampling."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def pss_mb(root: int, children: dict[int, list[int]] | None = None) -> float:
    return sum(pss_kb(pid) for pid in process_tree(root, children)) / 1024


@dataclass(frozen=True)
class Process:
    """A process the bench measures: its name in the tables (frontend, pool_service, LiteLLM …), its pid."""

    target: str  # dario, litellm, portkey; "bench" for the upstream and the load generator every target shares
    name: str
    pid: int
    alone: bool = False  # its own CPU only, not its descendants' (the bench process, parent of everything)


def cpu_snapshot(processes: list[Process]) -> dict[str, float]:
    return {process.name: cpu_seconds(process.pid) if process.alone else tree_cpu_seconds(process.pid)
            for process in processes}

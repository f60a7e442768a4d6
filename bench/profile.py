"""py-spy on dario's frontend under the bench's load: one path, one concurrency, for a number of seconds.

    .venv/bin/python -m bench.profile --path chat --concurrency 1 --seconds 20 [--stream] [--out profile.txt]

Starts the bench's upstream and the three dario processes as `python -m bench` does, runs the path's load while
`py-spy record --format raw` samples the frontend (py-spy from PyPI: `pip install py-spy`; it needs ptrace rights on
the process, which a child of the same user has where kernel.yama.ptrace_scope ≤ 1), then prints the functions
with the most samples, self and total. The raw file (collapsed stacks) feeds a flame graph.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import pathlib
import shutil
import subprocess
import sys
import tempfile

from bench.load import load
from bench.stack import dario_stack, upstream_process
from bench.workloads import paths


def summary(raw: pathlib.Path, top: int = 30) -> str:
    """The functions with the most samples: where the frontend's time went (self), and what holds it (total)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    lines = [f"{samples} samples", "", "self:"]
    lines += [f"  {count / samples:6.1%}  {frame}" for frame, count in own.most_common(top)]
    lines += ["", "total:"]
    lines += [f"  {count / samples:6.1%}  {frame}" for frame, count in total.most_common(top)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="chat", choices=[path.name for path in paths()])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("profile.txt"))
    arguments = parser.parse_args()
    spy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).parent / "py-spy")
    path = next(path for path in paths() if path.name == arguments.path)
    with (tempfile.TemporaryDirectory(prefix="dario-profile-") as scratch,
          upstream_process(arguments.delay_ms) as (url, _)):
        with dario_stack(pathlib.Path(scratch) / "home", url) as dario:
            frontend = next(process for process in dario.processes if process.name == "frontend")
            request = path.client(arguments.stream)
            asyncio.run(load("warmup", path.name, dario.base_url, request, {}, 4, 100, 10))
            recorder = subprocess.Popen([spy, "record", "--format", "raw", "--rate", str(arguments.rate),
                                         "--pid", str(frontend.pid), "--output", str(arguments.out), "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            run = asyncio.run(load("dario", path.name, dario.base_url, request, {}, arguments.concurrency, 10**9,
                                   arguments.seconds, dario.processes))
            recorder.send_signal(2)  # SIGINT: py-spy writes what it has and exits
            _, errors = recorder.communicate(timeout=60)
    print(f"{run.requests} requests, p50 {run.p50_ms:.2f} ms, {run.throughput:.0f} req/s, frontend CPU "
          f"{run.cpu_ms_per_request('frontend'):.3f} ms/request")
    if not arguments.out.exists():
        print(f"py-spy wrote nothing: {errors.strip()[-500:]}", file=sys.stderr)
        return 1
    print(summary(arguments.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""dario's added latency, throughput and memory against calling the same scripted upstream directly, and against
LiteLLM's proxy in front of that same upstream, all in one run.

    .venv/bin/python -m bench [--requests 1000] [--seconds 20] [--delay-ms 20] [--litellm/--no-litellm]

Starts the scripted upstream (bench/upstream.py: its own process, a fixed delay before answering), the three
dario processes in a temporary DARIO_HOME and LiteLLM's proxy (`litellm[proxy]`, installed on first use into
bench/.litellm-venv), then runs a bounded load (a request count and a time cap) at each concurrency against each
target in turn: plain requests at 1, 16 and 64, streaming ones at 1 and 64. Figures are differences and ratios
against the direct run at the same concurrency in the same run. Writes bench/results/bench.md, bench.json,
latency.png and logs/. When LiteLLM cannot be installed or started, reports direct and dario and says why.
Exits 1 when a direct or dario run saw an error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench import litellm_setup, report
from bench.load import Memory, Run, load, pids_with_environment, process_tree, sampled_memory
from dario.testing.processes import REPO, environment, running_module, stop_process
from dario.testing.supervised import free_port


@contextlib.contextmanager
def upstream_process(delay_ms: float):
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.upstream", "--port", "0", "--delay-ms", str(delay_ms)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=environment(pathlib.Path(tempfile.gettempdir())),
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20.0)
        line = process.stdout.readline().strip() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"scripted upstream did not start: {line!r}")
        yield line.removeprefix("listening on ")
    finally:
        stop_process(process)


@contextlib.contextmanager
def dario_stack(home: pathlib.Path, upstream_url: str):
    port = free_port()
    with (
        running_module("credential_service", home, home / "run" / "credential.sock"),
        running_module("pool_service", home, home / "run" / "pool.sock"),
        running_module("frontend", home, arguments=("--port", str(port))),
    ):
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "dario.cli.main",
                "backend",
                "add",
                "bench",
                "--kind",
                "openai",
                "--base-url",
                upstream_url,
                "--key-env",
                "BENCH_KEY",
            ],
            env=environment(home, {"BENCH_KEY": "bench-key-not-secret"}),
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if added.returncode != 0:
            raise RuntimeError(added.stderr)
        base = f"http://127.0.0.1:{port}"
        wait_until_routed(base)
        yield f"{base}/v1"


def wait_until_routed(base: str, deadline_seconds: float = 30.0) -> None:
    """Waits until /health says ok and the frontend knows the backend. Never through a proxy: loopback only."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            with opener.open(f"{base}/health", timeout=2) as answer:
                document = json.loads(answer.read())
                if document.get("status") == "ok" and document.get("backends"):
                    return
        time.sleep(0.1)
    raise TimeoutError("dario did not become healthy")


async def measure(
    targets: dict[str, str], watched: dict[str, list[int]], arguments: argparse.Namespace
) -> tuple[list[Run], dict[str, Memory]]:
    """Each load against each target in turn (so all three see the same moment's noise), memory sampled throughout."""
    runs: list[Run] = []
    async with contextlib.AsyncExitStack() as stack:
        memory = {target: await stack.enter_async_context(sampled_memory(pids)) for target, pids in watched.items()}
        for target, url in targets.items():  # warm-up: connections, caches, the first lease, lazy imports
            warmup = await load("warmup", url, False, 4, 40, 10)
            if warmup.errors:
                print(f"warm-up against {target} saw errors: {warmup.error_kinds}", file=sys.stderr)
        plan = [(False, concurrency) for concurrency in arguments.concurrency]
        plan += [(True, concurrency) for concurrency in arguments.stream_concurrency]
        for stream, concurrency in plan:
            requests = arguments.requests if concurrency > 1 else max(50, arguments.requests // 3)
            for target, url in targets.items():
                run = await load(target, url, stream, concurrency, requests, arguments.seconds)
                runs.append(run)
                print(
                    f"  {run.mode:6} c={concurrency:<3} {target:8} {run.requests:5} ok {run.errors:4} errors  "
                    f"p50 {run.p50_ms:7.1f} ms  p99 {run.p99_ms:7.1f} ms  {run.throughput:7.1f} req/s",
                    file=sys.stderr,
                    flush=True,
                )
    return runs, memory


def prepare_litellm(wanted: bool) -> tuple[bool, dict]:
    """Installs what the bench venv lacks: LiteLLM's proxy when wanted, matplotlib for the chart. (installed, status)"""
    status: dict = {"status": "skipped (--no-litellm)"} if not wanted else {}
    if wanted:
        try:
            litellm_setup.ensure_installed(litellm_setup.LITELLM_REQUIREMENT, litellm_setup.MATPLOTLIB_REQUIREMENT)
            return True, status
        except litellm_setup.Unavailable as error:
            status = {"status": "missing", "reason": str(error)}
            print(f"LiteLLM is missing from this run: {error}", file=sys.stderr)
    with contextlib.suppress(litellm_setup.Unavailable):  # the chart still wants matplotlib
        litellm_setup.ensure_installed(litellm_setup.MATPLOTLIB_REQUIREMENT)
    return False, status


def keep_logs(scratch: pathlib.Path, destination: pathlib.Path) -> None:
    """The logs of dario's processes and LiteLLM's, kept for a look at whatever went wrong in the run."""
    destination.mkdir(parents=True, exist_ok=True)
    for stale in destination.glob("*.log"):  # an earlier run's, LiteLLM's among them
        stale.unlink()
    for log in [*scratch.glob("home/*.log"), *scratch.glob("*.log")]:
        shutil.copy(log, destination / log.name)


def draw_chart(json_path: pathlib.Path, png_path: pathlib.Path) -> str:
    """Runs bench/chart.py with the bench venv's python (it has matplotlib); '' or why there is no chart."""
    if litellm_setup.installed_version("matplotlib") is None:
        return f"no chart: matplotlib is not installed in {litellm_setup.VENV}"
    drawn = subprocess.run(
        [litellm_setup.venv_python(), REPO / "bench" / "chart.py", json_path, png_path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "" if drawn.returncode == 0 else f"no chart: {drawn.stderr.strip()[-500:]}"


def without_nan(value: object) -> object:
    """NaN (a target with no successful request) as JSON null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nan(item) for item in value]
    return value


def interrupt(number: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {number}")


def concurrency_list(text: str) -> list[int]:
    return sorted({int(part) for part in text.split(",") if part.strip()})


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests per run (a third, at least 50, at c=1)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per run")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="upstream delay before answering")
    parser.add_argument("--concurrency", type=concurrency_list, default=[1, 16, 64], help="plain runs, e.g. 1,16,64")
    parser.add_argument("--stream-concurrency", type=concurrency_list, default=[1, 64], help="streaming runs")
    parser.add_argument(
        "--litellm",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure LiteLLM's proxy (installs it into bench/.litellm-venv on first use)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results")
    return parser.parse_args()


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the context managers stop every process this bench started.
    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, interrupt)
    arguments = parse_arguments()
    started = time.monotonic()
    use_litellm, litellm = prepare_litellm(arguments.litellm)
    arguments.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dario-bench-") as scratch, contextlib.ExitStack() as stack:
        home = pathlib.Path(scratch) / "home"
        stack.callback(keep_logs, pathlib.Path(scratch), arguments.out / "logs")  # runs last, once all have stopped
        upstream_url = stack.enter_context(upstream_process(arguments.delay_ms))
        targets = {"direct": upstream_url, "dario": stack.enter_context(dario_stack(home, upstream_url))}
        watched = {"dario": pids_with_environment("DARIO_HOME", str(home))}
        proxy = None
        if use_litellm:
            try:
                proxy = stack.enter_context(
                    litellm_setup.litellm_proxy(pathlib.Path(scratch), upstream_url, free_port())
                )
                targets["litellm"], watched["litellm"] = proxy.base_url, process_tree(proxy.pid)
                litellm = {"status": "ran", "version": proxy.version, "workers": 1}
            except litellm_setup.Unavailable as error:
                litellm = {"status": "missing", "reason": str(error)}
                print(f"LiteLLM is missing from this run: {error}", file=sys.stderr)
        print(f"measuring {', '.join(targets)}", file=sys.stderr, flush=True)
        runs, memory = asyncio.run(measure(targets, watched, arguments))
        if proxy is not None:
            litellm["log_findings"] = litellm_setup.log_findings(proxy.log_path)
    elapsed = time.monotonic() - started
    date = time.strftime("%Y-%m-%d")
    settings = {
        "date": date,
        "delay_ms": arguments.delay_ms,
        "requests": arguments.requests,
        "seconds": arguments.seconds,
        "cpus": os.cpu_count(),
        "elapsed_seconds": round(elapsed),
    }
    measured_litellm = "litellm" in targets
    header = (
        f"dario bench, {date}: scripted upstream with {arguments.delay_ms:.0f} ms delay, {arguments.requests} "
        f"requests per run ({max(50, arguments.requests // 3)} at concurrency 1), cap {arguments.seconds:.0f} s per "
        f"run, {os.cpu_count()} CPUs, {elapsed:.0f} s in all. Latency: until the whole body is read; TTFB: until "
        f"its first byte. Added: minus the direct run at the same concurrency in this run.\n\n"
        + (
            f"LiteLLM {litellm['version']} (`litellm[proxy]`, one worker, no database, no callbacks).\n\n"
            if measured_litellm
            else f"LiteLLM not measured: {litellm.get('reason', litellm['status'])}\n\n"
        )
    )
    body = (
        report.summary(runs, memory, arguments.concurrency, measured_litellm)
        + "\n\nEvery run:\n\n"
        + report.runs_table(runs)
        + "\n"
    )
    if litellm.get("log_findings"):
        body += "\nLiteLLM logged:\n" + "\n".join(f"    {line}" for line in litellm["log_findings"]) + "\n"
    json_path = arguments.out / "bench.json"
    json_path.write_text(json.dumps(without_nan(report.document(settings, runs, memory, litellm)), indent=1))
    chart_problem = draw_chart(json_path, arguments.out / "latency.png")
    if chart_problem:
        body += f"\n{chart_problem}\n"
    (arguments.out / "bench.md").write_text(header + body)
    print(header + body)
    return 1 if any(run.errors for run in runs if run.target != "litellm") else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench interrupted; everything it started is stopped", file=sys.stderr)
        sys.exit(130)

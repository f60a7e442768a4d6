"""dario on every path against calling the same scripted upstream directly, beside LiteLLM's proxy and Portkey's
gateway in front of that same upstream, all in one run.

    .venv/bin/python -m bench [--quick] [--requests 1000] [--seconds 10] [--delay-ms 20] [--no-litellm] [--no-portkey]

Starts the scripted upstream (bench/upstream.py: its own process, a fixed delay before answering; Chat Completions
and Anthropic Messages on one port), the three dario processes in a temporary DARIO_HOME (one OpenAI-kind backend
with one credential, one with three, one Anthropic-kind), LiteLLM's proxy (`litellm[proxy]`, installed on first use
into bench/.litellm-venv) and Portkey's gateway (npm, into bench/.peers/portkey). Each path of bench/workloads.py
(pass-through, translated both ways, Responses → Chat, a pool of three, a 1 MB request, a 10k-event answer) runs at
each of its concurrencies against each target in turn; a peer that cannot serve a path (its probe request fails)
is left out of it and the report says why. CPU seconds of each process are read from /proc before and after each
load; peak RSS (VmHWM) after all. Writes bench/results/bench.md, bench.json, latency.png and logs/.
`--quick`: a few requests per load, no peers (the smoke test in tests/ runs it). Exits 1 when a direct or dario
run saw an error, or a path failed its probe through dario.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import pathlib
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from bench import litellm_setup, portkey_setup, report
from bench.load import Memory, Run, load, probe, sampled_memory
from bench.procstat import Process, peak_rss_mb
from bench.report import SHARED_PROCESSES
from bench.rounds import pool_against_one, saturation_against_direct
from bench.stack import Target, backend_api, dario_stack, direct_headers, upstream_process
from bench.workloads import POOL_MODEL, Path, paths
from dario.testing.processes import REPO
from dario.testing.supervised import free_port


@dataclass(frozen=True)
class Plan:
    path: Path
    stream: bool
    concurrency: int
    requests: int


def plan(arguments: argparse.Namespace) -> list[Plan]:
    steps = []
    for path in paths(arguments.quick):
        if arguments.paths and path.name not in arguments.paths:
            continue
        for stream, concurrencies in ((False, path.plain_concurrency), (True, path.stream_concurrency)):
            for concurrency in concurrencies:
                if path.size_row:
                    count = arguments.size_requests
                elif concurrency == 1:
                    count = arguments.c1_requests
                else:
                    count = arguments.requests
                steps.append(Plan(path, stream, concurrency, count))
    return steps


async def measure(targets: list[Target], upstream_url: str, arguments: argparse.Namespace,
                  shared: tuple[Process, ...] = ()) -> tuple[list[Run], dict[str, Memory]]:
    """Probes every path on every target, then each load against each target in turn (so all see the same moment's
    noise), the summed RSS of each target's processes sampled throughout. The CPU of `shared` (the upstream, the
    load generator) is read around every load too, whatever its target."""
    runs: list[Run] = []
    steps = plan(arguments)
    for target in targets:
        for path in {step.path.name: step.path for step in steps}.values():
            request = (path.direct if target.name == "direct" else path.client)(True)
            problem = await probe(target.base_url, request, target.headers(path), upstream_url,
                                  path.direct(True).endpoint)
            if problem:
                target.cannot[path.name] = problem
                print(f"  {target.name} cannot serve {path.name}: {problem}", file=sys.stderr, flush=True)
        if target.name != "direct":  # warm-up: connections, caches, leases, lazy imports
            path = steps[0].path
            warmup = await load("warmup", path.name, target.base_url, path.client(False), target.headers(path), 4,
                                40, 10)
            if warmup.errors:
                print(f"warm-up against {target.name} saw errors: {warmup.error_kinds}", file=sys.stderr)
    async with contextlib.AsyncExitStack() as stack:
        memory = {target.name: await stack.enter_async_context(sampled_memory(list(target.processes)))
                  for target in targets if target.processes}
        for step in steps:
            for target in targets:
                if step.path.name in target.cannot:
                    continue
                request = (step.path.direct if target.name == "direct" else step.path.client)(step.stream)
                seconds = arguments.seconds if target.name in ("direct", "dario") else arguments.peer_seconds
                run = await load(target.name, step.path.name, target.base_url, request, target.headers(step.path),
                                 step.concurrency, step.requests, seconds, target.processes + shared)
                runs.append(run)
                cpu = "  ".join(f"{name} {run.cpu_ms_per_request(name):.2f}" for name in run.cpu_seconds)
                print(
                    f"  {step.path.name:22} {run.mode:6} c={step.concurrency:<3} {target.name:8} {run.requests:5} ok "
                    f"{run.errors:4} errors  p50 {run.p50_ms:7.1f} ms  p99 {run.p99_ms:7.1f} ms  "
                    f"TTFB p50 {run.ttfb_p50_ms:6.1f}  {run.throughput:7.1f} req/s  CPU ms/req {cpu}",
                    file=sys.stderr,
                    flush=True,
                )
    return runs, memory


def prepare_peers(arguments: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Installs what the bench venv lacks: LiteLLM's proxy and Portkey's gateway when wanted, matplotlib always."""
    status: dict[str, dict[str, Any]] = {}
    wanted = arguments.litellm and not arguments.quick
    if not wanted:
        status["litellm"] = {"status": "skipped"}
    else:
        try:
            litellm_setup.ensure_installed(litellm_setup.LITELLM_REQUIREMENT, litellm_setup.MATPLOTLIB_REQUIREMENT)
        except litellm_setup.Unavailable as error:
            status["litellm"] = {"status": "missing", "reason": str(error)}
            print(f"LiteLLM is missing from this run: {error}", file=sys.stderr)
    if not (arguments.portkey and not arguments.quick):
        status["portkey"] = {"status": "skipped"}
    if not arguments.quick:  # the chart still wants matplotlib (a quick run draws it only if it is there)
        with contextlib.suppress(litellm_setup.Unavailable):
            litellm_setup.ensure_installed(litellm_setup.MATPLOTLIB_REQUIREMENT)
    return status


def start_peers(stack: contextlib.ExitStack, scratch: pathlib.Path, upstream_url: str,
                status: dict[str, dict[str, Any]]) -> list[Target]:
    peers = []
    if "litellm" not in status:
        try:
            proxy = stack.enter_context(litellm_setup.litellm_proxy(scratch, upstream_url, free_port()))
            peers.append(Target("litellm", proxy.base_url, (Process("litellm", "LiteLLM", proxy.pid),),
                                about=f"LiteLLM {proxy.version}"))
            status["litellm"] = {"status": "ran", "version": proxy.version, "workers": 1, "log": str(proxy.log_path)}
        except litellm_setup.Unavailable as error:
            status["litellm"] = {"status": "missing", "reason": str(error)}
            print(f"LiteLLM is missing from this run: {error}", file=sys.stderr)
    if "portkey" not in status:
        try:
            gateway = stack.enter_context(portkey_setup.portkey_gateway(scratch, upstream_url, free_port()))
            peers.append(Target("portkey", gateway.base_url, (Process("portkey", "Portkey", gateway.pid),),
                                headers=lambda path: gateway.headers(backend_api(path), path.model == POOL_MODEL),
                                about=f"Portkey gateway {gateway.version}"))
            status["portkey"] = {"status": "ran", "version": gateway.version, "log": str(gateway.log_path)}
        except litellm_setup.Unavailable as error:
            status["portkey"] = {"status": "missing", "reason": str(error)}
            print(f"Portkey is missing from this run: {error}", file=sys.stderr)
    return peers


def keep_logs(scratch: pathlib.Path, destination: pathlib.Path) -> None:
    """The logs of dario's processes and the peers', kept for a look at whatever went wrong in the run."""
    destination.mkdir(parents=True, exist_ok=True)
    for stale in destination.glob("*.log"):  # an earlier run's
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


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few requests per load, no peers (a smoke test)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per load at concurrency > 1")
    parser.add_argument("--c1-requests", type=int, default=200, help="requests per load at concurrency 1")
    parser.add_argument("--size-requests", type=int, default=20, help="requests per 1 MB / 10k-event load")
    parser.add_argument("--seconds", type=float, default=15.0, help="time cap per load, direct and dario")
    parser.add_argument("--peer-seconds", type=float, default=10.0, help="time cap per load, the peers")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="upstream delay before answering")
    parser.add_argument("--litellm", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure LiteLLM's proxy (installs it into bench/.litellm-venv on first use)")
    parser.add_argument("--portkey", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure Portkey's gateway (npm-installs it into bench/.peers/portkey)")
    parser.add_argument("--paths", type=lambda text: [part for part in text.split(",") if part], default=[],
                        help=f"only these paths (default: all): {','.join(path.name for path in paths())}")
    parser.add_argument("--pool-rounds", type=int, default=6,
                        help="paired rounds of a pool of three against one credential at c=1 (0: none)")
    parser.add_argument("--saturation-rounds", type=int, default=5,
                        help="paired rounds of direct and dario at c=64 for the saturation and TTFB targets (0: none)")
    parser.add_argument("--note", default="", help="a line for the report's header (e.g. the machine was loaded)")
    parser.add_argument("--out", type=pathlib.Path, default=REPO / "bench" / "results")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.requests, arguments.c1_requests, arguments.size_requests = 12, 8, 2
        arguments.pool_rounds = min(arguments.pool_rounds, 2)
        arguments.saturation_rounds = min(arguments.saturation_rounds, 2)
        arguments.seconds = min(arguments.seconds, 10.0)
    return arguments


def main() -> int:
    # SIGTERM unwinds like Ctrl-C, so the context managers stop every process this bench started.
    signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # started in the background by a shell
        signal.signal(signal.SIGINT, interrupt)
    arguments = parse_arguments()
    started = time.monotonic()
    peers = prepare_peers(arguments)
    arguments.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dario-bench-") as scratch, contextlib.ExitStack() as stack:
        home = pathlib.Path(scratch) / "home"
        stack.callback(keep_logs, pathlib.Path(scratch), arguments.out / "logs")  # runs last, once all have stopped
        upstream_url, upstream_pid = stack.enter_context(upstream_process(arguments.delay_ms))
        # What every load costs the rest of the machine: the upstream, and this process, which generates the load.
        shared = (Process("bench", SHARED_PROCESSES[0], upstream_pid),
                  Process("bench", SHARED_PROCESSES[1], os.getpid(), alone=True))
        targets = [Target("direct", upstream_url, headers=direct_headers),
                   stack.enter_context(dario_stack(home, upstream_url))]
        targets += start_peers(stack, pathlib.Path(scratch), upstream_url, peers)
        print(f"measuring {', '.join(target.name for target in targets)}", file=sys.stderr, flush=True)
        runs, memory = asyncio.run(measure(targets, upstream_url, arguments, shared))
        wanted = {step.path.name for step in plan(arguments)}
        paired = (asyncio.run(pool_against_one(targets[1], arguments.pool_rounds, max(20, arguments.c1_requests // 2)))
                  if {"chat", "pool3"} <= wanted and arguments.pool_rounds else None)
        saturation = (asyncio.run(saturation_against_direct(targets[0], targets[1], arguments.saturation_rounds,
                                                            max(64, 2 * arguments.requests)))
                      if "chat" in wanted and arguments.saturation_rounds else None)
        peak = {process.name: peak_rss_mb(process.pid) for target in targets for process in target.processes}
        for peer in peers.values():
            if peer.get("log"):
                peer["log_findings"] = litellm_setup.log_findings(pathlib.Path(peer.pop("log")))
    elapsed = time.monotonic() - started
    settings = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "delay_ms": arguments.delay_ms,
        "requests": arguments.requests,
        "c1_requests": arguments.c1_requests,
        "size_requests": arguments.size_requests,
        "seconds": arguments.seconds,
        "peer_seconds": arguments.peer_seconds,
        "quick": arguments.quick,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "elapsed_seconds": round(elapsed),
        "note": arguments.note,
        "command": "python -m bench" + "".join(f" {shlex.quote(argument)}" for argument in sys.argv[1:]),
    }
    cannot = {target.name: target.cannot for target in targets}
    document = report.document(settings, runs, memory, peak, peers, cannot)
    if paired is not None:
        document["pool_against_one"] = paired
    if saturation is not None:
        document["saturation_against_direct"] = saturation
    json_path = arguments.out / "bench.json"
    json_path.write_text(json.dumps(without_nan(document), indent=1))
    text = report.markdown(document)
    chart_problem = draw_chart(json_path, arguments.out / "latency.png")
    if chart_problem:
        text += f"\n{chart_problem}\n"
    (arguments.out / "bench.md").write_text(text)
    print(text)
    failed = any(run.errors for run in runs if run.target in ("direct", "dario")) or cannot["dario"] or cannot["direct"]
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("bench interrupted; everything it started is stopped", file=sys.stderr)
        sys.exit(130)

"""`python -m bench --quick` as a smoke test: the whole bench runs (scripted upstream, the three dario processes,
every path), and its report has every path's row with non-zero figures. Never a timing assertion: speed is what
the bench reports, not what a test checks."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

from bench.workloads import paths
from dario.testing.processes import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]


def test_a_quick_bench_run_reports_every_path_against_direct(tmp_path: pathlib.Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=360)
    assert done.returncode == 0, done.stderr[-3000:]
    document = json.loads((tmp_path / "bench.json").read_text())
    markdown = (tmp_path / "bench.md").read_text()
    assert document["cannot"] == {"direct": {}, "dario": {}}
    assert {run["target"] for run in document["runs"]} == {"direct", "dario"}  # no peers in a quick run
    for path in paths(quick=True):
        assert path.label in markdown
        loads = [("plain", c) for c in path.plain_concurrency] + [("stream", c) for c in path.stream_concurrency]
        for mode, concurrency in loads:
            for target in ("direct", "dario"):
                [run] = [run for run in document["runs"] if (run["target"], run["path"], run["mode"],
                                                             run["concurrency"]) == (target, path.name, mode,
                                                                                     concurrency)]
                assert run["requests"] > 0 and run["errors"] == 0, run
                assert run["p50_ms"] > 0 and run["ttfb_p50_ms"] > 0 and run["throughput"] > 0, run
                shared = {"upstream", "load generator"}  # what every load costs the rest of the machine
                if target == "dario":
                    assert set(run["cpu_seconds"]) == {"frontend", "credential_service", "pool_service"} | shared
                else:
                    assert set(run["cpu_seconds"]) == shared
                assert all(seconds >= 0 for seconds in run["cpu_seconds"].values()), run
    frontend_cpu = sum(run["cpu_seconds"]["frontend"] for run in document["runs"] if run["target"] == "dario")
    assert frontend_cpu > 0  # the frontend did work the bench saw in /proc
    for name in ("upstream", "load generator"):  # both work on every load, direct's included
        assert sum(run["cpu_seconds"][name] for run in document["runs"] if run["target"] == "direct") > 0, name
    for process in ("frontend", "credential_service", "pool_service"):
        assert document["peak_rss_mb"][process] > 10  # a Python process with its imports: tens of MB
    sampled = document["sampled_rss_mb"]["dario"]
    # PSS counts the library pages the three share once, so their sum is below the sum of their RSS
    assert 30 < sampled["after_pss_mb"] < sampled["after_mb"], sampled
    assert "of PSS" in markdown and "Where the CPU goes at saturation" in markdown
    assert "Targets:" in markdown and "CPU per request" in markdown and "peak RSS" in markdown
    paired = document["pool_against_one"]  # the pool-of-three target from paired rounds, not from two far loads
    assert paired["rounds"] == len(paired["p50_differences_ms"]) == 2
    assert "paired rounds" in markdown
    saturation = document["saturation_against_direct"]  # the c=64 targets from paired rounds too
    assert saturation["rounds"] == len(saturation["throughput_ratios"]) == len(saturation["ttfb_ratios"]) == 2
    assert all(figure > 0 for figure in saturation["throughput_ratios"] + saturation["ttfb_ratios"]), saturation


def test_the_floor_run_sets_dario_beside_the_bare_relay_on_every_pass_through_load(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "floor.md"
    done = subprocess.run([sys.executable, "-m", "bench.floor", "--rounds", "1", "--c1-requests", "5", "--requests",
                           "64", "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=360)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in out.read_text().splitlines() if line.startswith("| ") and
            line.split("|")[1].strip() in ("chat", "anthropic")]
    assert {(row[0].strip(), row[1].strip(), int(row[2])) for row in rows} == {
        (path, mode, concurrency) for path in ("chat", "anthropic") for mode in ("plain", "stream")
        for concurrency in (1, 64)}
    for row in rows:
        direct, relay_rate, dario_rate = float(row[3]), float(row[8]), float(row[9])
        assert direct > 0 and relay_rate > 0 and dario_rate > 0, row

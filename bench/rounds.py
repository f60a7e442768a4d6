"""Targets read from paired rounds after the main pass: two loads back to back in each round, their order
alternating, so each difference or ratio sees one moment's noise, and the median of the rounds is the figure."""

from __future__ import annotations

import statistics
from typing import Any

from bench.load import Run, load
from bench.stack import Target
from bench.workloads import paths


async def pool_against_one(dario: Target, rounds: int, count: int) -> dict[str, Any]:
    """A pool of three against one credential at c=1, paired: `rounds` rounds of `count` requests each, the two
    loads back to back in each round (their order alternating), so each difference sees one moment's noise; the
    median of the rounds' differences is the figure (issue 13's "≤ 0.1 ms more"). One load of each, minutes
    apart in the main pass, differed by -0.5 to +0.8 ms on this machine with nothing between them but time."""
    chat, pool = (next(path for path in paths() if path.name == name) for name in ("chat", "pool3"))
    differences, cpu = [], []
    for number in range(rounds):
        order = (chat, pool) if number % 2 else (pool, chat)
        measured = {}
        for path in order:
            measured[path.name] = await load("dario", path.name, dario.base_url, path.client(False), {}, 1, count, 30,
                                             dario.processes)
        differences.append(measured["pool3"].p50_ms - measured["chat"].p50_ms)
        cpu.append(measured["pool3"].cpu_ms_per_request("frontend") - measured["chat"].cpu_ms_per_request("frontend"))
    return {"rounds": rounds, "requests": count, "p50_differences_ms": differences,
            "median_p50_difference_ms": statistics.median(differences),
            "median_frontend_cpu_difference_ms": statistics.median(cpu)}


async def saturation_against_direct(direct: Target, dario: Target, rounds: int, count: int,
                                    concurrency: int = 64) -> dict[str, Any]:
    """The saturation and streaming-TTFB targets from paired rounds: in each round the small Chat request runs plain
    and streamed at `concurrency` against direct and dario back to back (their order alternating), and each ratio
    is taken within the round; the medians are the figures. Single loads of a second each, minutes apart, gave
    dario/direct throughput ratios of 0.49 to 0.65 and TTFB ratios of 1.06 to 1.70 on this machine within half an
    hour."""
    chat = next(path for path in paths() if path.name == "chat")
    throughput, ttfb = [], []
    for number in range(rounds):
        order = (direct, dario) if number % 2 else (dario, direct)
        measured: dict[tuple[str, bool], Run] = {}
        for stream in (False, True):
            for target in order:
                request = (chat.direct if target.name == "direct" else chat.client)(stream)
                measured[target.name, stream] = await load(target.name, chat.name, target.base_url, request,
                                                           target.headers(chat), concurrency, count, 30,
                                                           target.processes)
        throughput.append(measured["dario", False].throughput / measured["direct", False].throughput)
        ttfb.append(measured["dario", True].ttfb_p50_ms / measured["direct", True].ttfb_p50_ms)
    return {"rounds": rounds, "requests": count, "concurrency": concurrency, "throughput_ratios": throughput,
            "ttfb_ratios": ttfb, "median_throughput_ratio": statistics.median(throughput),
            "median_ttfb_ratio": statistics.median(ttfb)}

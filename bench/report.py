"""The bench's figures from its runs: a summary against the issue's targets, the table of every run, the JSON."""

from __future__ import annotations

import math
from dataclasses import asdict

from bench.load import Memory, Run

TARGET_NAMES = {"direct": "direct", "dario": "dario", "litellm": "LiteLLM"}


def find(runs: list[Run], target: str, mode: str, concurrency: int) -> Run | None:
    return next((run for run in runs if (run.target, run.mode, run.concurrency) == (target, mode, concurrency)), None)


def added(runs: list[Run], target: str, concurrency: int, attribute: str) -> float:
    """The target's latency figure less the direct run's at the same concurrency, both plain, in this run."""
    run, base = find(runs, target, "plain", concurrency), find(runs, "direct", "plain", concurrency)
    if run is None or base is None or not run.requests:
        return float("nan")
    return getattr(run, attribute) - getattr(base, attribute)


def saturation(runs: list[Run], target: str) -> tuple[float, int]:
    """The highest throughput the target reached over the plain runs, and at which concurrency."""
    plain = [run for run in runs if run.target == target and run.mode == "plain"]
    best = max(plain, key=lambda run: run.throughput, default=None)
    return (best.throughput, best.concurrency) if best else (float("nan"), 0)


def number(value: float, sign: bool = False) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:+.1f}" if sign else f"{value:.1f}"


def times(value: float, base: float) -> str:
    return f"{value / base:.2f}×" if base and not (math.isnan(value) or math.isnan(base)) else "—"


def verdict(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def summary(runs: list[Run], memory: dict[str, Memory], concurrencies: list[int], litellm: bool) -> str:
    """Rows of figures, columns direct | dario | LiteLLM | dario ÷ LiteLLM | the issue's target for the row."""
    lines = [
        "| figure | direct (its own figure) | dario | LiteLLM | dario ÷ LiteLLM | target |",
        "|---|---|---|---|---|---|",
    ]

    def row(figure: str, direct: str, dario: float, other: float, sign: bool, target: str = "") -> None:
        ratio = times(dario, other) if litellm else "—"
        lines.append(
            f"| {figure} | {direct} | {number(dario, sign)} | {number(other, sign) if litellm else '—'} | "
            f"{ratio} | {target} |"
        )

    for concurrency in concurrencies:
        base = find(runs, "direct", "plain", concurrency)
        for attribute, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
            dario, other = added(runs, "dario", concurrency, attribute), added(runs, "litellm", concurrency, attribute)
            target = ""
            if concurrency == 1 and label == "p50":
                target = f"≤ 1 ms: {verdict(dario <= 1.0)}"
            if concurrency == max(concurrencies) and label == "p99" and litellm:
                target = f"≤ 0.1× LiteLLM: {verdict(dario <= 0.1 * other)}"
            direct = f"{getattr(base, attribute):.1f}" if base else "—"
            row(f"added {label} latency, ms, plain, concurrency {concurrency}", direct, dario, other, True, target)
    (direct_best, direct_at), (dario_best, dario_at), (other_best, other_at) = (
        saturation(runs, target) for target in ("direct", "dario", "litellm")
    )
    lines.append(
        f"| throughput at saturation, req/s (best plain run) | {number(direct_best)} (c={direct_at}) | "
        f"{number(dario_best)} (c={dario_at}) | "
        + (
            f"{number(other_best)} (c={other_at}) | {times(dario_best, other_best)} | "
            f"≥ 5× LiteLLM: {verdict(dario_best >= 5 * other_best)} |"
            if litellm
            else "— | — | |"
        )
    )
    for concurrency in sorted({run.concurrency for run in runs if run.mode == "stream"}):
        first = {target: find(runs, target, "stream", concurrency) for target in ("direct", "dario", "litellm")}
        values = {target: run.ttfb_p50_ms if run and run.requests else float("nan") for target, run in first.items()}
        row(
            f"streaming time to first byte p50, ms, concurrency {concurrency}",
            number(values["direct"]),
            values["dario"],
            values["litellm"],
            False,
        )
    dario_memory, other_memory = memory.get("dario", Memory()), memory.get("litellm", Memory())
    row(
        f"resident memory, MB, peak under load (dario: {dario_memory.processes} processes"
        + (f"; LiteLLM: {other_memory.processes})" if litellm else ")"),
        "",
        dario_memory.peak_mb,
        other_memory.peak_mb,
        False,
        f"dario ≤ 200 MB: {verdict(dario_memory.peak_mb <= 200)}",
    )
    row("resident memory, MB, after the load", "", dario_memory.after_mb, other_memory.after_mb, False)
    return "\n".join(lines)


def runs_table(runs: list[Run]) -> str:
    """Every run, next to the direct run at the same mode and concurrency."""
    direct = {(run.mode, run.concurrency): run for run in runs if run.target == "direct"}
    lines = [
        "| mode | concurrency | target | ok | errors | p50 ms | p99 ms | added p50 ms | added p99 ms | "
        "TTFB p50 ms | TTFB p99 ms | req/s | req/s ratio |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        base = direct[(run.mode, run.concurrency)]
        lines.append(
            f"| {run.mode} | {run.concurrency} | {TARGET_NAMES[run.target]} | {run.requests} | "
            f"{f'**{run.errors}**' if run.errors else 0} | {run.p50_ms:.2f} | {run.p99_ms:.2f} | "
            f"{run.p50_ms - base.p50_ms:+.2f} | {run.p99_ms - base.p99_ms:+.2f} | {run.ttfb_p50_ms:.2f} | "
            f"{run.ttfb_p99_ms:.2f} | {run.throughput:.1f} | {times(run.throughput, base.throughput)} |"
        )
    for run in runs:
        if run.errors:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(run.error_kinds.items()))
            lines.append(f"\nERRORS in {run.target} {run.mode} c={run.concurrency}: {kinds}")
    return "\n".join(lines)


def document(settings: dict, runs: list[Run], memory: dict[str, Memory], litellm: dict) -> dict:
    """bench.json: everything the tables and the chart are drawn from."""
    concurrencies = sorted({run.concurrency for run in runs if run.mode == "plain"})
    return {
        "settings": settings,
        "litellm": litellm,
        "runs": [asdict(run) | {"throughput": run.throughput} for run in runs],
        "added_latency_ms": {
            target: {
                str(concurrency): {
                    "p50": added(runs, target, concurrency, "p50_ms"),
                    "p99": added(runs, target, concurrency, "p99_ms"),
                }
                for concurrency in concurrencies
            }
            for target in ("dario", "litellm")
            if any(run.target == target for run in runs)
        },
        "saturation": {
            target: dict(zip(("throughput", "concurrency"), saturation(runs, target)))
            for target in ("direct", "dario", "litellm")
            if any(run.target == target for run in runs)
        },
        "resident_memory_mb": {target: asdict(figures) for target, figures in memory.items()},
    }

"""Draws bench/results/latency.png from bench.json: added p50 and p99 latency against concurrency, dario and LiteLLM.

Runs with the bench's own venv, which has matplotlib: bench/.litellm-venv/bin/python bench/chart.py BENCH_JSON PNG
"""

from __future__ import annotations

import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")  # no display
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"dario": ("dario", "tab:blue"), "litellm": ("LiteLLM proxy", "tab:orange")}


def draw(bench: dict, output: pathlib.Path) -> None:
    settings = bench["settings"]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for axis, percentile in zip(axes, ("p50", "p99")):
        for target, by_concurrency in bench["added_latency_ms"].items():
            label, color = STYLE.get(target, (target, None))
            points = sorted(
                (int(concurrency), figures[percentile])
                for concurrency, figures in by_concurrency.items()
                if figures[percentile] is not None
            )
            if points:
                axis.plot(*zip(*points), marker="o", color=color, label=label)
                for concurrency, value in points:
                    axis.annotate(
                        f"{value:.1f}",
                        (concurrency, value),
                        textcoords="offset points",
                        xytext=(0, 6),
                        ha="center",
                        fontsize=8,
                        color=color,
                    )
        axis.set_xscale("log", base=2)
        axis.set_yscale("symlog", linthresh=1.0)  # LiteLLM's figures run an order of magnitude above dario's
        axis.margins(y=0.15)  # room for the labels above the highest points
        concurrencies = sorted({int(c) for figures in bench["added_latency_ms"].values() for c in figures})
        axis.set_xticks(concurrencies, [str(concurrency) for concurrency in concurrencies])
        axis.set_xlabel("concurrent clients")
        axis.set_title(f"added {percentile} latency vs direct")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    axes[0].set_ylabel("ms added to the upstream's own latency (symlog)")
    figure.suptitle(
        f"Non-streaming chat completions, scripted upstream with {settings['delay_ms']:.0f} ms delay, "
        f"{settings['cpus']} CPUs, {settings.get('date', '')}",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(output, dpi=120)


def main() -> None:
    source, output = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    draw(json.loads(source.read_text()), output)


if __name__ == "__main__":
    main()

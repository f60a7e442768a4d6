"""Draws bench/results/latency.png from bench.json: per path, the added p50 latency at concurrency 1 and the CPU per
request, for dario and each peer that served the path.

Runs with the bench's own venv, which has matplotlib: bench/.litellm-venv/bin/python bench/chart.py BENCH_JSON PNG
"""

from __future__ import annotations

import json
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")  # no display
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {"dario": ("dario (frontend)", "tab:blue"), "litellm": ("LiteLLM proxy", "tab:orange"),
         "portkey": ("Portkey gateway", "tab:green")}
PROCESS = {"dario": "frontend", "litellm": "LiteLLM", "portkey": "Portkey"}


def figure_of(bench: dict, target: str, path: str, key: str) -> float | None:
    """A path's figure for a target at concurrency 1 (plain if it has plain loads, else streaming)."""
    def at(who: str) -> dict | None:
        for mode in ("plain", "stream"):
            for run in bench["runs"]:
                if (run["target"], run["path"], run["mode"], run["concurrency"]) == (who, path, mode, 1):
                    return run if run["requests"] else None
        return None

    run = at(target)
    if run is None:
        return None
    if key == "added":
        base = at("direct")
        return None if base is None or run["p50_ms"] is None else run["p50_ms"] - base["p50_ms"]
    return run["cpu_ms_per_request"].get(PROCESS[target])


def draw(bench: dict, output: pathlib.Path) -> None:
    settings = bench["settings"]
    names = list(bench["paths"])
    targets = [target for target in STYLE if any(run["target"] == target for run in bench["runs"])]
    figure, axes = plt.subplots(1, 2, figsize=(13, 0.5 * len(names) + 2.2), sharey=True)
    height = 0.8 / max(1, len(targets))
    for axis, key, title in ((axes[0], "added", "added p50 latency at c=1, ms (symlog)"),
                             (axes[1], "cpu", "CPU per request at c=1, ms (symlog)")):
        for index, target in enumerate(targets):
            label, color = STYLE[target]
            for row, path in enumerate(names):
                figure_value = figure_of(bench, target, path, key)
                y = row + (index - (len(targets) - 1) / 2) * height
                if figure_value is None:
                    if path in bench["cannot"].get(target, {}):
                        axis.annotate(f"{STYLE[target][0]}: cannot", (0, y), xytext=(3, 0),
                                      textcoords="offset points", va="center", fontsize=7, color=color)
                    continue
                axis.barh(y, max(figure_value, 0.0), height=height, color=color,
                          label=label if row == 0 or not axis.get_legend_handles_labels()[1].count(label) else None)
                axis.annotate(f"{figure_value:.2f}", (max(figure_value, 0.0), y), xytext=(3, 0),
                              textcoords="offset points", va="center", fontsize=7)
        axis.set_xscale("symlog", linthresh=1.0)
        axis.set_xlim(left=0, right=axis.get_xlim()[1] * 6)  # room for the labels right of the longest bars
        axis.set_title(title, fontsize=10)
        axis.grid(True, axis="x", which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    figure.legend(unique.values(), unique.keys(), fontsize=8, loc="lower center", ncol=len(unique))
    axes[0].set_yticks(range(len(names)), [bench["paths"][name] for name in names], fontsize=8)
    axes[0].invert_yaxis()
    figure.suptitle(
        f"dario and peers against the same scripted upstream ({settings['delay_ms']:.0f} ms delay), "
        f"{settings['cpus']} CPUs, {settings.get('date', '')}",
        fontsize=10,
    )
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    figure.savefig(output, dpi=110)


def main() -> None:
    source, output = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    draw(json.loads(source.read_text()), output)


if __name__ == "__main__":
    main()

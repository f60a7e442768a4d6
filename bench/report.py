"""The bench's figures from its runs: bench.json's document, and the markdown of bench.md and the README drawn from
it (latency and throughput per path, CPU per request per process, peak RSS, the issue's targets, what a peer cannot
do, every run)."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from bench.load import Memory, Run
from bench.workloads import paths

NAMES = {"direct": "direct", "dario": "dario", "litellm": "LiteLLM", "portkey": "Portkey"}
PEERS = ("litellm", "portkey")
DARIO_PROCESSES = ("frontend", "credential_service", "pool_service")
SHARED_PROCESSES = ("upstream", "load generator")  # measured around every load, whatever its target
CORES_IF_UNKNOWN = 2  # when the run did not record its CPU count (issue 13's machine has 2 cores)
PEER_PROCESS = {"litellm": "LiteLLM", "portkey": "Portkey"}
PASS_THROUGH = ("chat", "chat-large", "anthropic")
TRANSLATED = ("anthropic-to-chat", "chat-to-anthropic", "responses-to-chat")


def document(settings: dict[str, Any], runs: list[Run], memory: dict[str, Memory], peak_rss: dict[str, float],
             peers: dict[str, dict[str, Any]], cannot: dict[str, dict[str, str]]) -> dict[str, Any]:
    """bench.json: everything the tables and the chart are drawn from."""
    labels = {path.name: path.label for path in paths()}
    return {
        "settings": settings,
        "peers": peers,
        "paths": labels,
        "cannot": cannot,
        "runs": [asdict(run) | {"throughput": run.throughput,
                                "cpu_ms_per_request": {name: run.cpu_ms_per_request(name) for name in run.cpu_seconds}}
                 for run in runs],
        "peak_rss_mb": peak_rss,
        "sampled_rss_mb": {target: asdict(figures) for target, figures in memory.items()},
    }


def find(document: dict[str, Any], target: str, path: str, mode: str, concurrency: int) -> dict[str, Any] | None:
    for run in document["runs"]:
        if (run["target"], run["path"], run["mode"], run["concurrency"]) == (target, path, mode, concurrency):
            return run if run["requests"] else None
    return None


def value(run: dict[str, Any] | None, key: str) -> float:
    figure = None if run is None else run.get(key)
    return float("nan") if figure is None else float(figure)


def added(document: dict[str, Any], target: str, path: str, mode: str, concurrency: int, key: str = "p50_ms") -> float:
    return value(find(document, target, path, mode, concurrency), key) - value(
        find(document, "direct", path, mode, concurrency), key)


def cpu(run: dict[str, Any] | None, process: str) -> float:
    if run is None:
        return float("nan")
    figure = run["cpu_ms_per_request"].get(process)
    return float("nan") if figure is None else float(figure)


def dario_cpu(run: dict[str, Any] | None) -> float:
    return sum(cpu(run, name) for name in DARIO_PROCESSES)


def number(figure: float, sign: bool = False, digits: int = 1) -> str:
    if math.isnan(figure):
        return "—"
    return f"{figure:+.{digits}f}" if sign else f"{figure:.{digits}f}"


def ratio(figure: float, base: float) -> str:
    return f"{figure / base:.2f}×" if base and not (math.isnan(figure) or math.isnan(base)) else "—"


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def loads(document: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(path, mode, concurrency) in the order they ran."""
    seen: dict[tuple[str, str, int], None] = {}
    for run in document["runs"]:
        seen.setdefault((run["path"], run["mode"], run["concurrency"]), None)
    return list(seen)


def peers_in(document: dict[str, Any]) -> list[str]:
    return [peer for peer in PEERS if any(run["target"] == peer for run in document["runs"])]


def latency_table(document: dict[str, Any]) -> str:
    """Per load: direct's p50, the added p50 (and dario's p99), throughput and streaming TTFB of every target."""
    peers = peers_in(document)
    others = ["dario", *peers]
    head = (["path", "mode", "c", "direct p50 ms"] + [f"{NAMES[t]} +p50" for t in others] + ["dario +p99"]
            + ["direct req/s"] + [f"{NAMES[t]} req/s" for t in others] + ["direct TTFB"]
            + [f"{NAMES[t]} TTFB" for t in others])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for path, mode, concurrency in loads(document):
        base = find(document, "direct", path, mode, concurrency)
        runs = {target: find(document, target, path, mode, concurrency) for target in others}
        stream = mode == "stream"
        cells = [document["paths"].get(path, path), mode, str(concurrency), number(value(base, "p50_ms"))]
        cells += [cannot_or(document, target, path, number(added(document, target, path, mode, concurrency),
                                                              sign=True)) for target in others]
        cells.append(number(added(document, "dario", path, mode, concurrency, "p99_ms"), sign=True))
        cells.append(number(value(base, "throughput"), digits=0))
        cells += [cannot_or(document, target, path, number(value(runs[target], "throughput"), digits=0))
                  for target in others]
        cells.append(number(value(base, "ttfb_p50_ms")) if stream else "")
        cells += [cannot_or(document, target, path, number(value(runs[target], "ttfb_p50_ms"))) if stream else ""
                  for target in others]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cannot_or(document: dict[str, Any], target: str, path: str, text: str) -> str:
    return "cannot" if path in document["cannot"].get(target, {}) else text


def cpu_table(document: dict[str, Any]) -> str:
    """CPU milliseconds per request: each dario process, their sum, each peer, and frontend ÷ each peer."""
    peers = peers_in(document)
    head = (["path", "mode", "c", "frontend", "credential_service", "pool_service", "dario (3)"]
            + [NAMES[peer] for peer in peers] + [f"frontend ÷ {NAMES[peer]}" for peer in peers])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for path, mode, concurrency in loads(document):
        run = find(document, "dario", path, mode, concurrency)
        cells = [document["paths"].get(path, path), mode, str(concurrency)]
        cells += [number(cpu(run, name), digits=3) for name in DARIO_PROCESSES]
        cells.append(number(dario_cpu(run), digits=3))
        figures = {peer: cpu(find(document, peer, path, mode, concurrency), PEER_PROCESS[peer]) for peer in peers}
        cells += [cannot_or(document, peer, path, number(figures[peer], digits=3)) for peer in peers]
        cells += [cannot_or(document, peer, path, ratio(cpu(run, "frontend"), figures[peer])) for peer in peers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def memory_table(document: dict[str, Any]) -> str:
    peak = document["peak_rss_mb"]
    sampled = document["sampled_rss_mb"]
    lines = ["| process | peak RSS (VmHWM), MB |", "|---|---|"]
    for name in DARIO_PROCESSES:
        lines.append(f"| dario {name} | {number(peak.get(name, float('nan')))} |")
    three = sum(peak.get(name, 0.0) for name in DARIO_PROCESSES)
    dario = sampled.get("dario", {})
    lines.append(f"| dario, the three | {number(three)} (sampled sum of VmRSS under load: "
                 f"{number(dario.get('peak_mb', float('nan')))}; after the loads, of VmRSS "
                 f"{number(dario.get('after_mb', float('nan')))} and of PSS "
                 f"{number(dario.get('after_pss_mb', float('nan')))}) |")
    for peer in peers_in(document):
        figures = sampled.get(peer, {})
        lines.append(f"| {NAMES[peer]} (with its children) | {number(peak.get(PEER_PROCESS[peer], float('nan')))} "
                     f"(after the loads, VmRSS {number(figures.get('after_mb', float('nan')))}, PSS "
                     f"{number(figures.get('after_pss_mb', float('nan')))}) |")
    return "\n".join(lines) + (
        "\n\nPSS (proportional set size, /proc/PID/smaps_rollup) divides each shared page among the processes "
        "that map it: the library pages each of dario's three maps alike (gRPC's, Python's, OpenSSL's) count once "
        "in the three's PSS, three times in their RSS.")


def saturation_load(document: dict[str, Any]) -> tuple[str, str, int] | None:
    """The plain Chat pass-through load at its highest concurrency: where the saturation target is read."""
    top = max((c for p, m, c in loads(document) if p == "chat" and m == "plain"), default=0)
    return ("chat", "plain", top) if top > 1 else None


def saturation_budget(document: dict[str, Any]) -> str:
    """Where the machine's CPU goes on the saturation load, per target: the load generator, the upstream and the
    target's own processes per request, the throughput those CPU figures would allow on the machine's cores, and
    what 0.8x direct's throughput leaves a target's processes."""
    load_ = saturation_load(document)
    if load_ is None:
        return ""
    path, mode, concurrency = load_
    cores = document["settings"].get("cpus") or CORES_IF_UNKNOWN
    columns = [f"{name}, ms/request" for name in (*SHARED_PROCESSES, "its own processes", "all")]
    head = ["target", *columns, "CPU ceiling (cores ÷ all)", "measured", f"c ÷ p50 (c={concurrency})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    direct_rate, direct_shared = float("nan"), float("nan")
    for target in ["direct", "dario", *peers_in(document)]:
        run = find(document, target, path, mode, concurrency)
        if run is None:
            continue
        shared = [cpu(run, name) for name in SHARED_PROCESSES]
        own = 0.0 if target == "direct" else (dario_cpu(run) if target == "dario" else cpu(run, PEER_PROCESS[target]))
        total = sum(shared) + own
        if target == "direct":
            direct_rate, direct_shared = value(run, "throughput"), total
        lines.append(f"| {NAMES[target]} | " + " | ".join(number(figure, digits=3) for figure in shared) +
                     f" | {number(own, digits=3)} | {number(total, digits=3)} | "
                     f"{number(cores * 1000 / total if total else float('nan'), digits=0)} req/s | "
                     f"{number(value(run, 'throughput'), digits=0)} req/s | "
                     f"{number(concurrency * 1000 / value(run, 'p50_ms'), digits=0)} req/s |")
    wanted = 0.8 * direct_rate
    all_processes = cores * 1000 / wanted - direct_shared  # what the cores leave once direct's share is paid
    one_thread = 1000 / wanted  # one event loop is one thread: at most one core
    return ("\n".join(lines) + f"\n\n0.8× direct is {number(wanted, digits=0)} req/s. At that rate the {cores} "
            f"cores leave a target's processes at most {number(all_processes, digits=3)} ms of CPU per request once "
            f"the load generator and the upstream have theirs (as much as on direct's run), and a process whose work "
            f"is one event loop (dario's frontend) at most {number(one_thread, digits=3)} ms, one core's worth; "
            "in practice less, as the processes take the cores from each other. Direct's own rate is bound by the "
            "concurrency and the upstream's delay (c ÷ p50), not by the CPU. The load generator is the bench's own "
            "process: its figure includes its sampling of every target's memory (four times a second).")


def path_cpu(document: dict[str, Any], target: str, path: str, process: str) -> float:
    """CPU ms per request of a process over all of a path's loads against a target (all concurrencies)."""
    seconds, requests = 0.0, 0
    for run in document["runs"]:
        if run["target"] == target and run["path"] == path and run["cpu_seconds"].get(process) is not None:
            seconds += run["cpu_seconds"][process]
            requests += run["requests"] + run["errors"]
    return seconds * 1000 / requests if requests else float("nan")


def targets(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(the issue's target, what this run measured, met or missed)."""
    rows = []
    for path in PASS_THROUGH + TRANSLATED:
        limit = 0.5 if path in PASS_THROUGH else 1.0
        mode = "plain" if find(document, "dario", path, "plain", 1) else "stream"
        figure = added(document, "dario", path, mode, 1)
        if not math.isnan(figure):
            rows.append((f"added p50 at c=1 ≤ {limit} ms: {document['paths'].get(path, path)} ({mode})",
                         f"{figure:+.2f} ms", verdict(figure <= limit)))
    pool, single = added(document, "dario", "pool3", "plain", 1), added(document, "dario", "chat", "plain", 1)
    paired = document.get("pool_against_one")
    if paired:
        difference = paired["median_p50_difference_ms"]
        rounds = ", ".join(f"{figure:+.2f}" for figure in paired["p50_differences_ms"])
        cpu_difference = paired["median_frontend_cpu_difference_ms"]
        rows.append((f"a pool of three ≤ 0.1 ms more than one credential at c=1 (median of {paired['rounds']} "
                     f"paired rounds of {paired['requests']} requests each: p50 of the pool − p50 of one)",
                     f"{difference:+.2f} ms (rounds: {rounds}; frontend CPU {cpu_difference:+.3f} ms/request)",
                     verdict(difference <= 0.1)))
    elif not math.isnan(pool - single):
        rows.append(("a pool of three ≤ 0.1 ms more than one credential at c=1 (added p50)",
                     f"{pool:+.2f} vs {single:+.2f} ms: {pool - single:+.2f} ms", verdict(pool - single <= 0.1)))
    best = {target: max((run["throughput"] for run in document["runs"] if run["target"] == target
                         and run["path"] == "chat" and run["mode"] == "plain"), default=float("nan"))
            for target in ("direct", "dario")}
    paired_rounds = document.get("saturation_against_direct")
    if paired_rounds:
        listed = {key: ", ".join(f"{figure:.2f}" for figure in paired_rounds[key])
                  for key in ("throughput_ratios", "ttfb_ratios")}
        at = paired_rounds["concurrency"]
        about = (f"median of {paired_rounds['rounds']} paired rounds of {paired_rounds['requests']} requests at "
                 f"c={at}, direct and dario back to back")
        rate, first = paired_rounds["median_throughput_ratio"], paired_rounds["median_ttfb_ratio"]
        rows.append((f"saturation ≥ 0.8× direct (Chat pass-through, plain; {about})",
                     f"{rate:.2f}× (rounds: {listed['throughput_ratios']}; the main pass's best plain load: "
                     f"{best['dario']:.0f} vs {best['direct']:.0f} req/s, {ratio(best['dario'], best['direct'])})",
                     verdict(rate >= 0.8)))
        rows.append((f"streaming TTFB p50 at c={at} ≤ 1.3× direct (Chat pass-through; {about})",
                     f"{first:.2f}× (rounds: {listed['ttfb_ratios']})", verdict(first <= 1.3)))
    else:
        rows.append(("saturation ≥ 0.8× direct (Chat pass-through, best plain load)",
                     f"{best['dario']:.0f} vs {best['direct']:.0f} req/s: {ratio(best['dario'], best['direct'])}",
                     verdict(best["dario"] >= 0.8 * best["direct"])))
        top = max((c for p, m, c in loads(document) if p == "chat" and m == "stream"), default=0)
        if top > 1:
            dario, direct = (value(find(document, t, "chat", "stream", top), "ttfb_p50_ms")
                             for t in ("dario", "direct"))
            rows.append((f"streaming TTFB p50 at c={top} ≤ 1.3× direct (Chat pass-through)",
                         f"{dario:.1f} vs {direct:.1f} ms: {ratio(dario, direct)}", verdict(dario <= 1.3 * direct)))
    for peer in peers_in(document):
        worst = []
        for path in document["paths"]:
            if path in document["cannot"].get(peer, {}) or path in document["cannot"].get("dario", {}):
                continue
            front, other = path_cpu(document, "dario", path, "frontend"), path_cpu(document, peer, path,
                                                                                  PEER_PROCESS[peer])
            if not (math.isnan(front) or math.isnan(other)):
                worst.append((front / other, path))
        if worst:
            share, path = max(worst)
            limit = 0.1 if peer == "litellm" else 1.0
            rows.append((f"frontend CPU/request {'≤ 1/10 of' if peer == 'litellm' else 'below'} {NAMES[peer]}'s on "
                         f"every path both serve ({len(worst)})", f"worst {share:.2f}× ({path})",
                         verdict(share <= limit if peer == "litellm" else share < limit)))
    three = sum(document["peak_rss_mb"].get(name, 0.0) for name in DARIO_PROCESSES)
    after = document["sampled_rss_mb"].get("dario", {})
    rows.append(("RSS of the three ≤ 150 MB (sum of peaks, VmHWM)",
                 f"{three:.1f} MB (after the loads: VmRSS {number(after.get('after_mb', float('nan')))} MB, PSS with "
                 f"the shared library pages counted once {number(after.get('after_pss_mb', float('nan')))} MB)",
                 verdict(three <= 150)))
    for large, small, size in (("anthropic-to-chat-1mb", "anthropic-to-chat", 1_025_670 / 29_670),
                               ("chat-to-anthropic-10k", "chat-to-anthropic", 10_000 / 46)):
        big, little = (path_cpu(document, "dario", name, "frontend") for name in (large, small))
        if not (math.isnan(big) or math.isnan(little)):
            growth = big / little
            rows.append((f"translation O(size): frontend CPU of {document['paths'].get(large, large)} ÷ the "
                         f"30 KB / 46-event one, against the size ratio {size:.0f}×",
                         f"{big:.2f} vs {little:.2f} ms: {growth:.1f}×", verdict(growth <= 1.5 * size)))
    return rows


def targets_table(document: dict[str, Any]) -> str:
    lines = ["| target (issue 13) | this run | |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {met} |" for target, measured, met in targets(document)]
    return "\n".join(lines)


def cannot_list(document: dict[str, Any]) -> str:
    lines = []
    for target, problems in document["cannot"].items():
        for path, problem in problems.items():
            lines.append(f"- {NAMES.get(target, target)} cannot serve {document['paths'].get(path, path)}: "
                         f"{problem.replace('|', '/')[:220]}")
    return "\n".join(lines) or "- every target served every path"


def runs_table(document: dict[str, Any]) -> str:
    lines = ["| path | mode | c | target | ok | errors | p50 ms | p99 ms | TTFB p50 | TTFB p99 | req/s | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in document["runs"]:
        errors = f"**{run['errors']}** ({', '.join(f'{k} x{v}' for k, v in run['error_kinds'].items())})" \
            if run["errors"] else "0"
        lines.append(f"| {run['path']} | {run['mode']} | {run['concurrency']} | {NAMES[run['target']]} | "
                     f"{run['requests']} | {errors} | {number(value(run, 'p50_ms'), digits=2)} | "
                     f"{number(value(run, 'p99_ms'), digits=2)} | {number(value(run, 'ttfb_p50_ms'), digits=2)} | "
                     f"{number(value(run, 'ttfb_p99_ms'), digits=2)} | {number(value(run, 'throughput'))} | "
                     f"{run['seconds']:.1f} |")
    return "\n".join(lines)


def header(document: dict[str, Any]) -> str:
    settings = document["settings"]
    peers = []
    for peer, status in document["peers"].items():
        if status.get("status") == "ran":
            peers.append(f"{NAMES[peer]} {status.get('version', '?')}")
        else:
            peers.append(f"{NAMES[peer]} not measured ({status.get('reason', status.get('status'))})")
    text = (
        f"dario bench, {settings['date']}: `{settings['command']}`; scripted upstream with "
        f"{settings['delay_ms']:.0f} ms delay, {settings['requests']} requests per load at c > 1, "
        f"{settings['c1_requests']} at c = 1, "
        f"{settings['size_requests']} on the size rows; cap {settings['seconds']:.0f} s per load "
        f"({settings['peer_seconds']:.0f} s for a peer); {settings['cpus']} CPUs, load average "
        f"{settings.get('load_average') or 0:.1f} at the end; {settings['elapsed_seconds']} s in all. "
        f"{'; '.join(peers)}.\n\n"
        "Latency: until the whole body is read; TTFB: until its first byte; +p50: minus direct's at the same path, "
        "mode and concurrency in this run (a translated path's direct run sends the same content in the "
        "upstream's API). CPU: user+system seconds of each process (with its children) from /proc before and "
        "after each load, divided by the load's requests.\n"
    )
    if settings.get("note"):
        text += f"\n{settings['note']}\n"
    return text


def markdown(document: dict[str, Any]) -> str:
    parts = [
        header(document),
        "Targets:\n\n" + targets_table(document),
        "Latency (ms) and throughput (req/s) per path:\n\n" + latency_table(document),
        "CPU per request (ms):\n\n" + cpu_table(document),
        "Peak memory:\n\n" + memory_table(document),
        *(["Where the CPU goes at saturation (the saturation target's load, CPU per request):\n\n" + budget]
          if (budget := saturation_budget(document)) else []),
        "What a target cannot do (its probe request failed, so it was left out of that path):\n\n"
        + cannot_list(document),
        "Every run:\n\n" + runs_table(document),
    ]
    for peer, status in document["peers"].items():
        if status.get("log_findings"):
            parts.append(f"{NAMES[peer]} logged:\n\n" + "\n".join(f"    {line}" for line in status["log_findings"]))
    return "\n\n".join(parts) + "\n"

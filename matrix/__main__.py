"""Runs every client of the matrix it can against dario and writes the measured table into docs/clients.md.

    .venv/bin/python -m matrix --install          # once: clients into matrix/.venvs and matrix/node_modules
    .venv/bin/python -m matrix                    # every case; rewrites the measured part of docs/clients.md
    .venv/bin/python -m matrix --only codex llm   # some cases (by id or client); docs untouched unless --doc

Run it from the checkout's root (as `python -m`, so `matrix` is importable from there).

Everything listens on 127.0.0.1; each client run is bounded (--timeout) and every process is stopped at the end.
Captures (what each client sent, what dario answered, what reached the upstream) land in matrix/runs/STAMP/.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

from dario.testing.matrix import clients
from dario.testing.matrix.report import Outcome, run_case
from dario.testing.matrix.stack import matrix_stack
from dario.testing.processes import REPO
from matrix import markdown

TEMPLATE = "# Real clients through dario\n"


def select(names: list[str]) -> list[clients.Case]:
    if not names:
        return list(clients.CASES)
    chosen = [case for case in clients.CASES if case.id in names or case.client in names]
    unknown = set(names) - {case.id for case in chosen} - {case.client for case in chosen}
    if unknown:
        known = ", ".join(sorted({case.client for case in clients.CASES} | {case.id for case in clients.CASES}))
        raise SystemExit(f"unknown case or client: {', '.join(sorted(unknown))}; known: {known}")
    return chosen


def run(cases: list[clients.Case], workdir: pathlib.Path, timeout: float) -> list[Outcome]:
    versions = {client: clients.version(client) for client in {case.client for case in cases}}
    outcomes = []
    with matrix_stack(workdir / "stack") as matrix:
        print(f"dario (supervised) on {matrix.stack.base_url}, tap on {matrix.url}, upstream on "
              f"{matrix.upstream.base_url}", flush=True)
        for case in cases:
            outcome = run_case(case, matrix, workdir / case.id, versions[case.client], timeout)
            outcomes.append(outcome)
            print(f"{case.id:36} {outcome.seconds:6.1f}s  {outcome.result[:160]}", flush=True)
    return outcomes


def save(outcomes: list[Outcome], workdir: pathlib.Path) -> None:
    records = [{"case": outcome.case.__dict__, "version": outcome.version, "result": outcome.result,
                "seconds": round(outcome.seconds, 2), "tool": outcome.tool, "sent": outcome.sent,
                "dario": outcome.dario, "upstream": outcome.upstream} for outcome in outcomes]
    (workdir / "results.json").write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    (workdir / "matrix.md").write_text(markdown.render(outcomes), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=[], metavar="CASE", help="case ids or client names")
    parser.add_argument("--install", nargs="*", metavar="CLIENT",
                        help="install these clients (all when none is named) and exit")
    parser.add_argument("--doc", type=pathlib.Path, default=None,
                        help="the document to rewrite (default docs/clients.md on a full run, none with --only)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each client run may take")
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="default matrix/runs/STAMP")
    arguments = parser.parse_args()
    if arguments.install is not None:
        clients.install(arguments.install or ["agents-sdk", "llm", "aider", "claude-code", "codex"])
        return
    if not (pathlib.Path(sys.executable).parent / "supervisord").exists():
        raise SystemExit("run this with dario's virtual environment: .venv/bin/python -m matrix")
    cases = select(arguments.only)
    workdir = (arguments.workdir or REPO / "matrix" / "runs" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    outcomes = run(cases, workdir, arguments.timeout)
    save(outcomes, workdir)
    document = arguments.doc or (None if arguments.only else REPO / "docs" / "clients.md")
    if document is not None:
        markdown.write(document, outcomes, TEMPLATE)
        print(f"wrote {document}")
    print(f"captures in {workdir}{os.sep}")
    failed = [outcome for outcome in outcomes if not outcome.passed and not outcome.skipped]
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

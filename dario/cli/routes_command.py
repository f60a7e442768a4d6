"""`dario routes [MODEL ...]`: the rules in force and where each model would go; `dario proxy`: the stack in front."""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys

from rich.console import Console
from rich.table import Table

from dario.catalog import catalog_from_proto
from dario.cli.client import AdminClient, CliError
from dario.routes import parse_routing
from dario.routing import NoRoute, route
from dario.settings import ConfigError, Paths
from dario.v1 import credentials_pb2

# Piped output (scripts, grep) gets wide tables rather than columns cut to 80 characters.
console = Console(width=None if sys.stdout.isatty() else 200)
SAMPLE_MODELS = ("claude-sonnet-5-5", "gpt-4o-mini", "o3-mini")


def routes(paths: Paths, arguments: argparse.Namespace) -> int:
    text = paths.config.read_text(encoding="utf-8") if paths.config.exists() else ""
    try:
        routing = parse_routing(text, os.environ.get("DARIO_DEFAULT_BACKEND", ""))
    except ConfigError as error:
        raise CliError(f"{error} (the frontend keeps the last good rules until this is fixed)") from None
    with AdminClient(paths) as client:
        listing = client.call("credential_service", client.credentials().ListBackends,
                              credentials_pb2.ListBackendsRequest())
    catalog = catalog_from_proto(listing)
    if routing.rules:
        rules = Table("line", "match", "backend", "model", "fallbacks", title="rules (first match wins)")
        for rule in routing.rules:
            rules.add_row(str(rule.line), rule.match, rule.backend, rule.model or "(as requested)",
                          ", ".join(rule.fallbacks))
        console.print(rules)
    models = arguments.models or [*routing.aliases, *SAMPLE_MODELS]
    table = Table("model", "backend", "kind", "upstream model", "by")
    for model in models:
        try:
            chosen = route(model, catalog, routing)
        except NoRoute as error:
            table.add_row(model, "-", "-", "-", str(error))
            continue
        by = f"rule at line {chosen.rule_line}" if chosen.rule_line else "default rules"
        table.add_row(model, chosen.backend.name, chosen.backend.kind, chosen.model, by)
    console.print(table)
    if routing.default_backend:
        console.print(f"default backend: {routing.default_backend}")
    return 0


def proxy(paths: Paths, arguments: argparse.Namespace) -> int:
    """Runs the whole stack in the foreground under supervisord; --model forces one model for every request."""
    config = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "dario.conf"
    supervisord = shutil.which("supervisord") or str(pathlib.Path(sys.executable).parent / "supervisord")
    if not config.exists():
        raise CliError(f"{config} is missing: run dario proxy from a checkout of dario")
    for folder in (paths.home, paths.logs_dir, paths.run_dir):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    environment = dict(os.environ, DARIO_HOME=str(paths.home))
    if arguments.model:
        environment["DARIO_FORCE_MODEL"] = arguments.model
    if arguments.port:
        environment["DARIO_PORT"] = str(arguments.port)
    os.execve(supervisord, [supervisord, "-n", "-c", str(config)], environment)
    return 0  # not reached

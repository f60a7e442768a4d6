"""`dario routes [MODEL ...]`: the rules in force and where each model would go (tables, or --json)."""

from __future__ import annotations

import argparse

from rich.table import Table

from dario.cli.client import AdminClient, CliError
from dario.cli.output import add_json_option, console, print_json
from dario.config import ConfigError, Environment, Paths, RoutingConfig, load_config
from dario.conversions import catalog_from_proto
from dario.json_types import JsonObject
from dario.routing import NoRoute, route
from dario.v1 import credentials_pb2

SAMPLE_MODELS = ("claude-sonnet-5-5", "gpt-4o-mini", "o3-mini")


def read_routing(environment: Environment) -> RoutingConfig:
    """config.toml's routing as the frontend would take it; CliError naming the line when it is broken."""
    try:
        return load_config(environment).routing
    except ConfigError as error:
        raise CliError(f"{error} (the frontend keeps the last good rules until this is fixed)") from None


def routes(environment: Environment, arguments: argparse.Namespace) -> int:
    routing = read_routing(environment)
    paths = Paths(environment.home)
    with AdminClient(paths) as client:
        listing = client.call("credential_service", client.credentials().ListBackends,
                              credentials_pb2.ListBackendsRequest())
    catalog = catalog_from_proto(listing)
    models: list[JsonObject] = []
    for model in arguments.models or [*routing.aliases, *SAMPLE_MODELS]:
        try:
            chosen = route(model, catalog, routing)
        except NoRoute as error:
            models.append({"model": model, "backend": None, "kind": None, "upstream_model": None,
                           "rule_line": None, "fallbacks": [], "error": str(error)})
            continue
        models.append({"model": model, "backend": chosen.backend.name, "kind": chosen.backend.kind,
                       "upstream_model": chosen.model, "rule_line": chosen.rule_line or None,
                       "fallbacks": list(chosen.fallbacks), "error": None})
    rules: list[JsonObject] = [
        {"line": rule.line, "match": rule.match, "backend": rule.backend, "model": rule.model or None,
         "fallbacks": list(rule.fallbacks), "backend_exists": catalog.by_name(rule.backend) is not None}
        for rule in routing.rules]
    if arguments.json:
        print_json({"rules": rules, "aliases": dict(routing.aliases), "default_backend": routing.default_backend
                    or None, "models": models})
        return 0
    if rules:
        table = Table("line", "match", "backend", "model", "fallbacks", title="rules (first match wins)")
        for rule in rules:
            backend = rule["backend"] + ("" if rule["backend_exists"] else " (no such backend)")
            table.add_row(str(rule["line"]), rule["match"], backend, rule["model"] or "(as requested)",
                          ", ".join(rule["fallbacks"]))
        console.print(table)
    table = Table("model", "backend", "kind", "upstream model", "by")
    for entry in models:
        if entry["error"]:
            table.add_row(entry["model"], "-", "-", "-", entry["error"])
            continue
        by = f"rule at line {entry['rule_line']}" if entry["rule_line"] else "default rules"
        table.add_row(entry["model"], entry["backend"], entry["kind"], entry["upstream_model"], by)
    console.print(table)
    if routing.default_backend:
        console.print(f"default backend: {routing.default_backend}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="*", help="models to look up (default: aliases and samples)")
    add_json_option(parser)

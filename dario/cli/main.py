"""`dario`: manage backends and see the state of the stack (SPEC §8)."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from rich.console import Console
from rich.table import Table

from dario import __version__
from dario.cli import accounts
from dario.cli import analytics as analytics_view
from dario.cli.client import AdminClient, CliError
from dario.cli.login import add_login_arguments, login
from dario.cli.routes_command import proxy, routes
from dario.presets import KINDS, PRESETS, speaks
from dario.settings import ConfigError, Paths, load_settings
from dario.v1 import credentials_pb2, pool_pb2

# Piped output (scripts, grep) gets wide tables rather than columns cut to 80 characters.
console = Console(width=None if sys.stdout.isatty() else 200)


def read_key(arguments: argparse.Namespace) -> str:
    """The key from stdin, an environment variable, or (with a warning) the command line."""
    if arguments.key_stdin:
        # At a terminal, prompt without echo rather than wait silently for EOF.
        key = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.read()
        return non_empty(key.strip(), "no key on standard input")
    if arguments.key_env:
        value = os.environ.get(arguments.key_env)
        if value is None:
            raise CliError(f"environment variable {arguments.key_env} is not set")
        return non_empty(value.strip(), f"environment variable {arguments.key_env} is empty")
    if arguments.key is not None:
        print("warning: a key given with --key= may be kept in your shell history; "
              "prefer --key-stdin or --key-env", file=sys.stderr)
        return non_empty(arguments.key.strip(), "--key= is empty")
    return ""


def non_empty(key: str, problem: str) -> str:
    if not key:
        raise CliError(f"{problem}; leave out the key option for a backend that needs none")
    return key


def backend_add(paths: Paths, arguments: argparse.Namespace) -> int:
    if arguments.preset:
        preset = PRESETS.get(arguments.preset)
        if preset is None:
            raise CliError(f"unknown preset {arguments.preset!r}; known: {', '.join(PRESETS)}")
        if arguments.kind and not speaks(preset.kind, arguments.kind):
            raise CliError(f"preset {arguments.preset!r} is of kind {preset.kind}, not {arguments.kind}")
        kind, base_url = arguments.kind or preset.kind, arguments.base_url or preset.base_url
        needs_key = preset.needs_key
    else:
        if not arguments.kind or not arguments.base_url:
            raise CliError("give --preset P, or both --kind and --base-url")
        kind, base_url, needs_key = arguments.kind, arguments.base_url, False
    key = read_key(arguments)
    if arguments.no_account:
        if key:
            raise CliError("--no-account creates the backend without a credential: leave out the key option")
    elif needs_key and not key:
        raise CliError(f"preset {arguments.preset!r} needs a key: add --key-stdin or --key-env VAR")
    request = credentials_pb2.AddBackendRequest(
        name=arguments.name, kind=kind, base_url=base_url, credential_name=arguments.account, api_key=key,
        no_credential=arguments.no_account,
    )
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().AddBackend, request)
    backend = answer.backend
    console.print(f"backend [bold]{backend.name}[/] ({backend.kind}, {backend.base_url}) "
                  f"has {len(backend.credentials)} credential(s)")
    return 0


def backend_list(paths: Paths, arguments: argparse.Namespace) -> int:
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().ListBackends,
                             credentials_pb2.ListBackendsRequest())
    if not answer.backends:
        console.print("no backends yet: add one with `dario backend add NAME --preset openai --key-stdin`")
        return 0
    table = Table("backend", "kind", "base URL", "credentials")
    for backend in answer.backends:
        credentials = ", ".join(
            f"{credential.name} ({credential.kind}{' ' + credential.hint if credential.hint else ''})"
            for credential in backend.credentials
        )
        table.add_row(backend.name, backend.kind, backend.base_url, credentials)
    console.print(table)
    return 0


def backend_remove(paths: Paths, arguments: argparse.Namespace) -> int:
    with AdminClient(paths) as client:
        answer = client.call("credential_service", client.credentials().RemoveBackend,
                             credentials_pb2.RemoveBackendRequest(name=arguments.name))
    console.print(f"removed backend {arguments.name} and {answer.credentials_removed} credential(s)")
    return 0


def status(paths: Paths, arguments: argparse.Namespace) -> int:
    table = Table("service", "state", "socket")
    with AdminClient(paths) as client:
        states = {service: client.health(service) for service in ("credential_service", "pool_service")}
        table.add_row("credential_service", states["credential_service"], str(paths.credential_socket))
        table.add_row("pool_service", states["pool_service"], str(paths.pool_socket))
        console.print(table)
        if states["credential_service"] == "SERVING":
            backends = accounts.list_backends(client)
            count = sum(len(backend.credentials) for backend in backends)
            console.print(f"{len(backends)} backend(s), {count} credential(s)")
            if count:
                console.print(accounts.credentials_table(backends))
        if states["pool_service"] == "SERVING":
            console.print(pool_summary(client))
    down = [service for service, state in states.items() if state != "SERVING"]
    if down:
        print(f"not running: {', '.join(down)}. Start the stack: supervisord -c deploy/dario.conf", file=sys.stderr)
        return 1
    return 0


def pool_summary(client: AdminClient) -> str:
    """One line of pool_service's totals; status still succeeds when the summary is not available."""
    try:
        summary = client.call("pool_service", client.pool().Summary, pool_pb2.SummaryRequest())
    except CliError as error:
        return f"pool summary not available: {error}"
    return (f"{summary.requests} request(s) recorded ({summary.errors} errors), "
            f"{summary.input_tokens} input / {summary.output_tokens} output tokens")


def analytics(paths: Paths, arguments: argparse.Namespace) -> int:
    with AdminClient(paths) as client:
        answer = client.call("pool_service", client.pool().Analytics,
                             pool_pb2.AnalyticsRequest(window_seconds=arguments.window))
    return analytics_view.run(json.loads(answer.json), arguments, console)


def add_key_options(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key-stdin", action="store_true", help="read the key from standard input")
    keys.add_argument("--key-env", metavar="VAR", help="read the key from environment variable VAR")
    keys.add_argument("--key", help=argparse.SUPPRESS)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="dario", description="dario, a local LLM router: admin commands")
    root.add_argument("--version", action="version", version=f"dario {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    backend = commands.add_parser("backend", help="add, list and remove backends").add_subparsers(
        dest="action", required=True)
    add = backend.add_parser("add", help="add a backend (or another credential to one)")
    add.add_argument("name")
    add.add_argument("--preset", help=f"one of: {', '.join(PRESETS)}")
    add.add_argument("--kind", choices=KINDS)
    add.add_argument("--base-url")
    add.add_argument("--account", default="default", help="name of this credential (default: default)")
    add.add_argument("--no-account", action="store_true",
                     help="no credential yet: add one with `dario accounts add` or `dario login`")
    add_key_options(add)
    add.set_defaults(handler=backend_add)
    backend.add_parser("list", help="list backends (never a secret)").set_defaults(handler=backend_list)
    remove = backend.add_parser("remove", help="remove a backend and its credentials")
    remove.add_argument("name")
    remove.set_defaults(handler=backend_remove)
    commands.add_parser("status", help="state of each service and credential").set_defaults(handler=status)
    accounts.add_account_arguments(commands, add_key_options).set_defaults(
        handler=lambda paths, arguments: accounts.accounts_add(paths, arguments, read_key))
    login_parser = commands.add_parser("login", help="log in with OAuth (authorization code + PKCE)")
    add_login_arguments(login_parser, KINDS)
    login_parser.set_defaults(handler=lambda paths, arguments: login(
        paths, arguments, accounts.secret_from(arguments, "client_secret", "client secret", required=False)))
    analytics_parser = commands.add_parser("analytics", help="requests, tokens, cost, burn rate and forecast")
    analytics_view.add_arguments(analytics_parser)
    analytics_parser.set_defaults(handler=analytics)
    routes_parser = commands.add_parser("routes", help="the routing rules in force and where models go")
    routes_parser.add_argument("models", nargs="*", help="models to look up (default: aliases and samples)")
    routes_parser.set_defaults(handler=routes)
    proxy_parser = commands.add_parser("proxy", help="run the whole stack in the foreground (supervisord -n)")
    proxy_parser.add_argument("--model", help="force this model for every request")
    proxy_parser.add_argument("--port", type=int, help="port of the frontend (default 3456)")
    proxy_parser.set_defaults(handler=proxy)
    return root


def main(argv: list[str] | None = None) -> int:
    arguments = parser().parse_args(argv)
    try:
        paths = load_settings().paths
        return arguments.handler(paths, arguments)
    except (CliError, ConfigError) as error:
        print(f"dario: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""`dario`: start and stop the stack, manage backends, and see the state of it all (README, CLI)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Mapping

from dario import __version__
from dario.cli import accounts, logs, stack, status, statusline
from dario.cli import analytics as analytics_view
from dario.cli.backends import add_backend_arguments
from dario.cli.client import AdminClient, CliError
from dario.cli.login import add_login_arguments, login
from dario.cli.output import add_json_option, console
from dario.cli.routes_command import read_routing, routes
from dario.config import ConfigError, Environment, Paths, load_config
from dario.conversions import report_to_json
from dario.presets import KINDS
from dario.v1 import pool_pb2


def read_key(arguments: argparse.Namespace, variables: Mapping[str, str], preset_variable: str = "") -> str:
    """The key from stdin, an environment variable (of variables), or (with a warning) the command line."""
    if arguments.key_stdin:
        # At a terminal, prompt without echo rather than wait silently for EOF.
        key = getpass.getpass("API key: ") if sys.stdin.isatty() else sys.stdin.read()
        if not key.strip():
            variable = preset_variable or "YOUR_KEY_VARIABLE"
            raise CliError("no key on standard input (piping an unset variable sends nothing): run it at a terminal "
                           f"to paste the key, or `export {variable}=…` and use --key-env {variable}")
        return key.strip()
    if arguments.key_env:
        value = variables.get(arguments.key_env)
        if value is None:
            raise CliError(f"environment variable {arguments.key_env} is not set: `export {arguments.key_env}=…` "
                           "first (or give the key with --key-stdin)")
        if not value.strip():
            raise CliError(f"environment variable {arguments.key_env} is empty")
        return value.strip()
    if arguments.key is not None:
        print("warning: a key given with --key= may be kept in your shell history; "
              "prefer --key-stdin or --key-env", file=sys.stderr)
        if not arguments.key.strip():
            raise CliError("--key= is empty")
        return arguments.key.strip()
    return ""


def analytics(paths, arguments: argparse.Namespace) -> int:
    by = analytics_view.groupings_of(arguments)
    filters = {name: getattr(arguments, name) for name in analytics_view.FILTERS}
    with AdminClient(paths) as client:
        answer = client.call("pool_service", client.pool().Analytics,
                             pool_pb2.AnalyticsRequest(window_seconds=arguments.window, by=by, **filters))
    return analytics_view.run(report_to_json(answer, by), arguments, console)


def add_key_options(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key-stdin", action="store_true", help="read the key from standard input (or a prompt)")
    keys.add_argument("--key-env", metavar="VAR", help="read the key from environment variable VAR (copied into "
                                                       "the vault; to keep only a reference, see key_env in README)")
    keys.add_argument("--key", help=argparse.SUPPRESS)


def parser(environment: Environment) -> argparse.ArgumentParser:
    """The commands; those that look a variable up (--key-env VAR, the routing's DARIO_DEFAULT_BACKEND) take it
    from environment."""

    def key_reader(arguments: argparse.Namespace, preset_variable: str = "") -> str:
        return read_key(arguments, environment.variables, preset_variable)

    root = argparse.ArgumentParser(prog="dario", description="dario, a local LLM router. Start it with `dario up`. "
                                   + stack.PORT_HELP)
    root.add_argument("--version", action="version", version=f"dario {__version__}")
    commands = root.add_subparsers(dest="command", required=True)
    stack.add_arguments(commands)
    logs_parser = commands.add_parser("logs", help="show (or follow with -f) the processes' logs")
    logs.add_arguments(logs_parser)
    logs_parser.set_defaults(handler=logs.logs)
    add_backend_arguments(commands, add_key_options, key_reader, lambda: read_routing(environment))
    status_parser = commands.add_parser("status", help="every process, and each credential's state; exits 1 when "
                                                       "one is down")
    add_json_option(status_parser)
    status_parser.set_defaults(with_config=status.status)
    accounts.add_account_arguments(commands, add_key_options).set_defaults(
        handler=lambda paths, arguments: accounts.accounts_add(paths, arguments, key_reader, environment.variables))
    login_parser = commands.add_parser("login", help="log in with OAuth (authorization code + PKCE)")
    add_login_arguments(login_parser, KINDS)
    login_parser.set_defaults(handler=lambda paths, arguments: login(
        paths, arguments, accounts.secret_from(arguments, environment.variables, "client_secret", "client secret",
                                               required=False)))
    analytics_parser = commands.add_parser("analytics", help="requests, tokens, cost, burn rate and forecast")
    analytics_view.add_arguments(analytics_parser)
    analytics_parser.set_defaults(handler=analytics)
    statusline_parser = commands.add_parser("statusline", help="one line of the current session's tokens, cache "
                                            "share, cost and requests, for Claude Code's statusLine setting")
    statusline_parser.add_argument("--session", help="the session (default: session_id of the JSON on stdin)")
    statusline_parser.set_defaults(handler=lambda paths, arguments: statusline.main(
        ["--session", arguments.session] if arguments.session else []))
    routes_parser = commands.add_parser("routes", help="the routing rules in force and where models go")
    routes_parser.add_argument("models", nargs="*", help="models to look up (default: aliases and samples)")
    add_json_option(routes_parser)
    routes_parser.set_defaults(handler=lambda paths, arguments: routes(environment, arguments))
    return root


def main(argv: list[str] | None = None) -> int:
    environment = Environment.read()  # the one read of the process environment
    arguments = parser(environment).parse_args(argv)
    try:
        # Only the commands that need config.toml read it: a broken file names its line there, and never keeps
        # `dario down`, `logs` or `backend remove` from working.
        if getattr(arguments, "with_config", None):
            return arguments.with_config(load_config(environment), arguments)
        return arguments.handler(Paths(environment.home), arguments)
    except (CliError, ConfigError) as error:
        print(f"dario: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

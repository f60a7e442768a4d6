"""`dario`: start and stop the stack, manage backends, and see the state of it all (README, CLI)."""

from __future__ import annotations

import argparse
import sys

from dario import __version__
from dario.cli import accounts, analytics, logs, routes, stack, status, statusline
from dario.cli.backends import add_backend_arguments
from dario.cli.client import CliError
from dario.cli.keys import add_key_options, read_key
from dario.cli.login import add_login_arguments, login
from dario.cli.output import add_json_option
from dario.config import ConfigError, Environment, Paths, load_config
from dario.presets import KINDS


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
    add_backend_arguments(commands, add_key_options, key_reader, lambda: routes.read_routing(environment))
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
    analytics.add_arguments(analytics_parser)
    analytics_parser.set_defaults(handler=analytics.analytics)
    statusline_parser = commands.add_parser("statusline", help="one line of the current session's tokens, cache "
                                            "share, cost and requests, for Claude Code's statusLine setting")
    statusline_parser.add_argument("--session", help="the session (default: session_id of the JSON on stdin)")
    statusline_parser.set_defaults(handler=lambda paths, arguments: statusline.main(
        ["--session", arguments.session] if arguments.session else []))
    routes_parser = commands.add_parser("routes", help="the routing rules in force and where models go")
    routes.add_arguments(routes_parser)
    routes_parser.set_defaults(handler=lambda paths, arguments: routes.routes(environment, arguments))
    return root


def main(argv: list[str] | None = None) -> int:
    environment = Environment.read()  # the one read of the process environment
    arguments = parser(environment).parse_args(argv)
    try:
        # Only the commands that need config.toml read it: a broken file names its line there, and never keeps
        # `dario down`, `logs` or `backend remove` from working.
        if getattr(arguments, "with_config", None):
            code: int = arguments.with_config(load_config(environment), arguments)
        else:
            code = arguments.handler(Paths(environment.home), arguments)
        return code
    except (CliError, ConfigError) as error:
        print(f"dario: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

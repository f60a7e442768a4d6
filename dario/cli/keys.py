"""How the commands that store a secret take it: standard input (or a prompt), an environment variable, or (with a
warning) the command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Mapping

from dario.cli.client import CliError

# How a command reads its key: (its parsed arguments, the preset's variable name to suggest) → the key, or "".
ReadKey = Callable[..., str]


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
        given: str = arguments.key.strip()
        if not given:
            raise CliError("--key= is empty")
        return given
    return ""


def add_key_options(parser: argparse.ArgumentParser) -> None:
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key-stdin", action="store_true", help="read the key from standard input (or a prompt)")
    keys.add_argument("--key-env", metavar="VAR", help="read the key from environment variable VAR (copied into "
                                                       "the vault; to keep only a reference, see key_env in README)")
    keys.add_argument("--key", help=argparse.SUPPRESS)

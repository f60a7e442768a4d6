"""What the CLI prints: rich tables with markup off, so names, models, URLs and errors from users, config.toml or
upstreams are shown as written (a `[[routes]]` in a message stays `[[routes]]`), and JSON for --json."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TypeAlias

from rich.console import Console
from rich.text import Text

# The `dario` parser's subcommands, as each command module's add_arguments receives them.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
AddOptions = Callable[[argparse.ArgumentParser], None]  # adds a group of options to a command's parser

# Piped output (scripts, grep) gets wide tables rather than columns cut to 80 characters. markup=False: no text is
# ever read as rich markup; styles are given as Text styles instead. highlight=False: no guessed colouring either.
# soft_wrap=True: a message line is never broken (tables still fit the width).
console = Console(width=None if sys.stdout.isatty() else 200, markup=False, highlight=False, soft_wrap=True)


def styled(text: object, style: str = "") -> Text:
    """text with a rich style, taken literally (never parsed as markup)."""
    return Text(str(text), style=style)


def print_json(document: object) -> None:
    """One JSON document on standard output (for --json)."""
    console.out(json.dumps(document, indent=2), highlight=False)


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")

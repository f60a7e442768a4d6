"""The `dario` command: `dario statusline` runs on the standard library alone (Claude Code starts it after every
message, so it must start fast); every other command loads the whole CLI (dario.cli.main)."""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["statusline"]:
        from dario.cli.statusline import main as statusline

        return statusline(sys.argv[2:])
    from dario.cli.main import main as everything

    return everything()


if __name__ == "__main__":
    sys.exit(main())

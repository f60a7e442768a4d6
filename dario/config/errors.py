"""ConfigError, and how its messages find the config.toml line of what is wrong."""

from __future__ import annotations

import re


class ConfigError(ValueError):
    """config.toml (or an environment variable) holds a value dario cannot use."""


def line_of(text: str, pattern: str, occurrence: int = 0) -> int:
    """The number of the occurrence-th line matching pattern (stripped), or 0 when there is none."""
    found = [number for number, line in enumerate(text.splitlines(), 1) if re.match(pattern, line.strip())]
    return found[occurrence] if occurrence < len(found) else 0

"""A per-configuration memo for pure functions of (config, backend, model) on the request path: the answer is the
same until config.toml is reloaded (a new Config object) or the catalog changes the backend, so it is computed once
(frontend/profiles.py's profile_for matched every preset URL and every model glob on every request)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from dario.catalog import Backend
from dario.config import Config

T = TypeVar("T")
ENTRIES = 1024  # models are client strings: bounded, emptied when full (a new config empties it too)


def per_config(function: Callable[[Config, Backend, str], T]) -> Callable[[Config, Backend, str], T]:
    memo: dict[tuple[str, str, str, str], T] = {}
    current: list[Config | None] = [None]

    @functools.wraps(function)
    def memoised(config: Config, backend: Backend, model: str) -> T:
        if current[0] is not config:
            memo.clear()
            current[0] = config
        key = (backend.name, backend.kind, backend.base_url, model)
        found = memo.get(key)
        if found is None:
            found = function(config, backend, model)
            if len(memo) >= ENTRIES:
                memo.clear()
            memo[key] = found
        return found

    return memoised

"""One parser for all of config.toml: every section at once, and a reload that reruns it (ConfigWatcher)."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import re
import time

import pytest

from dario.config import ConfigError, ConfigWatcher, Environment, load_config, parse_config

WATCH_DEADLINE_SECONDS = 10.0


def test_every_section_comes_from_one_parse_with_the_environment_on_top(tmp_path: pathlib.Path) -> None:
    text = ('default_backend = "local"\n[server]\nport = 4000\n[pools]\nqueue_depth = 7\n[aliases]\nfast = "m-1"\n'
            '[pricing."House*"]\ninput = 1.5\n[backends.local]\npreset = "ollama"\n')
    config = parse_config(text, Environment.read({"DARIO_HOME": str(tmp_path), "DARIO_DEFAULT_BACKEND": "other",
                                                  "DARIO_FORCE_MODEL": "m-2"}))
    assert (config.server.port, config.pools.queue_depth, config.paths.home) == (4000, 7, tmp_path.resolve())
    assert (config.routing.default_backend, config.routing.forced_model) == ("other", "m-2")
    assert config.routing.aliases["fast"] == "m-1" and config.routing.aliases["opus"] == "claude-opus-5-5"
    assert dict(config.pricing["house*"]) == {"input": 1.5}
    assert [(backend.name, backend.kind, backend.accounts[0].key_env) for backend in config.backends] == [
        ("local", "openai", "")]


@pytest.mark.parametrize(("text", "needle"), [
    ("[limits]\nbody_bytes = -1\n", "limits.body_bytes must be positive"),
    ('[pricing."x"]\ninput = "a lot"\n', 'pricing."x".input must be a number'),
    ('[backends.b]\nkind = "openai"\n', "backends.b needs preset"),
    ("\nlimits = 3\n", "line 2: limits must be a table"),
    ('[server]\naccess_log = "no"\n', "server.access_log must be true or false"),
])
def test_a_bad_value_in_any_section_refuses_the_whole_file(text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_config(text)


def test_the_access_log_is_on_unless_config_turns_it_off() -> None:
    assert parse_config("").server.access_log is True
    assert parse_config("[server]\naccess_log = false\n").server.access_log is False


async def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WATCH_DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {WATCH_DEADLINE_SECONDS}s")
        await asyncio.sleep(0.02)


def rewrite(path: pathlib.Path, text: str) -> None:
    """Writes text with a later mtime than the file had: a change the watcher must see even on coarse clocks."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


async def test_a_reload_reruns_the_parser_and_a_bad_file_keeps_the_last_good_config(
        tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[[routes]]\nmatch = "a-*"\nbackend = "first"\n')
    seen = []

    async def on_change(config) -> None:
        seen.append(config)

    watcher = ConfigWatcher(load_config(Environment.read({"DARIO_HOME": str(tmp_path)})), "the rules stay",
                            on_change)
    watcher.start()
    try:
        rewrite(path, '[pools]\nqueue_depth = 3\n[[routes]]\nmatch = "a-*"\nbackend = "second"\n')
        await wait_for(lambda: seen, "the change was not read")
        assert watcher.current is seen[-1]
        assert (watcher.current.routing.rules[0].backend, watcher.current.pools.queue_depth) == ("second", 3)
        good = watcher.current
        with caplog.at_level(logging.ERROR):
            rewrite(path, '[[routes]]\nmatch = "a-*"\nbackend = "third"\n\n[limits]\nbody_bytes = "big"\n')
            await wait_for(lambda: watcher.error, "the bad file was not reported")
        assert "limits.body_bytes must be a number" in watcher.error
        assert watcher.current is good and len(seen) == 1
        assert "; the rules stay" in caplog.text
    finally:
        await watcher.close()

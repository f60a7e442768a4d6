"""frontend.memo.per_config: computed once per (backend, model) while the configuration object stays the same."""

from __future__ import annotations

import dataclasses
import pathlib

from dario.catalog import Backend
from dario.config import Config, Environment, load_config
from frontend import memo
from frontend.profiles import _backend_profile, profile_for


def config_in(tmp_path: pathlib.Path) -> Config:
    return load_config(Environment.read({"DARIO_HOME": str(tmp_path)}))


def test_the_same_config_backend_and_model_are_computed_once(tmp_path: pathlib.Path) -> None:
    calls: list[str] = []

    @memo.per_config
    def compute(config: Config, backend: Backend, model: str) -> str:
        calls.append(model)
        return f"{backend.name}:{model}"

    config = config_in(tmp_path)
    backend = Backend("chat", "openai", "http://127.0.0.1:9/v1", (), ())
    assert [compute(config, backend, "m") for _ in range(3)] == ["chat:m"] * 3
    assert compute(config, backend, "other") == "chat:other"
    moved = Backend("chat", "openai", "http://127.0.0.1:10/v1", (), ())  # the catalog changed its URL
    compute(config, moved, "m")
    assert calls == ["m", "other", "m"]
    compute(dataclasses.replace(config), backend, "m")  # a reloaded config.toml: a new object
    assert calls == ["m", "other", "m", "m"]


def test_the_memo_stays_bounded_with_many_models(tmp_path: pathlib.Path) -> None:
    calls = 0

    @memo.per_config
    def compute(config: Config, backend: Backend, model: str) -> int:
        nonlocal calls
        calls += 1
        return calls

    config, backend = config_in(tmp_path), Backend("chat", "openai", "http://127.0.0.1:9/v1", (), ())
    for index in range(memo.ENTRIES + 5):
        compute(config, backend, f"model-{index}")
    assert compute(config, backend, f"model-{memo.ENTRIES + 4}") == memo.ENTRIES + 5  # still there after emptying
    assert compute(config, backend, "model-0") == memo.ENTRIES + 6  # forgotten when the memo was emptied


def test_profile_for_answers_as_before_for_each_backend(tmp_path: pathlib.Path) -> None:
    config = config_in(tmp_path)
    local = Backend("local", "anthropic", "http://127.0.0.1:9/v1", (), ())
    deepseek = Backend("ds", "anthropic", "https://api.deepseek.com/anthropic/v1", (), ())
    unmemoised = _backend_profile.__wrapped__  # type: ignore[attr-defined]
    assert profile_for(config, local, "m") == unmemoised(config, local, "m")
    assert profile_for(config, deepseek, "m") == unmemoised(config, deepseek, "m")
    assert profile_for(config, local, "m") is profile_for(config, local, "m")
    capped = profile_for(config, local, "m", route_cap=100)  # a route's cap lowers the memoised profile's, in a copy
    assert capped.compat.max_output_tokens == 100 and profile_for(config, local, "m").compat.max_output_tokens != 100

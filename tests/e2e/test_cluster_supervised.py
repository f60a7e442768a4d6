"""Two hosts as deploy/cluster/ sets them up: supervisord (as `dario proxy` runs it) each, the cluster's Redis in the
programs' environment, credentials added with the CLI under the same names on both; a 429 one host met is not
met again by the other."""

from __future__ import annotations

import contextlib
import json
import pathlib
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from dario.testing.cluster import cluster_environment, forget_prefix
from dario.testing.limited_upstream import KeyLimits
from dario.testing.scripted_upstream import ScriptedUpstream, ThreadedUpstream
from dario.testing.supervised import Supervised, supervised_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
REDIS = "redis://127.0.0.1:6379/0"
KEYS = {"default": "test-key-e2e-cluster-a-0123456789", "second": "test-key-e2e-cluster-b-0123456789"}


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ThreadedUpstream() as running:
        running.limiter = KeyLimits(dict.fromkeys(KEYS.values(), 1000), 60.0)
        yield running


@contextlib.contextmanager
def host(home: pathlib.Path, prefix: str, upstream: ScriptedUpstream) -> Iterator[Supervised]:
    home.mkdir(mode=0o700, parents=True)
    (home / "config.toml").write_text('default_backend = "pool"\n[cluster]\nheartbeat_seconds = 0.5\n')
    with supervised_stack(home, cluster_environment(REDIS, prefix)) as stack:
        added = stack.dario("backend", "add", "pool", "--kind", "openai", "--base-url", upstream.base_url,
                            "--key-stdin", input_text=KEYS["default"])
        assert added.returncode == 0, added.stderr
        added = stack.dario("accounts", "add", "pool", "second", "--key-stdin", input_text=KEYS["second"])
        assert added.returncode == 0, added.stderr
        stack.wait_for_backends(1)
        yield stack


def ask(stack: Supervised) -> tuple[int, str]:
    body = json.dumps({"model": "any-model", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(f"{stack.base_url}/v1/chat/completions", body,
                                     {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.headers.get("x-dario-credential", "")


def test_two_supervised_hosts_share_a_cooldown(tmp_path: pathlib.Path, upstream: ScriptedUpstream) -> None:
    prefix = f"test-e2e-{uuid.uuid4().hex[:12]}"
    try:
        with host(tmp_path / "a", prefix, upstream) as first, host(tmp_path / "b", prefix, upstream) as second:
            for stack in (first, second):
                assert stack.health().get("cluster") == {"pools": "shared"}
            assert isinstance(upstream.limiter, KeyLimits)
            upstream.limiter.block(KEYS["default"], 30)
            assert ask(first) == (200, "second"), "the 429 of default failed over to second"
            assert ask(second) == (200, "second")
            assert upstream.limiter.refused[KEYS["default"]] == 1, "the second host skipped the cooled-down key"
            logs = first.logs()
            assert "pool state shared in Redis at redis://127.0.0.1:6379/0" in logs
    finally:
        forget_prefix(REDIS, prefix)

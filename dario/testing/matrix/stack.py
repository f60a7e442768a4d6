"""The matrix's stack: the scripted upstream, dario under supervisord with two backends on it, and the tap.

Both backends point at the same scripted upstream: `up-openai` (kind openai: Chat Completions) and
`up-anthropic` (kind anthropic: Messages). `use_backend()` rewrites config.toml so that every model goes to
one of them, and waits until the frontend routes a probe there, so each client keeps its own model names.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from dario.testing.matrix import tap as tap_module
from dario.testing.matrix import upstream as upstream_module
from dario.testing.supervised import Supervised, supervised_stack

KEY = "matrix-upstream-key-0123456789"  # what dario sends the scripted upstream
CLIENT_KEY = "dario"  # what the clients send dario (any value: dario on loopback needs none)
BACKENDS = {"openai": "up-openai", "anthropic": "up-anthropic"}


@dataclass
class Matrix:
    workdir: pathlib.Path
    upstream: upstream_module.MatrixUpstream
    stack: Supervised
    tap: tap_module.Tap

    @property
    def url(self) -> str:
        """The base URL clients are given (the tap in front of dario), without /v1."""
        return self.tap.url

    def clear(self) -> None:
        self.upstream.requests.clear()
        self.tap.exchanges.clear()

    def use_backend(self, kind: str, deadline_seconds: float = 20.0) -> None:
        """Sends every model to the backend of this kind, and waits until the frontend does."""
        backend = BACKENDS[kind]
        (self.stack.home / "config.toml").write_text(
            f'# written by dario/testing/matrix/stack.py\n[[routes]]\nmatch = "*"\nbackend = "{backend}"\n',
            encoding="utf-8")
        deadline, seen = time.monotonic() + deadline_seconds, ""
        while time.monotonic() < deadline:
            seen = self._probe()
            if seen == backend:
                self.clear()
                return
            time.sleep(0.2)
        raise TimeoutError(f"dario still routes to {seen!r}, not {backend!r}, {deadline_seconds}s after config.toml")

    def _probe(self) -> str:
        body = json.dumps({"model": "matrix-probe", "max_tokens": 8,
                           "messages": [{"role": "user", "content": "probe"}]}).encode()
        request = urllib.request.Request(f"{self.stack.base_url}/v1/chat/completions", data=body,
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                result: str = answer.headers.get("x-dario-backend", "")
                return result
        except urllib.error.HTTPError as error:
            return error.headers.get("x-dario-backend", "") or f"HTTP {error.code}"
        except OSError as error:
            return str(error)


@contextlib.contextmanager
def matrix_stack(workdir: pathlib.Path) -> Iterator[Matrix]:
    """Upstream, supervised dario with both backends, and the tap; everything is stopped on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = pathlib.Path(tempfile.mkdtemp(prefix="home-", dir=workdir))  # a fresh DARIO_HOME even in a reused workdir
    with upstream_module.threaded(log_path=workdir / "upstream.jsonl") as upstream, supervised_stack(home) as stack:
        for kind, name in BACKENDS.items():
            added = stack.dario("backend", "add", name, "--kind", kind, "--base-url", upstream.base_url,
                                "--key-stdin", input_text=KEY)
            if added.returncode != 0:
                raise RuntimeError(f"dario backend add {name} failed: {added.stderr.strip()}")
        stack.wait_for_backends(len(BACKENDS))
        with tap_module.threaded(stack.base_url) as tap:
            yield Matrix(workdir, upstream, stack, tap)

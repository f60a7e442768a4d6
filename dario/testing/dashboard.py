"""A stack for the dashboard (issue 14): supervisord with three backends on one scripted upstream, rate-limit
headers per key, and traffic from two clients in two sessions and two projects; for the browser tests and
scripts/screenshots.py.

Backends: "pool" (openai, credentials "alpha" and "beta": a pool), "solo" (openai, one credential, for models
"solo-*") and "claude" (anthropic, credential "main"). Every key reports a request window (KeyLimits).
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dario.testing.limited_upstream import KeyLimits
from dario.testing.scripted_upstream import ScriptedUpstream, ThreadedUpstream
from dario.testing.supervised import Supervised, supervised_stack

KEYS = {"alpha": "sk-alpha-0123456789abcdef", "beta": "sk-beta-0123456789abcdef",
        "solo": "sk-solo-0123456789abcdef", "main": "sk-ant-main-0123456789abcdef"}
REQUEST_LIMIT = 1000  # per key and minute, as the upstream reports it
CONFIG = """default_backend = "pool"

[[routes]]
match = "solo-*"
backend = "solo"

[[routes]]
match = "gpt-4o*"
backend = "pool"
fallbacks = ["claude:claude-haiku-4-5"]
"""
CLIENTS = {"claude-code": "claude-cli/2.0.14 (external, cli)", "codex": "codex_cli_rs/0.46.0 (Debian 12; x86_64)"}


@dataclass
class DashboardStack:
    stack: Supervised
    upstream: ScriptedUpstream
    limits: KeyLimits
    api_key: str = ""
    sent: list[str] = field(default_factory=list)  # request ids, in order

    @property
    def base_url(self) -> str:
        return self.stack.base_url

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"accept": "application/json", **(extra or {})}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def get_json(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.base_url}{path}", headers=self._headers())
        with urllib.request.urlopen(request, timeout=20) as answer:
            return json.loads(answer.read())

    def send(self, model: str, client: str = "claude-code", session: str = "", project: str = "",
             anthropic: bool = False) -> int:
        """One request as a client sends it, attributed by dario's headers; returns the status the client got."""
        headers = self._headers({"content-type": "application/json", "user-agent": CLIENTS.get(client, client)})
        if session:
            headers["x-dario-session"] = session
        if project:
            headers["x-dario-project"] = project
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "Say hello"}]}
        path = "/v1/chat/completions"
        if anthropic:
            body["max_tokens"] = 64
            headers["anthropic-version"] = "2023-06-01"
            path = "/v1/messages"
        request = urllib.request.Request(f"{self.base_url}{path}", data=json.dumps(body).encode(), headers=headers,
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status: int = answer.status
                request_id = answer.headers.get("request-id", "")
        except urllib.error.HTTPError as error:
            status, request_id = error.code, error.headers.get("request-id", "")
            error.close()
        self.sent.append(request_id)
        return status

    def wait_recorded(self, count: int | None = None, deadline_seconds: float = 30.0) -> None:
        """Waits until analytics holds every request sent (or count), as the dashboard reads them."""
        wanted = len(self.sent) if count is None else count
        deadline = time.monotonic() + deadline_seconds
        total = -1
        while time.monotonic() < deadline:
            total = self.get_json("/analytics/requests?limit=1")["total"]
            if total >= wanted:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{total} of {wanted} requests in analytics after {deadline_seconds}s")

    def traffic(self) -> None:
        """Two clients, two sessions, two projects, three backends, a failure; then waits until it is recorded."""
        for index in range(6):
            self.send("gpt-4o-mini", "claude-code", "session-one", "project-apollo")
            self.send("gpt-4o", "codex", "session-two", "project-zeus")
            if index % 2 == 0:
                self.send("claude-sonnet-4-5", "claude-code", "session-one", "project-apollo", anthropic=True)
        self.send("solo-model", "codex", "session-two", "project-zeus")
        self.send("gpt-4o-mini", "curl/8.5.0")  # no session, no project
        self.wait_recorded()


def add_backends(stack: Supervised, base_url: str) -> None:
    for backend, kind, credentials in (("pool", "openai", ("alpha", "beta")), ("solo", "openai", ("solo",)),
                                       ("claude", "anthropic", ("main",))):
        first, *others = credentials
        added = stack.dario("backend", "add", backend, "--kind", kind, "--base-url", base_url,
                            "--account", first, "--key-stdin", input_text=KEYS[first])
        if added.returncode != 0:
            raise RuntimeError(f"dario backend add {backend}: {added.stderr}")
        for other in others:
            added = stack.dario("accounts", "add", backend, other, "--key-stdin", input_text=KEYS[other])
            if added.returncode != 0:
                raise RuntimeError(f"dario accounts add {backend} {other}: {added.stderr}")
    stack.wait_for_backends(3)


@contextlib.contextmanager
def dashboard_stack(home: pathlib.Path, api_key: str = "", config: str = "") -> Iterator[DashboardStack]:
    """The stack with its backends (no traffic yet: call traffic()); config: more of config.toml, after CONFIG."""
    limits = KeyLimits({key: REQUEST_LIMIT for key in KEYS.values()}, 60.0)
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (home / "config.toml").write_text(CONFIG + config)
    with ThreadedUpstream() as upstream:
        upstream.limiter = limits
        extra = {"DARIO_API_KEY": api_key} if api_key else {}
        with supervised_stack(home, extra) as stack:
            add_backends(stack, upstream.base_url)
            yield DashboardStack(stack, upstream, limits, api_key)

"""The CLI telling the truth: the frontend in `status`, the pool's state of each credential, --json, literal text
(no rich markup eaten), removal of a backend rules use, and messages that lead somewhere."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import grpc
import pytest

from dario import __version__
from dario.testing.processes import REPO, environment, running_module
from dario.testing.stack import Services, running_services
from dario.testing.supervised import free_port
from dario.v1 import pool_pb2, pool_pb2_grpc

pytestmark = pytest.mark.timeout(120)
KEY = "test-key-cli-state-0123456789"


def dario(home: pathlib.Path, *arguments: str, input_text: str | None = None,
          extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {"COLUMNS": "250", **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "dario.cli.main", *arguments], env=environment(home, env),
                          input=input_text, capture_output=True, text=True, timeout=60, cwd=REPO)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("cli-state") / "home") as services:
        for name in ("pooled", "spare"):
            added = dario(services.home, "backend", "add", name, "--kind", "openai", "--base-url",
                          "http://127.0.0.1:9/v1", "--key-stdin", "--no-probe", input_text=KEY)
            assert added.returncode == 0, added.stderr
        assert dario(services.home, "accounts", "add", "pooled", "second", "--key-stdin", input_text=KEY + "2"
                     ).returncode == 0
        yield services


def report_status(services: Services, backend: str, credential: str, status: int) -> None:
    """What the frontend reports after an upstream answer from a credential it chose itself."""
    outcome = pool_pb2.Outcome(request_id=f"cli-{time.monotonic_ns()}", backend=backend, credential=credential,
                               status=status, local=True, started_at=time.time(), model="m")
    with grpc.insecure_channel(f"unix:{services.config.paths.pool_socket}") as channel:
        batch = pool_pb2.ReportRequest(sequence=1, outcomes=[outcome])
        answers = pool_pb2_grpc.PoolStub(channel).Report(iter([batch]), timeout=10)
        assert [answer.sequence for answer in answers] == [1]


def test_a_credential_the_pool_quarantined_shows_quarantined_in_accounts_list_and_status(stack: Services) -> None:
    report_status(stack, "pooled", "second", 401)
    listed = dario(stack.home, "accounts", "list", "pooled")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("│")[2].strip(): line for line in listed.stdout.splitlines() if line.count("│") > 3}
    assert "quarantined until" in lines["second"] and "ok" in lines["default"]
    as_json = json.loads(dario(stack.home, "accounts", "list", "--json").stdout)
    states = {(row["backend"], row["name"]): row for row in as_json["accounts"]}
    assert states[("pooled", "second")]["state"] == "quarantined"
    assert states[("pooled", "second")]["until"] > time.time()
    assert states[("pooled", "default")]["state"] == "ok" and KEY not in json.dumps(as_json)
    status = json.loads(dario(stack.home, "status", "--json", extra_env={"DARIO_PORT": str(free_port())}).stdout)
    assert {(row["name"], row["state"]) for row in status["credentials"] if row["backend"] == "pooled"} == {
        ("default", "ok"), ("second", "quarantined")}


def test_status_probes_the_frontend_and_exits_1_once_it_stops(stack: Services) -> None:
    port = free_port()
    env = {"DARIO_PORT": str(port)}
    with running_module("frontend", stack.home, extra_env=env):
        deadline = time.monotonic() + 30
        while (result := dario(stack.home, "status", "--json", extra_env=env)).returncode != 0:
            assert time.monotonic() < deadline, result.stdout + result.stderr
            time.sleep(0.2)
        report = json.loads(result.stdout)
        assert report["ok"] is True
        assert report["frontend"] == {"url": f"http://127.0.0.1:{port}", "state": "ok", "version": __version__,
                                      "detail": ""}
        assert {name: service["state"] for name, service in report["services"].items()} == {
            "credential_service": "SERVING", "pool_service": "SERVING"}
        table = dario(stack.home, "status", extra_env=env)
        assert table.returncode == 0 and f"http://127.0.0.1:{port} (dario {__version__})" in table.stdout
    stopped = dario(stack.home, "status", extra_env=env)
    assert stopped.returncode == 1 and "not running: frontend" in stopped.stderr
    # Something else on the port is not mistaken for this home's frontend.
    with running_module("frontend", stack.home.parent / "other-home", extra_env=env):
        deadline = time.monotonic() + 30
        while b'"status"' not in _health(port):  # that one's services are not running: it answers "degraded"
            assert time.monotonic() < deadline
            time.sleep(0.1)
        foreign = json.loads(dario(stack.home, "status", "--json", extra_env=env).stdout)
    assert foreign["frontend"]["state"] == "another server" and foreign["ok"] is False


def _health(port: int) -> bytes:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return answer.read()
    except OSError:
        return b""


def test_routes_prints_config_text_and_errors_literally_and_as_json(stack: Services) -> None:
    result = dario(stack.home, "routes", "mystery-model", "[bold]odd[/bold]")
    assert result.returncode == 0, result.stderr
    assert "a [[routes]] rule" in result.stdout  # rich markup once made this "a [] rule"
    assert "[bold]odd[/bold]" in result.stdout
    document = json.loads(dario(stack.home, "routes", "--json", "gpt-4o-mini", "mystery-model").stdout)
    by_model = {entry["model"]: entry for entry in document["models"]}
    assert by_model["gpt-4o-mini"]["backend"] == "pooled" and by_model["gpt-4o-mini"]["error"] is None
    assert "[[routes]]" in by_model["mystery-model"]["error"] and document["aliases"]["opus"] == "claude-opus-5-5"


def test_backend_list_json_never_holds_a_key(stack: Services) -> None:
    document = json.loads(dario(stack.home, "backend", "list", "--json").stdout)
    pooled = next(backend for backend in document["backends"] if backend["name"] == "pooled")
    assert pooled["source"] == "vault" and pooled["base_url"] == "http://127.0.0.1:9/v1"
    assert [credential["name"] for credential in pooled["credentials"]] == ["default", "second"]
    assert KEY not in json.dumps(document) and pooled["credentials"][0]["hint"] == "…6789"


def test_removing_a_backend_a_rule_uses_needs_force(stack: Services) -> None:
    dario(stack.home, "backend", "add", "doomed", "--kind", "openai", "--base-url", "http://127.0.0.1:9/v1",
          "--no-probe")
    stack.config.paths.config.write_text('[[routes]]\nmatch = "x-*"\nbackend = "spare"\nfallbacks = ["doomed"]\n')
    try:
        refused = dario(stack.home, "backend", "remove", "doomed")
        assert refused.returncode == 1 and "line 1" in refused.stderr and "--force" in refused.stderr
        assert "doomed" in dario(stack.home, "backend", "list").stdout
        forced = dario(stack.home, "backend", "remove", "doomed", "--force")
        assert forced.returncode == 0 and "still names 'doomed'" in forced.stderr
        assert "doomed" not in dario(stack.home, "backend", "list").stdout
    finally:
        stack.config.paths.config.unlink()


def test_replace_says_replaced_and_refresh_of_an_unknown_backend_says_so(stack: Services) -> None:
    replaced = dario(stack.home, "accounts", "add", "spare", "default", "--replace", "--key-stdin",
                     input_text=KEY + "-new")
    assert replaced.returncode == 0 and "account default (api_key) replaced in backend spare" in replaced.stdout
    added = dario(stack.home, "accounts", "add", "spare", "third", "--replace", "--key-stdin", input_text=KEY)
    assert "account third (api_key) added to backend spare" in added.stdout
    unknown = dario(stack.home, "refresh", "nope")
    assert unknown.returncode == 1 and "no backend named 'nope'" in unknown.stderr
    no_account = dario(stack.home, "refresh", "spare", "--account", "ghost")
    assert no_account.returncode == 1 and "backend 'spare' has no account named 'ghost'" in no_account.stderr


@pytest.mark.parametrize(("arguments", "input_text", "expected"), [
    # What the README's old key step did with OPENAI_API_KEY unset: nothing on stdin.
    (("--key-stdin",), "", "`export OPENAI_API_KEY=…` and use --key-env OPENAI_API_KEY"),
    (("--key-env", "OPENAI_API_KEY"), None, "environment variable OPENAI_API_KEY is not set: `export "
                                            "OPENAI_API_KEY=…` first"),
    ((), None, "`export OPENAI_API_KEY=…` then add --key-env OPENAI_API_KEY, or --key-stdin"),
])
def test_a_missing_key_says_how_to_give_one_instead_of_sending_the_user_in_a_circle(
    stack: Services, arguments: tuple[str, ...], input_text: str | None, expected: str
) -> None:
    env = {name: value for name, value in environment(stack.home).items() if name != "OPENAI_API_KEY"}
    result = subprocess.run([sys.executable, "-m", "dario.cli.main", "backend", "add", "openai", "--preset",
                             "openai", *arguments], env=env, input=input_text, capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 1 and expected in result.stderr
    assert "leave out the key option" not in result.stderr

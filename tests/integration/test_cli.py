"""The `dario` CLI against the real credential_service and pool_service: keys never shown, errors exit non-zero."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc

from dario import __version__
from dario.testing.processes import REPO, environment, running_module
from dario.testing.stack import Services, running_services
from dario.testing.supervised import free_port

pytestmark = pytest.mark.timeout(120)
KEY = "test-key-cli-abcdef0123456789"


def dario(home: pathlib.Path, *arguments: str, input_text: str | None = None,
          extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dario.cli.main", *arguments],
        env=environment(home, extra_env), input=input_text, capture_output=True, text=True, timeout=60, cwd=REPO,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    with running_services(tmp_path_factory.mktemp("cli") / "home") as services:
        yield services


def test_add_with_key_on_stdin_then_list_never_shows_the_key(stack: Services) -> None:
    added = dario(stack.home, "backend", "add", "stdin-backend", "--kind", "openai",
                  "--base-url", "http://127.0.0.1:9/v1", "--key-stdin", input_text=KEY + "\n")
    assert added.returncode == 0, added.stderr
    assert KEY not in added.stdout + added.stderr
    listed = dario(stack.home, "backend", "list")
    assert listed.returncode == 0 and "stdin-backend" in listed.stdout
    assert KEY not in listed.stdout and "…6789" in listed.stdout


def test_add_with_key_from_environment_and_preset(stack: Services) -> None:
    added = dario(stack.home, "backend", "add", "groq", "--preset", "groq", "--key-env", "GROQ_TEST_KEY",
                  extra_env={"GROQ_TEST_KEY": KEY})
    assert added.returncode == 0, added.stderr
    assert "api.groq.com" in dario(stack.home, "backend", "list").stdout


def test_key_on_the_command_line_works_but_warns(stack: Services) -> None:
    added = dario(stack.home, "backend", "add", "argv-backend", "--kind", "openai",
                  "--base-url", "http://127.0.0.1:9/v1", f"--key={KEY}")
    assert added.returncode == 0
    assert "shell history" in added.stderr


def test_keyless_local_preset_needs_no_key_but_a_cloud_preset_does(stack: Services) -> None:
    assert dario(stack.home, "backend", "add", "local", "--preset", "ollama").returncode == 0
    refused = dario(stack.home, "backend", "add", "openai-nokey", "--preset", "openai")
    assert refused.returncode != 0 and "needs a key" in refused.stderr


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("backend", "add", "../escape", "--kind", "openai", "--base-url", "http://127.0.0.1:9/v1"), "not valid"),
        (("backend", "add", "bad-url", "--kind", "openai", "--base-url", "ftp://example"), "http"),
        (("backend", "add", "no-url", "--kind", "openai"), "--base-url"),
        (("backend", "add", "x", "--preset", "nonesuch"), "unknown preset"),
        (("backend", "add", "env-missing", "--preset", "openai", "--key-env", "DARIO_TEST_UNSET_VARIABLE"), "not set"),
        (("backend", "remove", "never-added"), "never-added"),
    ],
)
def test_every_error_exits_non_zero_with_a_message(stack: Services, arguments: tuple[str, ...], message: str) -> None:
    result = dario(stack.home, *arguments)
    assert result.returncode != 0
    assert message in result.stderr


def test_duplicate_credential_is_refused(stack: Services) -> None:
    arguments = ("backend", "add", "twice", "--kind", "openai", "--base-url", "http://127.0.0.1:9/v1")
    assert dario(stack.home, *arguments).returncode == 0
    again = dario(stack.home, *arguments)
    assert again.returncode != 0 and "already" in again.stderr


def test_remove_then_list(stack: Services) -> None:
    dario(stack.home, "backend", "add", "temporary", "--kind", "openai", "--base-url", "http://127.0.0.1:9/v1")
    removed = dario(stack.home, "backend", "remove", "temporary")
    assert removed.returncode == 0
    assert "temporary" not in dario(stack.home, "backend", "list").stdout


def test_status_exits_1_naming_the_frontend_when_only_the_services_run(stack: Services) -> None:
    result = dario(stack.home, "status", extra_env={"DARIO_PORT": str(free_port()), "COLUMNS": "250"})
    assert result.returncode == 1, result.stdout
    assert result.stdout.count("SERVING") == 2
    assert "not answering" in result.stdout and "not running: frontend" in result.stderr
    assert "request(s) recorded" in result.stdout


def test_with_no_service_running_the_cli_names_the_socket_and_how_to_start(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "empty-home"
    listed = dario(home, "backend", "list")
    assert listed.returncode != 0
    assert "credential_service is not running" in listed.stderr
    assert str(home / "run" / "credential.sock") in listed.stderr
    assert "Start the stack: dario up" in listed.stderr
    state = dario(home, "status")
    assert state.returncode != 0 and "not running" in state.stdout + state.stderr


def test_routes_shows_rules_and_where_models_go(stack: Services) -> None:
    for name, kind in (("claude", "anthropic"), ("fast-llama", "openai")):
        dario(stack.home, "backend", "add", name, "--kind", kind, "--base-url", "http://127.0.0.1:9/v1")
    stack.config.paths.config.write_text(
        'default_backend = "fast-llama"\n[aliases]\nquick = "llama-3.1-8b"\n\n[[routes]]\nmatch = "llama-*"\n'
        'backend = "fast-llama"\nmodel = "llama-3.3-70b"\n')
    try:
        result = dario(stack.home, "routes", "quick", "opus", "mystery", extra_env={"COLUMNS": "250"})
        assert result.returncode == 0, result.stderr
        assert "llama-3.3-70b" in result.stdout and "rule at line 5" in result.stdout
        assert "claude-opus-5-5" in result.stdout and "claude" in result.stdout
        assert "default backend: fast-llama" in result.stdout
        stack.config.paths.config.write_text("[[routes]]\nmatch = 3\n")
        broken = dario(stack.home, "routes")
        assert broken.returncode != 0 and "line 1" in broken.stderr and "last good rules" in broken.stderr
    finally:
        stack.config.paths.config.unlink()


def test_a_broken_config_toml_stops_up_naming_its_line_but_never_down(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "broken-home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text('[server]\nport = 3457\n\n[[routes]]\nmatch = "a-*"\nbackend = 5\n')
    started = dario(home, "up", "--timeout", "5")
    assert started.returncode == 1 and "config.toml line 4: routes[0].backend" in started.stderr
    assert not (home / "run" / "supervisord.pid").exists()  # refused before anything started
    stopped = dario(home, "down")
    assert stopped.returncode == 0 and "not running" in stopped.stdout


def test_version_prints_the_package_version() -> None:
    result = subprocess.run([sys.executable, "-m", "dario.cli.main", "--version"], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 0 and result.stdout.strip() == f"dario {__version__}"


def test_preset_base_url_can_be_overridden_and_accounts_share_a_backend(stack: Services) -> None:
    arguments = ("backend", "add", "my-vllm", "--preset", "vllm", "--base-url", "http://127.0.0.1:8123/v1")
    assert dario(stack.home, *arguments).returncode == 0
    second = dario(stack.home, *arguments, "--account", "team-b", "--key-stdin", input_text=KEY)
    assert second.returncode == 0, second.stderr
    listed = dario(stack.home, "backend", "list", extra_env={"COLUMNS": "250"}).stdout
    assert "http://127.0.0.1:8123/v1" in listed and "team-b" in listed and KEY not in listed


@pytest.mark.parametrize(
    ("arguments", "input_text", "extra_env", "message"),
    [
        (("--kind", "openai", "--base-url", "http://127.0.0.1:9/v1", "--key-stdin"), "\n", None, "no key"),
        (("--preset", "openai", "--key-env", "DARIO_TEST_EMPTY"), None, {"DARIO_TEST_EMPTY": ""}, "is empty"),
        (("--preset", "ollama", "--kind", "anthropic"), None, None, "kind openai"),
    ],
)
def test_an_empty_key_or_a_conflicting_kind_is_refused(
    stack: Services, arguments: tuple[str, ...], input_text: str | None, extra_env: dict[str, str] | None,
    message: str,
) -> None:
    result = dario(stack.home, "backend", "add", "refused", *arguments, input_text=input_text, extra_env=extra_env)
    assert result.returncode != 0 and message in result.stderr
    assert "refused" not in dario(stack.home, "backend", "list").stdout


def test_status_survives_a_pool_service_without_summary(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    pool_socket = home / "run" / "pool.sock"
    health_only = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), health_only)
    with running_module("credential_service", home, home / "run" / "credential.sock"):
        health_only.add_insecure_port(f"unix:{pool_socket}")
        health_only.start()
        try:
            result = dario(home, "status", extra_env={"COLUMNS": "250"})
        finally:
            health_only.stop(0)
    assert result.returncode == 1, result.stderr  # the frontend is not running
    assert result.stdout.count("SERVING") == 2 and "pool summary not available" in result.stdout


def test_accounts_add_list_refresh_logout_remove(stack: Services) -> None:
    created = dario(stack.home, "backend", "add", "pooled", "--kind", "openai", "--base-url",
                    "http://127.0.0.1:9/v1", "--no-account")
    assert created.returncode == 0, created.stderr
    added = dario(stack.home, "accounts", "add", "pooled", "first", "--key-env", "FIRST_KEY",
                  extra_env={"FIRST_KEY": KEY})
    assert added.returncode == 0, added.stderr
    assert "account first (api_key) added to backend pooled, which has 1 account(s)" in added.stdout
    second = dario(stack.home, "accounts", "add", "pooled", "second", "--key-stdin", input_text=KEY + "-2\n")
    assert second.returncode == 0 and "2 account(s)" in second.stdout
    twice = dario(stack.home, "accounts", "add", "pooled", "second", "--key-stdin", input_text=KEY + "\n")
    assert twice.returncode == 1 and "already has a credential named 'second'" in twice.stderr
    listed = dario(stack.home, "accounts", "list", "pooled")
    assert listed.returncode == 0 and "first" in listed.stdout and "second" in listed.stdout
    assert KEY not in listed.stdout
    refreshed = dario(stack.home, "refresh", "pooled")
    assert refreshed.returncode == 1 and "no oauth or client_credentials credential in pooled" in refreshed.stderr
    logout = dario(stack.home, "logout", "pooled", "--account", "first")
    assert logout.returncode == 1 and "is an API key, not a login" in logout.stderr
    oauth_without_token = dario(stack.home, "accounts", "add", "pooled", "third", "--oauth", "--token-url",
                                "https://auth.example/token", "--client-id", "c")
    assert oauth_without_token.returncode == 1 and "refresh token" in oauth_without_token.stderr
    removed = dario(stack.home, "accounts", "remove", "pooled", "first")
    assert removed.returncode == 0 and "1 account(s) left" in removed.stdout
    status = dario(stack.home, "status")
    assert "pooled" in status.stdout and "second" in status.stdout and KEY not in status.stdout

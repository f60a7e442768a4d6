"""The services' side of config.toml and of clients going away: pricing re-read on change, keys referenced by
environment variable (key_env), and a frontend's stop leaving pool_service's log clean."""

from __future__ import annotations

import json
import pathlib
import sqlite3
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest

from dario.testing.processes import running_module
from dario.testing.scripted_upstream import ThreadedUpstream
from dario.testing.stack import running_services
from dario.testing.supervised import free_port
from dario.v1 import credentials_pb2, credentials_pb2_grpc, pool_pb2, pool_pb2_grpc

pytestmark = pytest.mark.timeout(120)
ENV_KEY = "test-key-from-environment-0123456789"


def outcome(request_id: str, model: str) -> pool_pb2.Outcome:
    return pool_pb2.Outcome(request_id=request_id, api_format="openai", backend="b", credential="c", model=model,
                            served_model=model, status=200, input_tokens=1_000_000, output_tokens=0,
                            started_at=time.time(), latency_ms=1.0)


def report(stub: pool_pb2_grpc.PoolStub, request_id: str, model: str, sequence: int) -> None:
    answers = stub.Report(iter([pool_pb2.ReportRequest(sequence=sequence, outcomes=[outcome(request_id, model)])]),
                          timeout=10)
    assert [answer.sequence for answer in answers] == [sequence]


def cost_of(home: pathlib.Path, request_id: str) -> float | None:
    with sqlite3.connect(home / "analytics.db") as connection:
        row = connection.execute("select cost_usd from requests where request_id = ?", [request_id]).fetchone()
    return row[0]


def wait_until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} within {seconds}s")


def test_pricing_is_re_read_when_config_toml_changes_and_aliases_are_priced(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    config = home / "config.toml"
    config.write_text('[pricing."house-model*"]\ninput = 1.0\noutput = 2.0\n')
    with running_module("pool_service", home, home / "run" / "pool.sock"), \
            grpc.insecure_channel(f"unix:{home / 'run' / 'pool.sock'}") as channel:
        stub = pool_pb2_grpc.PoolStub(channel)
        report(stub, "before", "house-model-1", 1)
        report(stub, "alias", "opus", 2)  # a built-in alias: priced as the model it names
        assert cost_of(home, "before") == pytest.approx(1.0)
        assert cost_of(home, "alias") == pytest.approx(5.0)
        config.write_text('[pricing."house-model*"]\ninput = 3.0\noutput = 2.0\n\n[aliases]\nmine = "house-model-x"\n')

        def repriced() -> bool:
            request_id = f"after-{uuid.uuid4().hex[:8]}"
            report(stub, request_id, "mine", 3)
            return cost_of(home, request_id) == pytest.approx(3.0)

        wait_until(repriced, 10, "the new price and alias were not used")
        config.write_text('[pricing."house-model*"]\ninput = "a lot"\n')  # refused: the last good prices stay
        wait_until(lambda: "the prices in force stay" in (home / "pool_service.test.log").read_text(), 10,
                   "the broken file was not reported")
        report(stub, "kept", "mine", 4)
        assert cost_of(home, "kept") == pytest.approx(3.0)


def test_a_key_env_backend_of_config_toml_serves_with_the_environment_key_never_written(tmp_path: pathlib.Path
                                                                                        ) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    with ThreadedUpstream() as upstream:
        upstream.accept_token = lambda token: token == ENV_KEY  # any other key: a 401, a "key-refused" probe
        (home / "config.toml").write_text(
            f'[backends.envbacked]\nkind = "openai"\nbase_url = "{upstream.base_url}"\n'
            'key_env = "DARIO_TEST_ENV_KEY"\n\n[[backends.envbacked.accounts]]\nname = "second"\n'
            'key_env = "DARIO_TEST_UNSET_KEY"\n')
        socket_path = home / "run" / "credential.sock"
        with running_module("credential_service", home, socket_path, extra_env={"DARIO_TEST_ENV_KEY": ENV_KEY}), \
                grpc.insecure_channel(f"unix:{socket_path}") as channel:
            stub = credentials_pb2_grpc.CredentialsStub(channel)
            listed = stub.ListBackends(credentials_pb2.ListBackendsRequest(), timeout=5).backends
            assert [(b.name, b.source) for b in listed] == [("envbacked", "config.toml")]
            states = {c.name: (c.state, c.key_env) for c in listed[0].credentials}
            assert states == {"default": ("ok", "DARIO_TEST_ENV_KEY"),
                              "second": ("missing-key", "DARIO_TEST_UNSET_KEY")}
            leases = next(stub.WatchLeases(credentials_pb2.WatchLeasesRequest(), timeout=10)).leases
            assert [(lease.credential, lease.lease.header_value) for lease in leases] == [("default",
                                                                                          f"Bearer {ENV_KEY}")]
            probed = stub.ProbeBackend(credentials_pb2.ProbeBackendRequest(name="envbacked"), timeout=30).results
            assert [(r.credential, r.verdict, r.models) for r in probed] == [("default", "ok", 2)]
            with pytest.raises(grpc.RpcError) as refused:
                stub.RemoveBackend(credentials_pb2.RemoveBackendRequest(name="envbacked"), timeout=5)
            assert "declared in config.toml" in refused.value.details()
            # Reloaded on change: the second account now names a set variable, the first a gone one.
            watch = stub.WatchBackends(credentials_pb2.WatchBackendsRequest(), timeout=30)
            first = next(watch)
            (home / "config.toml").write_text(
                f'[backends.envbacked]\nkind = "openai"\nbase_url = "{upstream.base_url}"\n'
                'key_env = "DARIO_TEST_GONE_KEY"\n')
            changed = next(watch)
            assert changed.generation > first.generation
            assert [(c.name, c.state) for c in changed.backends[0].credentials] == [("default", "missing-key")]
        for path in home.rglob("*"):
            if path.is_file() and not path.name.endswith(".test.log"):
                assert ENV_KEY.encode() not in path.read_bytes(), f"the key was written to {path}"
        assert ENV_KEY not in (home / "credential_service.test.log").read_text()


def test_a_frontend_that_stops_leaves_no_task_exception_in_pool_services_log(tmp_path: pathlib.Path) -> None:
    home = tmp_path / "home"
    with running_services(home) as services:
        services.add_backend("b", "http://127.0.0.1:9/v1", "test-key-logs-0123456789")
        for attempt in range(2):  # the frontend exits with its Report and WatchAvailability streams open
            port = free_port()
            with running_module("frontend", home, extra_env={"DARIO_PORT": str(port)}):
                wait_until(lambda port=port: frontend_health(port) == "ok", 30, "the frontend never became healthy")
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/chat/completions", method="POST",
                    data=json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode(),
                    headers={"content-type": "application/json", "x-request-id": f"stop-{attempt}"})
                with pytest.raises(urllib.error.HTTPError):  # backend b refuses connections: a 502, reported
                    urllib.request.urlopen(request, timeout=30)
                wait_until(lambda attempt=attempt: (home / "analytics.db").exists() and rows(home) > attempt, 20,
                           "the outcome never reached pool_service")
    log = (home / "pool_service.test.log").read_text()  # complete: pool_service has exited
    assert "Task exception was never retrieved" not in log, log
    assert "StopAsyncIteration" not in log, log


def rows(home: pathlib.Path) -> int:
    with sqlite3.connect(home / "analytics.db") as connection:
        return connection.execute("select count(*) from requests").fetchone()[0]


def frontend_health(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return json.loads(answer.read())["status"]
    except OSError:
        return ""

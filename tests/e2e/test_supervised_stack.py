"""The stack as users run it: supervisord, the CLI, the official openai SDK, analytics, and a SIGKILL."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import pathlib
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator

import httpx2
import openai
import pytest

from dario.testing.scripted_upstream import Script, ScriptedUpstream, ThreadedUpstream
from dario.testing.supervised import Supervised, supervised_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
KEY = "test-key-e2e-0123456789abcdef"
MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture
def upstream() -> Iterator[ScriptedUpstream]:
    with ThreadedUpstream() as running:
        yield running


@pytest.fixture
def stack(tmp_path: pathlib.Path, upstream: ScriptedUpstream) -> Iterator[Supervised]:
    with supervised_stack(tmp_path / "home") as running:
        added = running.dario("backend", "add", "scripted", "--kind", "openai", "--base-url", upstream.base_url,
                              "--key-stdin", input_text=KEY)
        assert added.returncode == 0, added.stderr
        running.wait_for_backends(1)
        yield running


def sdk(stack: Supervised, timeout: float = 20.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key="dario", max_retries=0, timeout=timeout)


def analytics(home: pathlib.Path, request_ids: list[str], deadline_seconds: float = 20.0) -> dict[str, dict]:
    deadline, found = time.monotonic() + deadline_seconds, {}
    while time.monotonic() < deadline:
        if (home / "analytics.db").exists():
            connection = sqlite3.connect(home / "analytics.db")
            connection.row_factory = sqlite3.Row
            marks = ",".join("?" * len(request_ids))
            found = {row["request_id"]: dict(row) for row in
                     connection.execute(f"select * from requests where request_id in ({marks})", request_ids)}
            connection.close()
            if len(found) == len(request_ids):
                return found
        time.sleep(0.1)
    raise AssertionError(f"{len(found)} of {len(request_ids)} requests in analytics after {deadline_seconds}s")


def test_openai_sdk_through_the_supervised_stack_lands_in_analytics(stack: Supervised,
                                                                   upstream: ScriptedUpstream) -> None:
    client = sdk(stack)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    answer = raw.parse()
    assert answer.choices[0].message.content == "Hello from scripted upstream: Say hello"
    upstream.push(Script(content="streamed ☃ answer", split=3))
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    ) as streamed:
        stream_id = streamed.headers["request-id"]
        chunks = list(streamed.parse())
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "streamed ☃ answer"
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {KEY}"

    rows = analytics(stack.home, [raw.headers["request-id"], stream_id])
    plain, streamed_row = rows[raw.headers["request-id"]], rows[stream_id]
    assert (plain["stream"], streamed_row["stream"]) == (0, 1)
    assert plain["input_tokens"] == answer.usage.prompt_tokens
    assert streamed_row["output_tokens"] == [c for c in chunks if c.usage][0].usage.completion_tokens
    assert all(row["backend"] == "scripted" and row["status"] == 200 for row in rows.values())

    status = stack.dario("status")
    assert status.returncode == 0 and status.stdout.count("SERVING") == 2
    for path in (stack.home / "vault.json", stack.home / "run" / "credential.sock", stack.home / "run" / "pool.sock"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (stack.home.stat().st_mode & 0o777) == 0o700
    assert KEY not in stack.logs(), "a secret reached a log file"


# One request's outcome: "ok", the HTTP status or "connection"; the seconds it took; the error's message.
Outcome = tuple[int | str, float, str]


def send_until(stop: threading.Event, client: openai.OpenAI, results: list[Outcome], limit: int) -> None:
    """One client's bounded request loop: records each outcome and how long it took."""
    for _ in range(limit):
        if stop.is_set():
            return
        started = time.monotonic()
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            results.append(("ok", time.monotonic() - started, ""))
        except openai.APIStatusError as error:
            results.append((error.status_code, time.monotonic() - started, error.message))
        except openai.APIConnectionError as error:  # a hang shows up here as APITimeoutError
            results.append(("connection", time.monotonic() - started, str(error)))
        time.sleep(0.01)


@pytest.mark.parametrize("program", ["credential_service", "pool_service"])
def test_sigkill_of_a_service_under_load_never_hangs_a_request(stack: Supervised, program: str) -> None:
    client = sdk(stack, timeout=15.0)
    stop = threading.Event()
    results: list[Outcome] = []
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        workers = [pool.submit(send_until, stop, client, results, 400) for _ in range(4)]
        time.sleep(1.0)
        old_pid = stack.pid(program)
        os.kill(old_pid, signal.SIGKILL)
        stack.wait_restarted(program, old_pid)
        stack.wait_healthy()
        count_after_restart = len(results)
        deadline = time.monotonic() + 30
        while len(results) < count_after_restart + 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for worker in workers:
            worker.result(60)

    counts = {status: sum(1 for result in results if result[0] == status) for status in {r[0] for r in results}}
    print(f"\n{program}: {len(results)} requests, outcomes {counts}, max {max(r[1] for r in results):.3f}s")
    assert results, "no request was sent"
    statuses = {status for status, _, _ in results}
    assert statuses <= {"ok", 503}, f"unexpected outcomes: {statuses}"
    assert max(seconds for _, seconds, _ in results) < 10, "a request hung"
    for status, _, message in results:
        if status == 503:
            assert program in message and "dario up" in message
    assert all(status == "ok" for status, _, _ in results[count_after_restart + 5:]), "did not recover"
    if program == "credential_service":
        # Cached leases and catalog keep every request working while the vault process is down.
        assert statuses == {"ok"}
    listed = stack.dario("backend", "list")
    assert listed.returncode == 0 and "scripted" in listed.stdout, "the vault lost the backend"
    vault = json.loads((stack.home / "vault.json").read_text())
    assert vault["backends"][0]["credentials"][0]["secret"] == KEY
    ok = sum(1 for status, _, _ in results if status == "ok")
    with sqlite3.connect(stack.home / "analytics.db") as connection:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            recorded = connection.execute("select count(*) from requests where status = 200").fetchone()[0]
            if recorded >= ok:
                break
            time.sleep(0.1)
    assert recorded >= ok, f"analytics lost completed requests: {recorded} recorded, {ok} completed"


def test_sigkills_of_the_frontend_under_load_lose_no_answered_request(stack: Supervised) -> None:
    """Every answer, whole or streamed, is journaled in $DARIO_HOME/run/journal before its last bytes leave;
    the restarted frontend resends what the killed one had not had acknowledged: each of thousands of answered
    requests is in analytics with the status its client saw, across three SIGKILLs under load; while the
    frontend is down clients get refused connections, never a hang or a 503."""
    client = sdk(stack, timeout=15.0)
    stop, results = threading.Event(), []  # (outcome, seconds, request id, message)
    kills, target = 3, 3000

    def load(stream: bool) -> None:
        for _ in range(2 * target):  # bounded
            if stop.is_set():
                return
            started = time.monotonic()
            try:
                raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES,
                                                                       stream=stream)
                if stream:  # answered only once the client has read the whole stream
                    list(raw.parse())
                results.append(("ok", time.monotonic() - started, raw.headers["request-id"], ""))
            except openai.APIStatusError as error:
                results.append((error.status_code, time.monotonic() - started, error.response.headers["request-id"],
                                error.message))
            except (openai.APIConnectionError, httpx2.TransportError):  # refused, or a stream cut by the kill
                results.append(("connection", time.monotonic() - started, "", ""))
                time.sleep(0.05)

    def wait_answered(count: int) -> None:
        deadline = time.monotonic() + 120
        while sum(1 for outcome, *_ in results if outcome == "ok") < count and time.monotonic() < deadline:
            time.sleep(0.02)

    backs = []
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        workers = [pool.submit(load, number % 2 == 1) for number in range(8)]  # half of them stream
        for kill in range(kills):
            wait_answered((kill + 1) * target // (kills + 1))
            old_pid = stack.pid("frontend")
            os.kill(old_pid, signal.SIGKILL)
            stack.wait_restarted("frontend", old_pid)
            stack.wait_healthy()
            backs.append(len(results))
        wait_answered(target)
        stop.set()
        for worker in workers:
            worker.result(60)
    outcomes = collections.Counter(outcome for outcome, *_ in results)
    # A restarted frontend listens only once credential_service has pushed its catalog: no 503 meanwhile.
    assert all(outcome in ("ok", "connection") for outcome, *_ in results), outcomes
    assert max(seconds for _, seconds, _, _ in results) < 10, "a request hung"
    assert all(outcome == "ok" for outcome, *_ in results[backs[-1] + 16:]), "did not recover"
    answered = {request_id: 200 if outcome == "ok" else outcome for outcome, _, request_id, _ in results if request_id}
    assert len(answered) == sum(1 for result in results if result[2]) and outcomes["ok"] >= target
    deadline = time.monotonic() + 30
    while stack.health()["outcomes_backlog"] and time.monotonic() < deadline:
        time.sleep(0.1)
    with sqlite3.connect(stack.home / "analytics.db") as connection:
        connection.execute("create temporary table answered (request_id text primary key, status integer)")
        connection.executemany("insert into answered values (?, ?)", answered.items())
        missing = connection.execute("select count(*) from answered where not exists (select 1 from requests where "
                                     "requests.request_id = answered.request_id and requests.status = answered.status)"
                                     ).fetchone()[0]
        total = connection.execute("select count(*) from requests").fetchone()[0]
    print(f"\nfrontend SIGKILL x{kills}: {len(results)} requests, outcomes {dict(outcomes)}, "
          f"{len(answered)} answered, {len(answered) - missing} of them in analytics ({total} rows), "
          f"max {max(r[1] for r in results):.3f}s")
    assert missing == 0, f"{missing} of {len(answered)} answered requests are not in analytics"
    assert not list((stack.home / "run" / "journal").glob("*.journal"))[1:], "old journals were not deleted"


def test_slow_clients_holding_connections_do_not_starve_others(tmp_path: pathlib.Path,
                                                               upstream: ScriptedUpstream) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "config.toml").write_text("[limits]\nheader_seconds = 3\nbody_read_seconds = 3\n")
    with supervised_stack(home) as stack:
        added = stack.dario("backend", "add", "scripted", "--kind", "openai", "--base-url", upstream.base_url,
                            "--key-stdin", input_text=KEY)
        assert added.returncode == 0, added.stderr
        stack.wait_for_backends(1)
        slow = []
        for number in range(100):  # half dribble their headers, half their body
            connection = socket.create_connection(("127.0.0.1", stack.port), timeout=10)
            if number % 2:
                connection.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Le")
            else:
                connection.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: localhost\r\n"
                                   b"Content-Type: application/json\r\n"
                                   b"Content-Length: 500\r\n\r\n{\"model\":")
            slow.append(connection)
        client = sdk(stack, timeout=10.0)
        latencies = []
        for _ in range(30):
            started = time.monotonic()
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            latencies.append(time.monotonic() - started)
        answers = []
        for connection in slow:
            connection.settimeout(10)
            answers.append(connection.recv(4096))
            connection.close()
    print(f"\n100 slow connections open: 30 requests, max {max(latencies) * 1000:.0f} ms")
    assert max(latencies) < 2.0  # served as usual (the upstream answers at once)
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers)

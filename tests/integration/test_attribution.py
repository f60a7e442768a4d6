"""Attribution through the real stack: requests sent as Claude Code, Codex, the SDKs and curl send them are recorded
with their client, session, project and tags, and GET /analytics groups and filters by them."""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
import uuid

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from dario.testing.processes import REPO, environment
from dario.testing.scripted_upstream import ScriptedUpstream
from dario.testing.stack import Services
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(180)
CLAUDE_SESSION = str(uuid.uuid4())
CODEX_SESSION = str(uuid.uuid4())
CLAUDE_SYSTEM = [
    {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    {"type": "text", "text": "Here is useful information about the environment you are running in:\n<env>\n"
                             "Working directory: /home/ann/src/shop-api\nIs directory a git repo: Yes\n</env>"},
]


async def post(session: aiohttp.ClientSession, server: TestServer, path: str, body: dict,
               headers: dict[str, str]) -> str:
    async with session.post(server.make_url(path), data=json.dumps(body).encode(),
                            headers={"content-type": "application/json", **headers}) as answer:
        assert answer.status == 200, await answer.text()
        await answer.read()
        return answer.headers["request-id"]


async def as_claude_code(session: aiohttp.ClientSession, server: TestServer) -> str:
    """Claude Code's request shape: its user agent and session header, metadata.user_id, its system prompt."""
    user_id = json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": CLAUDE_SESSION})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64, "system": CLAUDE_SYSTEM,
            "metadata": {"user_id": user_id}, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"user-agent": "claude-cli/2.0.14 (external, cli)", "x-app": "cli", "anthropic-version": "2023-06-01",
               "x-claude-code-session-id": CLAUDE_SESSION}
    return await post(session, server, "/v1/messages", body, headers)


async def as_codex(session: aiohttp.ClientSession, server: TestServer) -> str:
    """Codex's: the Responses API, originator and session_id headers, the environment context in its input."""
    body = {"model": "gpt-5-codex", "instructions": "You are Codex.", "input": [
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>\n  <cwd>/Users/bo/work/billing</cwd>\n"
                                           "</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}
    headers = {"user-agent": "codex_cli_rs/0.38.0 (Ubuntu 24.04.2 LTS; x86_64) WindowsTerminal",
               "originator": "codex_cli_rs", "session_id": CODEX_SESSION, "conversation_id": CODEX_SESSION}
    return await post(session, server, "/v1/responses", body, headers)


async def chat(session: aiohttp.ClientSession, server: TestServer, headers: dict[str, str]) -> str:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    return await post(session, server, "/v1/chat/completions", body, headers)


async def analytics(session: aiohttp.ClientSession, server: TestServer, query: str) -> dict:
    async with session.get(server.make_url(f"/analytics?{query}")) as answer:
        text = await answer.text()
        assert answer.status == 200, text
        return json.loads(text)


async def test_each_clients_requests_are_recorded_with_their_attribution(
    both_kinds_frontend: TestServer, both_kinds: Services, upstream: ScriptedUpstream
) -> None:
    server = both_kinds_frontend
    async with aiohttp.ClientSession() as session:
        claude = await as_claude_code(session, server)
        codex = await as_codex(session, server)
        sdk = await chat(session, server, {"user-agent": "OpenAI/Python 1.109.1", "x-dario-session": "nightly-7",
                                           "x-dario-project": "reports", "x-dario-tags": "ci, nightly"})
        curl = await chat(session, server, {"user-agent": "curl/8.5.0"})
        rows = await async_analytics_rows(both_kinds.home, [claude, codex, sdk, curl])
    picked = {request_id: {name: rows[request_id][name] for name in ("client", "session", "project", "tags")}
              for request_id in rows}
    assert picked[claude] == {"client": "claude-code", "session": CLAUDE_SESSION, "project": "shop-api", "tags": ""}
    assert picked[codex] == {"client": "codex", "session": CODEX_SESSION, "project": "billing", "tags": ""}
    assert picked[sdk] == {"client": "openai-python", "session": "nightly-7", "project": "reports",
                           "tags": "ci,nightly"}
    assert picked[curl] == {"client": "curl", "session": "", "project": "", "tags": ""}
    sent_on = " ".join(name.lower() for recorded in upstream.requests for name in recorded.headers)
    assert "x-dario-" not in sent_on  # attribution stays with dario: never passed to a provider


async def test_analytics_groups_by_session_project_and_client(both_kinds_frontend: TestServer,
                                                               both_kinds: Services) -> None:
    server = both_kinds_frontend
    project = f"grouped-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        sent = [await chat(session, server, {"user-agent": "Anthropic/Python 0.69.0", "x-dario-project": project,
                                             "x-dario-session": f"{project}-{index % 2}"}) for index in range(3)]
        await async_analytics_rows(both_kinds.home, sent)
        report = await analytics(session, server, "by=session,project,client")
        filtered = await analytics(session, server, f"by=session&session={project}-0")
    sessions = {entry["session"]: entry for entry in report["by_session"]}
    assert sessions[f"{project}-0"]["requests"] == 2 and sessions[f"{project}-1"]["requests"] == 1
    assert {"input_tokens", "output_tokens", "cache_read_tokens", "cost_usd", "errors",
            "latency_p50_ms"} <= set(sessions[f"{project}-0"])
    projects = {entry["project"]: entry for entry in report["by_project"]}
    assert projects[project]["requests"] == 3
    clients = {entry["client"]: entry for entry in report["by_client"]}
    assert clients["anthropic-python"]["requests"] >= 3
    assert report["window"]["requests"] >= 3 and report["by_model"]  # the report as before is all there
    assert filtered["window"]["requests"] == 2 and filtered["all_time"]["requests"] == 2
    assert [entry["session"] for entry in filtered["by_session"]] == [f"{project}-0"]
    assert "by_project" not in filtered  # only what was asked


async def test_a_bad_grouping_is_a_clear_400(both_kinds_frontend: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(both_kinds_frontend.make_url("/analytics?by=session,password")) as answer:
            assert answer.status == 400
            document = await answer.json()
    assert "by" in document["error"]["message"] and "session" in document["error"]["message"]


async def raw_chat(server: TestServer, headers: bytes) -> str:
    """A chat request written byte by byte: HTTP clients refuse to send control bytes in a header; attackers don't."""
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}).encode()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                 b"connection: close\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), headers, body))
    answer = await reader.read()
    writer.close()
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0].split()[1] == "200", answer[:500]
    return next(line.split(":", 1)[1].strip() for line in head[1:] if line.lower().startswith("request-id:"))


async def test_hostile_names_are_recorded_as_bounded_printable_text(both_kinds_frontend: TestServer,
                                                                    both_kinds: Services) -> None:
    """Headers cannot carry control bytes (the parser refuses them with a 400), a body's JSON can: both paths end
    as printable, bounded text, markup kept as text for the viewer to escape, key-shaped values dropped."""
    script = "<script>alert(1)</script>"
    headers = (f"user-agent: {script}/1\r\nx-dario-session: {script}\r\n".encode()
               + b"x-dario-project: p\xe2\x80\xaeq" + b"z" * 7000 + b"\r\n"  # U+202E, a bidi override
               + b"x-dario-tags: sk-ant-api03-" + b"k" * 40 + b"\r\n")
    user_id = json.dumps({"device_id": "d", "session_id": "s\x00\x1b[31m<b>\x7f" + "9" * 3000})
    body = {"model": "claude-sonnet-4-5", "max_tokens": 16, "metadata": {"user_id": user_id},
            "system": "Working directory: /tmp/\x1b]0;owned\x07" + "w" * 5000, "messages": [{"role": "user",
                                                                                        "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        marked = await raw_chat(both_kinds_frontend, headers)
        from_body = await post(session, both_kinds_frontend, "/v1/messages", body,
                               {"user-agent": "claude-cli/2.0.14 (external, cli)"})
        rows = await async_analytics_rows(both_kinds.home, [marked, from_body])
        report = await analytics(session, both_kinds_frontend, f"by=session,client&session={script}")
    row = rows[marked]
    assert row["session"] == script  # text, as sent: the viewer escapes it
    assert row["project"].startswith("pqzzz") and len(row["project"]) <= 128
    assert row["tags"] == ""  # key-shaped: never recorded
    assert row["client"] == "<script>alert"  # the product token, cut where a comment would start
    assert report["by_session"][0]["session"] == script
    body_row = rows[from_body]
    assert body_row["session"].startswith("s[31m<b>999") and len(body_row["session"]) <= 128
    assert body_row["project"].startswith("]0;ownedwww") and len(body_row["project"]) <= 128
    for value in (body_row["session"], body_row["project"]):
        assert all(character.isprintable() for character in value)


async def test_a_request_refused_before_its_body_is_parsed_still_names_its_client(both_kinds_frontend: TestServer,
                                                                                   both_kinds: Services) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(both_kinds_frontend.make_url("/v1/chat/completions"), data=b"{not json",
                                headers={"user-agent": "curl/8.5.0", "x-dario-session": "broken-1",
                                         "content-type": "application/json"}) as answer:
            assert answer.status == 400
            request_id = answer.headers["request-id"]
        row = (await async_analytics_rows(both_kinds.home, [request_id]))[request_id]
    assert (row["client"], row["session"], row["status"]) == ("curl", "broken-1", 400)


def dario(home: pathlib.Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dario.cli.main", *arguments],
                          env=environment(home, {"COLUMNS": "250"}), capture_output=True, text=True, timeout=60,
                          cwd=REPO)


async def test_the_analytics_command_groups_and_filters_as_get_analytics(both_kinds_frontend: TestServer,
                                                                          both_kinds: Services) -> None:
    project = f"cli-{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as session:
        sent = [await chat(session, both_kinds_frontend, {"user-agent": "llm/0.27", "x-dario-project": project,
                                                          "x-dario-session": f"{project}-s"}) for _ in range(2)]
        await async_analytics_rows(both_kinds.home, sent)
        expected = await analytics(session, both_kinds_frontend, f"by=project,client&project={project}")
    printed = await asyncio.to_thread(dario, both_kinds.home, "analytics", "--by", "project,client", "--project",
                                      project, "--json")
    assert printed.returncode == 0, printed.stderr
    answer = json.loads(printed.stdout)
    assert answer["by_project"] == expected["by_project"] and answer["by_client"] == expected["by_client"]
    assert answer["by_project"][0]["requests"] == 2
    shown = await asyncio.to_thread(dario, both_kinds.home, "analytics", "--by", "session", "--by", "client")
    assert shown.returncode == 0, shown.stderr
    assert "Per session" in shown.stdout and f"{project}-s" in shown.stdout and "Per client" in shown.stdout
    assert "Per credential" not in shown.stdout
    refused = await asyncio.to_thread(dario, both_kinds.home, "analytics", "--by", "password")
    assert refused.returncode == 2 and "choose from session" in refused.stderr

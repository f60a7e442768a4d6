"""`dario statusline` as Claude Code runs it: the statusline JSON on stdin, one line for that session's requests
through the real stack; nothing at all (and exit 0) when the stack is down or the session unknown."""

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
from dario.testing.scripted_upstream import Script, ScriptedUpstream
from dario.testing.stack import Services
from dario.testing.supervised import free_port
from tests.integration.conftest import async_analytics_rows

pytestmark = pytest.mark.timeout(120)


def statusline(home: pathlib.Path, stdin: str, *arguments: str) -> subprocess.CompletedProcess:
    """The command as the installed `dario` script runs it (dario.cli.entry, the light path)."""
    return subprocess.run([sys.executable, "-c", "import sys; from dario.cli.entry import main; sys.exit(main())",
                           "statusline", *arguments], env=environment(home), input=stdin, capture_output=True,
                          text=True, timeout=30, cwd=REPO)


def claude_code_json(session: str) -> str:
    """The statusline JSON Claude Code writes on the command's stdin (the fields dario reads, and some it does not)."""
    return json.dumps({"hook_event_name": "Status", "session_id": session, "transcript_path": f"/tmp/{session}.jsonl",
                       "cwd": "/home/ann/src/shop-api", "model": {"id": "claude-sonnet-4-5",
                                                                   "display_name": "Sonnet 4.5"},
                       "workspace": {"current_dir": "/home/ann/src/shop-api", "project_dir": "/home/ann/src/shop-api"},
                       "version": "2.0.14", "cost": {"total_cost_usd": 0.01}})


async def test_the_line_of_a_session_through_the_stack(both_kinds_frontend: TestServer, both_kinds: Services,
                                                       upstream: ScriptedUpstream) -> None:
    session = str(uuid.uuid4())
    (both_kinds.home / "run" / "frontend.url").write_text(str(both_kinds_frontend.make_url("")).rstrip("/") + "\n")
    upstream.push(Script(content="one"), Script(content="two"))
    body = {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"content-type": "application/json", "user-agent": "claude-cli/2.0.14 (external, cli)",
               "x-claude-code-session-id": session}
    sent = []
    async with aiohttp.ClientSession() as client:
        for _ in range(2):
            async with client.post(both_kinds_frontend.make_url("/v1/messages"), json=body,
                                   headers=headers) as answer:
                assert answer.status == 200, await answer.text()
                sent.append(answer.headers["request-id"])
        rows = await async_analytics_rows(both_kinds.home, sent)
    printed = await asyncio.to_thread(statusline, both_kinds.home, claude_code_json(session))
    assert printed.returncode == 0 and printed.stderr == "", printed.stderr
    [text] = printed.stdout.splitlines()
    output = sum(row["output_tokens"] for row in rows.values())
    assert text.startswith("dario ") and f"· {output} out ·" in text and text.endswith("· 2 req"), text
    by_flag = await asyncio.to_thread(statusline, both_kinds.home, "", "--session", session)
    assert by_flag.stdout == printed.stdout
    unknown = await asyncio.to_thread(statusline, both_kinds.home, claude_code_json("never-seen"))
    assert (unknown.returncode, unknown.stdout) == (0, "")


@pytest.mark.parametrize("state", ["never started", "stopped", "not json", "no session"])
def test_silent_when_the_stack_is_down_or_nothing_is_known(tmp_path: pathlib.Path, state: str) -> None:
    home = tmp_path / "home"
    (home / "run").mkdir(parents=True)
    stdin = claude_code_json("some-session")
    if state == "stopped":  # dario up recorded a URL, nothing listens there any more
        (home / "run" / "frontend.url").write_text(f"http://127.0.0.1:{free_port()}\n")
    elif state == "not json":
        stdin = "{half"
    elif state == "no session":
        stdin = json.dumps({"model": {"id": "x"}})
    printed = statusline(home, stdin)
    assert (printed.returncode, printed.stdout, printed.stderr) == (0, "", "")

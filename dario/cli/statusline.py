"""`dario statusline`: one line for Claude Code's status line (tokens, cache share, cost, requests of the session).

Claude Code runs the command after each message with its statusline JSON on stdin (we read `session_id`), so this
imports the standard library only and prints nothing, exiting 0, whenever it has nothing to say: no session, the
stack down, an answer that is not the report.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import sys
import urllib.parse
from typing import Any

URL_FILE = "frontend.url"  # as dario.cli.status writes it while the stack runs
TIMEOUT_SECONDS = 0.5
STDIN_LIMIT = 1024 * 1024


def main(argv: list[str]) -> int:
    """Prints the line for --session ID, else for the session_id of the JSON on stdin; always exits 0."""
    session = _option(argv, "--session")
    if not session and not sys.stdin.isatty():
        session = session_from(sys.stdin.read(STDIN_LIMIT))
    if not session:
        return 0
    environ = os.environ
    home = pathlib.Path(environ.get("DARIO_HOME") or "~/.dario").expanduser()
    totals = session_totals(home, session, environ.get("DARIO_API_KEY", ""))
    if totals is not None and totals.get("requests"):
        print(line(totals))
    return 0


def _option(argv: list[str], name: str) -> str:
    for index, argument in enumerate(argv):
        if argument == name and index + 1 < len(argv):
            return argv[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return ""


def session_from(text: str) -> str:
    """The session_id of Claude Code's statusline JSON ({"session_id", "transcript_path", "model", …}), or ""."""
    try:
        document = json.loads(text)
    except ValueError:
        return ""
    session = document.get("session_id") if isinstance(document, dict) else None
    return session.strip() if isinstance(session, str) else ""


def session_totals(home: pathlib.Path, session: str, api_key: str) -> dict[str, object] | None:
    """The session's all-time totals from GET /analytics?session=ID of the frontend `dario up` started, or None
    when the stack is not running or does not answer in time."""
    try:
        url = urllib.parse.urlsplit((home / "run" / URL_FILE).read_text(encoding="utf-8").strip())
        if url.scheme != "http" or not url.hostname:
            return None
        connection = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=TIMEOUT_SECONDS)
        headers = {"x-api-key": api_key} if api_key else {}
        # The line shows the session's all-time totals: a one-minute window keeps the rest of the report small.
        query = urllib.parse.urlencode({"session": session, "window": "60"})
        connection.request("GET", f"/analytics?{query}", headers=headers)
        answer = connection.getresponse()
        body = answer.read(1024 * 1024)
        connection.close()
        if answer.status != 200:
            return None
        totals = json.loads(body).get("all_time")
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return None
    return totals if isinstance(totals, dict) else None


def line(totals: dict[str, Any]) -> str:
    """e.g. "dario 12.3k in · 4.5k out · cache 87% · $0.42 · 17 req". The cache share is cache reads over every
    input token (reads, writes and the rest, as Anthropic counts them)."""
    read, written = totals.get("cache_read_tokens") or 0, totals.get("cache_write_tokens") or 0
    fresh, output = totals.get("input_tokens") or 0, totals.get("output_tokens") or 0
    prompt = fresh + read + written
    share = f"cache {read / prompt:.0%}" if prompt else "cache —"
    cost = float(totals.get("cost_usd") or 0.0)
    requests = int(totals.get("requests") or 0)
    return (f"dario {_count(fresh + read + written)} in · {_count(output)} out · {share} · "
            f"${cost:,.2f} · {requests:,} req")


def _count(value: int) -> str:
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1000, "k")):
        if value >= size:
            return f"{value / size:.1f}{suffix}"
    return str(value)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

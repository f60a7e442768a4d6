"""Runs one case of the matrix and judges it: the client's exit and output, the tool round trip seen upstream,
what the client sent (from the tap) and what dario did (its x-dario-* headers, statuses, errors)."""

from __future__ import annotations

import collections
import json
import pathlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dario.json_types import JsonObject
from dario.testing.matrix.clients import DRIVERS, NAMES, Case, missing
from dario.testing.matrix.stack import Matrix
from dario.testing.matrix.upstream import Recorded

Check = Callable[[str], str]  # a client's stdout → "" when it finished the task, else why not

API_PATHS = ("/v1/chat/completions", "/v1/messages", "/v1/responses")
# Headers every HTTP client sends; the rest are what makes a client recognisable.
COMMON_HEADERS = {"host", "content-length", "content-type", "accept-encoding", "connection", "accept", "user-agent"}


@dataclass
class Outcome:
    case: Case
    version: str = ""
    passed: bool = False
    skipped: str = ""  # why the case did not run
    reason: str = ""  # why it failed
    tool: str = ""  # the tool call that went through, e.g. "Bash {"command": "echo dario-matrix"}"
    seconds: float = 0.0
    sent: JsonObject = field(default_factory=dict)
    dario: JsonObject = field(default_factory=dict)
    upstream: JsonObject = field(default_factory=dict)
    output: str = ""

    @property
    def result(self) -> str:
        if self.skipped:
            return f"not run: {self.skipped}"
        return "pass" if self.passed else f"FAIL: {self.reason}"


def run_case(case: Case, matrix: Matrix, folder: pathlib.Path, version: str = "", timeout: float = 300.0) -> Outcome:
    """Points the client at dario (through the tap), runs it to the end (bounded), and judges what happened."""
    outcome = Outcome(case, version)
    why_not = missing(case.client)
    if why_not:
        outcome.skipped = why_not
        return outcome
    folder.mkdir(parents=True, exist_ok=True)
    matrix.use_backend(case.backend)
    invocation = DRIVERS[case.client](case, matrix.url, folder)
    started = time.monotonic()
    try:
        completed = subprocess.run(invocation.argv, env=invocation.env, cwd=invocation.cwd, capture_output=True,
                                   text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        stdout, stderr, code = completed.stdout, completed.stderr, completed.returncode
    except subprocess.TimeoutExpired as expired:  # subprocess.run kills the client
        stdout, stderr, code = _text(expired.stdout), _text(expired.stderr), None
    outcome.seconds = time.monotonic() - started
    outcome.output = f"exit {code}\n--- stdout\n{stdout[-4000:]}\n--- stderr\n{stderr[-4000:]}"
    outcome.sent, outcome.dario = summarize_sent(matrix), summarize_dario(matrix)
    outcome.upstream = summarize_upstream(matrix.upstream.requests)
    outcome.tool = outcome.upstream.get("tool_call", "")
    (folder / "exchanges.json").write_text(json.dumps([exchange.to_json() for exchange in matrix.tap.exchanges],
                                                      indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    (folder / "upstream.json").write_text(json.dumps([request.__dict__ for request in matrix.upstream.requests],
                                                     indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    (folder / "output.txt").write_text(outcome.output, encoding="utf-8")
    outcome.reason = judge(case, code, stdout, stderr, invocation.check, outcome, matrix)
    outcome.passed = not outcome.reason
    return outcome


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or ""


def judge(case: Case, code: int | None, stdout: str, stderr: str, check: Check, outcome: Outcome,
          matrix: Matrix) -> str:
    """"" when the client finished the task through dario; otherwise what went wrong, dario's error first."""
    problem = _client_problem(case, code, stdout, stderr, check, outcome)
    failed = [exchange for exchange in matrix.tap.exchanges if exchange.status >= 400]
    if problem and failed:
        first = failed[0]
        return (f"dario answered {first.status} to {first.method} {first.path}: {first.response_text[:300]}"
                f" (the client: {problem[:200]})")
    return problem


def _client_problem(case: Case, code: int | None, stdout: str, stderr: str, check: Check, outcome: Outcome) -> str:
    if code is None:
        return "the client did not finish within the time limit"
    if code != 0:
        tail = (stderr.strip() or stdout.strip())[-400:]
        return f"the client exited {code}: {tail}"
    problem = check(stdout)
    if problem:
        return problem
    if case.client == "aider":  # aider edits with its own text formats, not tool calls
        return ""
    if not outcome.upstream.get("tool_call"):
        return "the upstream never got to call a tool (no tools reached it?)"
    if not outcome.upstream.get("tool_result_seen"):
        return "the tool's output (dario-matrix) never came back upstream as a tool result"
    return ""


def summarize_sent(matrix: Matrix) -> JsonObject:
    """What the client sent dario: endpoints, recognisable headers, the request fields and tools."""
    endpoints: collections.Counter[str] = collections.Counter()
    headers: dict[str, str] = {}
    fields: set[str] = set()
    tools: dict[str, str] = {}
    items: set[str] = set()
    for exchange in matrix.tap.exchanges:
        endpoints[f"{exchange.method} {exchange.path}" + (f"?{exchange.query}" if exchange.query else "")] += 1
        for name, value in exchange.request_headers.items():
            if name not in COMMON_HEADERS or name == "user-agent":
                headers.setdefault(name, value)
        body = exchange.request_body
        if exchange.path in API_PATHS and isinstance(body, dict):
            fields |= set(body)
            for tool in body.get("tools") or []:
                if isinstance(tool, dict):
                    name = tool.get("name") or (tool.get("function") or {}).get("name") or tool.get("type", "?")
                    tools.setdefault(str(name), str(tool.get("type", "client" if "input_schema" in tool else "?")))
            for item in body.get("input") or [] if isinstance(body.get("input"), list) else []:
                if isinstance(item, dict):
                    items.add(str(item.get("type") or f"message:{item.get('role')}"))
                    for tool in item.get("tools") or []:  # Codex's `additional_tools` item carries the tools
                        if isinstance(tool, dict):
                            tools.setdefault(str(tool.get("name")), f"{tool.get('type')} in {item.get('type')}")
    return {"endpoints": dict(endpoints), "headers": headers, "fields": sorted(fields), "tools": tools,
            "input_items": sorted(items)}


def summarize_dario(matrix: Matrix) -> JsonObject:
    """What dario did: its translation headers, the dropped fields, the statuses and any error bodies."""
    translations: set[str] = set()
    dropped: set[str] = set()
    statuses: collections.Counter[str] = collections.Counter()
    errors: list[str] = []
    for exchange in matrix.tap.exchanges:
        headers = exchange.response_headers
        statuses[str(exchange.status)] += 1
        if "x-dario-translation" in headers:
            translations.add(headers["x-dario-translation"])
        for name in filter(None, headers.get("x-dario-translation-dropped", "").split(",")):
            dropped.add(name.strip())
        if exchange.status >= 400:
            errors.append(f"{exchange.status} {exchange.method} {exchange.path}: {exchange.response_text[:400]}")
        elif b'"type":"error"' in exchange.response_body or b"response.failed" in exchange.response_body:
            errors.append(f"in-stream error on {exchange.path}: {_error_event(exchange.response_text)}")
    events = list(dict.fromkeys(filter(None, (event_sequence(exchange.response_text)
                                              for exchange in matrix.tap.exchanges))))
    return {"translation": sorted(translations), "dropped": sorted(dropped), "statuses": dict(statuses),
            "errors": errors, "events": events}


def event_sequence(text: str) -> str:
    """The `event:` names of an SSE body with repeats folded (a > b×3 > c); "" for bodies without them."""
    folded: list[tuple[str, int]] = []
    for line in text.splitlines():
        if line.startswith("event:"):
            name = line[6:].strip()
            if folded and folded[-1][0] == name:
                folded[-1] = (name, folded[-1][1] + 1)
            else:
                folded.append((name, 1))
    return " > ".join(name if count == 1 else f"{name}×{count}" for name, count in folded)


def _error_event(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("data:") and ('"error"' in line or "response.failed" in line):
            return line[5:].strip()[:400]
    return text[:200]


def summarize_upstream(requests: list[Recorded]) -> JsonObject:
    """What reached the scripted upstream: paths and fields, the tool it called, whether the result came back."""
    paths: collections.Counter[str] = collections.Counter(request.path for request in requests)
    fields = sorted({key for request in requests for key in request.body})
    tool_call = next((request.answer[len("tool_call "):] for request in requests
                      if request.answer.startswith("tool_call")), "")
    seen = any("dario-matrix" in tool_result_text(request) for request in requests)
    return {"paths": dict(paths), "fields": fields, "tool_call": tool_call, "tool_result_seen": seen}


def tool_result_text(request: Recorded) -> str:
    """The text of the tool results in the last message of a recorded request, in either format."""
    messages = request.body.get("messages") or []
    texts = []
    for message in messages[-4:]:  # OpenAI: one `tool` message per result at the end; Anthropic: the last user turn
        if not isinstance(message, dict):
            continue
        if message.get("role") == "tool":
            texts.append(json.dumps(message.get("content")))
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            texts += [json.dumps(block.get("content")) for block in content
                      if isinstance(block, dict) and block.get("type") == "tool_result"]
    return " ".join(texts)


def client_name(case: Case) -> str:
    return NAMES[case.client]

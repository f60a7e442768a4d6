"""The measured matrix as markdown: one table row per case, then the details of what each client sent."""

from __future__ import annotations

import datetime
import pathlib
import re

from dario.testing.matrix.report import Outcome, client_name

BEGIN, END = "<!-- matrix:begin (written by python -m matrix) -->", "<!-- matrix:end -->"
HEADER = ("| client | version | API it speaks | backend format | streaming | tool call | result | what it sends "
          "| what dario did |\n|---|---|---|---|---|---|---|---|---|")
SHOWN_HEADERS = ("anthropic-beta", "anthropic-version", "openai-beta", "originator", "x-app", "x-stainless-lang")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _endpoints(sent: dict) -> str:
    return ", ".join(f"`{endpoint}` ×{count}" for endpoint, count in sent.get("endpoints", {}).items())


def _tools(sent: dict, limit: int = 6) -> str:
    tools = sent.get("tools", {})
    if not tools:
        return "no tools"
    kinds = sorted(set(tools.values()))
    names = list(tools)
    shown = ", ".join(names[:limit]) + (", …" if len(names) > limit else "")
    return f"{len(tools)} tools ({shown}; types {', '.join(kinds)})"


def sends(outcome: Outcome) -> str:
    sent = outcome.sent
    if not sent:
        return ""
    headers = sent.get("headers", {})
    agent = headers.get("user-agent", "")
    notable = [f"`{name}: {headers[name]}`" for name in SHOWN_HEADERS if name in headers and name != "anthropic-beta"]
    if "anthropic-beta" in headers:
        notable.insert(0, f"`anthropic-beta` ({len(headers['anthropic-beta'].split(','))} betas)")
    parts = [_endpoints(sent), f"UA `{agent[:60]}`" if agent else "", "; ".join(notable), _tools(sent),
             "fields: " + ", ".join(f"`{name}`" for name in sent.get("fields", []))]
    return "<br>".join(part for part in parts if part)


def did(outcome: Outcome) -> str:
    dario = outcome.dario
    if not dario:
        return ""
    translation = ", ".join(dario.get("translation") or []) or "no translation header"
    parts = [translation]
    if dario.get("dropped"):
        parts.append("dropped (header): " + ", ".join(f"`{name}`" for name in dario["dropped"]))
    parts.append("statuses " + ", ".join(f"{status}×{count}" for status, count in dario.get("statuses", {}).items()))
    upstream = outcome.upstream.get("paths", {})
    if upstream:
        parts.append("upstream got " + ", ".join(f"`{path}` ×{count}" for path, count in upstream.items()))
    return "<br>".join(parts)


def tool_column(outcome: Outcome) -> str:
    if outcome.skipped:
        return ""
    if outcome.case.client == "aider":
        return "none: edits in aider's *whole* format (file rewritten)"
    if not outcome.tool:
        return "none reached the upstream"
    back = "result came back" if outcome.upstream.get("tool_result_seen") else "result did NOT come back"
    return f"`{outcome.tool[:80]}`, {back}"


def short(result: str, limit: int = 240) -> str:
    """The table's result cell: dario's answer, without the client's own traceback (that is in the details)."""
    result = result.split(" (the client: ")[0]
    return result if len(result) <= limit else result[: limit - 1] + "…"


def row(outcome: Outcome) -> str:
    case = outcome.case
    api = case.api + (" (`OpenAIChatCompletionsModel`)" if case.variant == "chat" else "")
    if case.client == "codex":
        model, _, settings = case.variant.partition("+")
        api += f" (model `{model or 'default'}`" + (f", {settings} config" if settings else "") + ")"
    values = [client_name(case), outcome.version or "not installed", api, case.backend,
              "yes" if case.stream else "no", tool_column(outcome), short(outcome.result), sends(outcome), did(outcome)]
    return "| " + " | ".join(cell(value) for value in values) + " |"


def details(outcome: Outcome) -> str:
    if outcome.skipped or not outcome.sent:
        return ""
    sent, dario = outcome.sent, outcome.dario
    lines = [f"#### `{outcome.case.id}` — {client_name(outcome.case)}, {outcome.case.api}, "
             f"{outcome.case.backend} backend ({outcome.seconds:.1f} s)", ""]
    lines.append("- result: " + " ".join(outcome.result[:800].split()))
    lines.append("- endpoints: " + _endpoints(sent))
    lines.append("- headers: " + ", ".join(f"`{name}: {value[:120]}`" for name, value in sent["headers"].items()))
    lines.append("- request fields: " + ", ".join(f"`{name}`" for name in sent["fields"]))
    if sent.get("input_items"):
        lines.append("- Responses input items: " + ", ".join(f"`{item}`" for item in sent["input_items"]))
    if sent.get("tools"):
        lines.append("- tools: " + ", ".join(f"`{name}` ({kind})" for name, kind in sent["tools"].items()))
    lines.append("- dario: " + did(outcome).replace("<br>", "; "))
    lines.append("- fields dario sent upstream: " + ", ".join(f"`{name}`" for name in outcome.upstream["fields"]))
    for sequence in dario.get("events", []):
        lines.append(f"- stream events dario sent: {sequence}")
    for error in dario.get("errors", [])[:3]:
        lines.append(f"- error: `{error[:400]}`")
    return "\n".join(lines) + "\n"


def render(outcomes: list[Outcome]) -> str:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    passed = sum(outcome.passed for outcome in outcomes)
    ran = sum(not outcome.skipped for outcome in outcomes)
    body = [BEGIN, "", f"Measured {stamp} by `python -m matrix`: {passed} of {ran} run cases passed "
            f"({len(outcomes) - ran} not run).", "", HEADER, *[row(outcome) for outcome in outcomes], "",
            "### What each client sent, in detail", ""]
    body += [text for text in (details(outcome) for outcome in outcomes) if text]
    return "\n".join(body) + "\n" + END + "\n"


def write(document: pathlib.Path, outcomes: list[Outcome], template: str) -> None:
    """Replaces the measured part of the document (between the markers), or writes the template with it."""
    measured = render(outcomes)
    text = document.read_text(encoding="utf-8") if document.exists() else template
    if BEGIN in text and END in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", lambda _: measured, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + measured
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_text(text, encoding="utf-8")

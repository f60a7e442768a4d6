"""Who sent a request: client, session, project and tags read from the headers and body the real clients send."""

from __future__ import annotations

import json

import hypothesis
import pytest
from multidict import CIMultiDict

from frontend import attribution
from frontend.attribution import Attribution, attribute, clean, client_of

SESSION = "3f1c2a9e-8b7d-4c6e-9f10-2a3b4c5d6e7f"
# The user agents as each client sends them (captured shapes, versions vary).
USER_AGENTS = [
    ("claude-cli/2.0.14 (external, cli)", "claude-code"),
    ("claude-code/2.1.45", "claude-code"),
    ("codex_cli_rs/0.38.0 (Ubuntu 24.04.2 LTS; x86_64) WindowsTerminal", "codex"),
    ("codex_exec/0.45.0 (Mac OS 14.5.0; arm64) dumb", "codex"),
    ("codex_vscode/0.40.0 (Windows 11; x86_64) vscode/1.99", "codex"),
    ("aider/0.86.1", "aider"),
    ("llm/0.27", "llm"),
    ("opencode/1.14.28 ai-sdk/provider-utils/3.0.9 runtime/bun/1.2.21", "opencode"),
    ("OpenAI/Python 1.109.1", "openai-python"),
    ("Anthropic/Python 0.69.0", "anthropic-python"),
    ("OpenAI/JS 5.23.2", "openai-node"),
    ("Anthropic/JS 0.65.0", "anthropic-node"),
    ("curl/8.5.0", "curl"),
    ("python-httpx/0.28.1", "python-httpx"),
    ("Python/3.12 aiohttp/3.14.0", "aiohttp"),
    ("python-requests/2.32.3", "python-requests"),
    ("Go-http-client/1.1", "go-http-client"),
    ("MyAgent/3.1 (+https://example.org)", "myagent"),
    ("", ""),
]


def headers(**values: str) -> CIMultiDict[str]:
    return CIMultiDict({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(("user_agent", "client"), USER_AGENTS)
def test_each_clients_user_agent_names_it(user_agent: str, client: str) -> None:
    assert client_of(headers(user_agent=user_agent)) == client


def test_an_sdk_user_agent_with_claude_codes_session_header_is_claude_code() -> None:
    found = headers(user_agent="Anthropic/JS 0.65.0", x_claude_code_session_id=SESSION)
    assert client_of(found) == "claude-code"


def test_codex_is_known_by_its_originator_header_too() -> None:
    assert client_of(headers(user_agent="reqwest/0.12", originator="codex_cli_rs")) == "codex"


def test_aider_is_known_by_its_openrouter_title_behind_the_openai_sdk() -> None:
    assert client_of(headers(user_agent="OpenAI/Python 1.109.1", x_title="Aider")) == "aider"


def test_claude_codes_legacy_user_id_gives_the_session() -> None:
    document = {"metadata": {"user_id": f"user_{'ab' * 32}_account_{SESSION}_session_{SESSION}"}}
    assert attribute(headers(user_agent="claude-cli/1.0.83 (external, cli)"), document).session == SESSION


def test_claude_codes_json_user_id_gives_the_session() -> None:
    user_id = json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": SESSION})
    assert attribute(headers(), {"metadata": {"user_id": user_id}}).session == SESSION


def test_claude_codes_session_header_wins_over_nothing() -> None:
    assert attribute(headers(x_claude_code_session_id=SESSION)).session == SESSION


def test_codex_session_headers() -> None:
    # Codex names them with underscores, as sent.
    for name in ("session_id", "conversation_id", "session-id"):
        assert attribute(CIMultiDict({name: SESSION})).session == SESSION


def test_an_explicit_dario_session_wins_over_the_clients_own() -> None:
    found = attribute(headers(x_dario_session="review-42", x_claude_code_session_id=SESSION))
    assert found.session == "review-42"


def test_project_from_the_explicit_header() -> None:
    assert attribute(headers(x_dario_project="dario")).project == "dario"


def test_project_from_claude_codes_working_directory_is_its_last_folder() -> None:
    system = [{"type": "text", "text": "You are Claude Code."},
              {"type": "text",
               "text": "<env>\nWorking directory: /home/ann/src/shop-api\nIs directory a git repo: Yes"}]
    assert attribute(headers(), {"system": system}).project == "shop-api"


def test_project_from_codex_environment_context() -> None:
    document = {"input": [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "<environment_context>\n  <cwd>/Users/bo/work/billing</cwd>\n"}]}]}
    assert attribute(headers(), document).project == "billing"


def test_explicit_project_wins_over_the_working_directory() -> None:
    document = {"system": "Working directory: /home/ann/src/shop-api\n"}
    assert attribute(headers(x_dario_project="shop"), document).project == "shop"


def test_opencodes_project_header() -> None:
    assert attribute(headers(x_opencode_project="notes")).project == "notes"


def test_tags_are_trimmed_deduplicated_and_comma_joined() -> None:
    assert attribute(headers(x_dario_tags=" ci, nightly ,,ci, Review ")).tags == "ci,nightly,Review"


def test_nothing_known_is_empty() -> None:
    assert attribute(headers()) == Attribution("", "", "", "")


def test_control_bytes_and_escape_sequences_are_removed() -> None:
    assert clean("a\x00b\x1b[31mc\r\nd\u202ee", 64) == "ab[31mcde"


def test_huge_values_are_bounded() -> None:
    found = attribute(headers(x_dario_session="s" * 100_000, x_dario_project="p" * 100_000,
                              x_dario_tags=",".join(f"t{index}" for index in range(10_000)),
                              user_agent="x" * 100_000))
    assert len(found.session) <= attribution.SESSION_CHARS
    assert len(found.project) <= attribution.PROJECT_CHARS
    assert len(found.tags) <= attribution.TAGS_CHARS
    assert len(found.client) <= attribution.CLIENT_CHARS


def test_markup_is_kept_as_text_for_the_viewer_to_escape() -> None:
    assert attribute(headers(x_dario_project="<script>alert(1)</script>")).project == "<script>alert(1)</script>"


@pytest.mark.parametrize("secret", ["sk-ant-api03-abcdefghijklmnop", "Bearer abcdefghijklmnop1234",
                                    "sk-proj-1234567890abcdef"])
def test_a_key_sent_as_a_name_is_never_recorded(secret: str) -> None:
    found = attribute(headers(x_dario_session=secret, x_dario_project=secret, x_dario_tags=secret))
    for value in (found.session, found.project, found.tags):
        assert "abcdefghijklmnop" not in value and "1234567890abcdef" not in value


def test_odd_bodies_are_ignored() -> None:
    for document in ({"metadata": "x"}, {"metadata": {"user_id": 7}}, {"system": 3}, {"input": "text"},
                     {"messages": [None, 3]}, {"metadata": {"user_id": "{not json"}}):
        assert attribute(headers(), document).session == ""


@hypothesis.given(hypothesis.strategies.lists(hypothesis.strategies.sampled_from(
    ["Working directory: /a/b", "working directory:\t/c", "orking directory /x", "<cwd>/d/e</cwd>", "<cwd>", "W",
     "w", "\n", "<", " ", "text ", "directory", "Working directory", ":"]), max_size=12))
def test_the_working_directory_search_finds_what_the_plain_expression_finds(parts: list[str]) -> None:
    """_first_mark only skips where the expression cannot start: the same first match as searching everything."""
    text = "".join(parts)
    expected = attribution._WORKING_DIRECTORY.search(text)
    assert attribution.working_directory({"system": text}) == (expected[1].strip() if expected else "")

